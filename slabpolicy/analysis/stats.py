"""The statistics behind ``slabpolicy compare``: pure functions over per-seed values.

A simulation is deterministic given its seed, so the spread between seeds is the
only noise there is, and comparing two policies is comparing two *paired* samples:
seed ``s`` of policy A and seed ``s`` of policy B run the same arrival stream.
Everything here therefore works on plain sequences of floats, one per seed, and
returns frozen dataclasses; nothing reads result documents (that is
:mod:`slabpolicy.analysis.report`).

The rule throughout is that a number never claims more than the seeds show:

* :func:`summarize` - mean, sample sd, Student-t confidence interval of the mean
  (cut to the metric's bounds: a count's interval never goes below 0) and median.
* :func:`paired` - one policy against the baseline, paired by seed.  A
  difference that is the same in every seed (zero spread, or the same ratio in
  every seed) is *exact*: it is reported as such and never tested.  Otherwise
  the relative difference of the means gets Fieller's interval, which agrees
  with the paired t-test and is cut at the metric's bounds, and a
  paired t-test, a Wilcoxon signed-rank test and Cohen's d_z are given only
  where the number of pairs allows the test to say anything.
* :func:`holm` - Holm-Bonferroni step-down adjustment of a family of p-values, so
  that a table of many comparisons does not "find" differences by chance.
* :func:`seeds_needed` - how many seeds a paired t-test needs to detect an
  effect of the size seen, at a given level and power (noncentral t).

Degenerate inputs (one value, identical values, zero baseline) never raise and
never let a numpy/scipy ``RuntimeWarning`` escape; they give ``nan`` (undefined)
as each docstring says.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _st

NAN = float("nan")

#: Fewest pairs for which the paired t-test is run.  With 2 pairs the test has one
#: degree of freedom and its one sd is a single difference: no evidence worth a p.
MIN_N_TEST = 3
#: Power asked of :func:`seeds_needed` (the conventional 80 %).
POWER = 0.8
#: :func:`seeds_needed` gives up above this many seeds.
MAX_SEEDS_NEEDED = 1000

#: How a relative difference's interval was computed (:attr:`Paired.rel_method`).
REL_FIELLER = "fieller"
REL_SCALED = "scaled"
#: What is exact about a difference (:attr:`Paired.exact`).
EXACT_ABS = "abs"
EXACT_REL = "rel"


def wilcoxon_min_p(n: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give
    on ``n`` pairs: all differences of one sign, ``2 / 2**n`` (0.0625 for n = 5)."""
    return 2.0 / 2.0 ** n if n >= 1 else 1.0


def wilcoxon_min_n(alpha: float) -> int:
    """Fewest pairs for which the Wilcoxon signed-rank test can reach ``p < alpha``
    (6 for alpha = 0.05: 2 / 64 = 0.031)."""
    n = 1
    while wilcoxon_min_p(n) >= alpha:
        n += 1
    return n


@dataclass(frozen=True)
class Summary:
    """One sample (one value per seed): size, mean, sample sd, CI of the mean, median.

    ``clipped`` says that the Student-t interval reached past a bound of the
    metric (below 0 for a count) and was cut there.
    """

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    median: float
    clipped: bool = False


@dataclass(frozen=True)
class Paired:
    """One sample against a baseline sample, paired by seed.

    ``baseline_mean`` and ``mean`` are the means of the two samples; ``diff`` is
    the mean of the per-seed differences (other - baseline), ``diff_sd`` their
    sd and ``diff_ci_low``/``diff_ci_high`` its Student-t CI.  ``rel_diff`` and
    its CI are fractions of ``|baseline_mean|`` (0.1 is +10 %), computed as
    ``rel_method`` says.  ``exact`` is ``"abs"`` when every seed has the same
    difference, ``"rel"`` when every seed has the same ratio, else ``""``; an
    exact difference is not tested.  ``t_p`` and ``wilcoxon_p`` are two-sided
    p-values (unadjusted), ``nan`` where the test was not run; ``effect_size``
    is Cohen's d_z of the differences.
    """

    n: int
    baseline_mean: float
    mean: float
    diff: float
    diff_sd: float
    diff_ci_low: float
    diff_ci_high: float
    rel_diff: float
    rel_ci_low: float
    rel_ci_high: float
    rel_method: str
    exact: str
    t_p: float
    wilcoxon_p: float
    effect_size: float


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


def _t_quantile(n: int, confidence: float) -> float:
    """t_{(1+c)/2, n-1}: the multiplier of a two-sided Student-t interval on n values."""
    return float(_st.t.ppf(0.5 + confidence / 2.0, n - 1))


def _t_half_width(sd: float, n: int, confidence: float) -> float:
    """Half-width of the two-sided Student-t CI of a mean: t_{(1+c)/2, n-1} * sd / sqrt(n).

    ``nan`` for n < 2 (no degrees of freedom); exactly 0 when sd is 0, so that the
    interval of identical values collapses onto the mean without scipy ever being
    asked for a zero-scale interval (which would warn and give nan).
    """
    if n < 2 or math.isnan(sd):
        return NAN
    if sd == 0.0:
        return 0.0
    return _t_quantile(n, confidence) * sd / math.sqrt(n)


def _mean_sd(x: np.ndarray) -> tuple[float, float]:
    """Mean and sample sd (ddof=1) of ``x``; identical values give exactly (value, 0.0).

    The identical case is taken apart because floating-point rounding can make
    ``np.mean([0.1] * 3)`` differ from 0.1 in the last bit and the sd a tiny
    positive number instead of 0.  sd is ``nan`` for fewer than 2 values.
    """
    n = x.size
    if n == 0:
        return NAN, NAN
    if np.all(x == x[0]):
        return float(x[0]), (0.0 if n >= 2 else NAN)
    with np.errstate(all="ignore"):
        return float(np.mean(x)), (float(np.std(x, ddof=1)) if n >= 2 else NAN)


def _clip(low: float, high: float, lower: float | None, upper: float | None
          ) -> tuple[float, float, bool]:
    """``[low, high]`` cut to ``[lower, upper]`` (``None``: unbounded), and whether it was."""
    clipped = False
    if lower is not None and low < lower:
        low, clipped = lower, True
    if upper is not None and high > upper:
        high, clipped = upper, True
    return low, high, clipped


def summarize(values: Sequence[float], confidence: float = 0.95, *,
              lower: float | None = None, upper: float | None = None) -> Summary:
    """Summarize one sample: n, mean, sample sd (ddof=1), Student-t CI of the mean, median.

    The CI is ``mean +/- t.ppf((1 + confidence) / 2, n - 1) * sd / sqrt(n)``: the
    seeds are few, so the normal approximation would be too narrow.  It is then
    cut to the metric's bounds ``[lower, upper]`` (``None``: none): the true mean
    of a count is not negative, so the part of the interval below 0 holds no
    possible value, and dropping it keeps the coverage (``clipped`` says so).

    Edge cases: ``n == 1`` gives ``sd``, ``ci_low`` and ``ci_high`` ``nan`` (there
    is no spread to estimate); identical values give ``sd == 0`` and a CI that
    collapses to the mean, with no warning from numpy or scipy; an empty sample
    gives ``n == 0`` and every other field ``nan``.  A ``nan`` among the values
    propagates to every field but ``n``.
    """
    _check_confidence(confidence)
    x = np.asarray(values, dtype=float).ravel()
    n = int(x.size)
    if n == 0:
        return Summary(0, NAN, NAN, NAN, NAN, NAN)
    mean, sd = _mean_sd(x)
    half = _t_half_width(sd, n, confidence)
    low, high, clipped = (mean - half, mean + half, False)
    if not math.isnan(half):
        low, high, clipped = _clip(low, high, lower, upper)
    median = float(x[0]) if np.all(x == x[0]) else float(np.median(x))
    return Summary(n=n, mean=mean, sd=sd, ci_low=low, ci_high=high, median=median,
                   clipped=clipped)


def _rel(value: float, base: float) -> float:
    """``value / |base|``; ``nan`` if base is 0 or nan (a relative change from 0 is undefined)."""
    if base == 0.0 or math.isnan(base):
        return NAN
    return value / abs(base)


def _exact(b: np.ndarray, o: np.ndarray, d_sd: float) -> str:
    """``"abs"`` if every pair has the same difference, ``"rel"`` if every pair has
    the same ratio (every baseline value positive), else ``""``; n >= 2 only."""
    if b.size < 2 or math.isnan(d_sd):
        return ""
    if d_sd == 0.0:
        return EXACT_ABS
    if np.all(b > 0.0):
        ratio = o / b
        if np.all(ratio == ratio[0]):
            return EXACT_REL
    return ""


def _fieller_interval(b: np.ndarray, o: np.ndarray, confidence: float
                      ) -> tuple[float, float] | None:
    """Fieller's CI of ``mean(o) / mean(b) - 1`` for paired samples, or ``None`` when
    it is unbounded (the baseline mean itself not clearly away from 0).

    The ratio R of the true means is in the interval exactly when a paired t-test
    of ``o - R * b`` does not reject at ``1 - confidence``:
    ``(m_o - R m_b)^2 <= q (s_o^2 - 2 R s_ob + R^2 s_b^2)`` with ``q = t_{n-1}^2 / n``
    and s_ob the covariance of the pairs, a quadratic in R.  At R = 1 that test
    is the paired t-test of the differences, so the interval leaves out 0 %
    exactly when the paired t-test finds a difference: the Δ interval and the
    significance never disagree, and the baseline's own spread is counted.
    """
    n = b.size
    m_b, m_o = float(np.mean(b)), float(np.mean(o))
    (var_o, cov_ob), (_, var_b) = np.cov(o, b, ddof=1).tolist()
    q = _t_quantile(n, confidence) ** 2 / n
    a = m_b ** 2 - q * var_b
    if a <= 0.0:
        return None
    half_b = m_o * m_b - q * cov_ob
    c = m_o ** 2 - q * var_o
    root = math.sqrt(max(half_b ** 2 - a * c, 0.0))
    return (half_b - root) / a - 1.0, (half_b + root) / a - 1.0


def paired(baseline: Sequence[float], other: Sequence[float], confidence: float = 0.95, *,
           lower: float | None = None, alpha: float | None = None) -> Paired:
    """Compare ``other`` with ``baseline``, the two paired element by element (by seed).

    ``baseline[i]`` and ``other[i]`` must come from the same seed; the caller lines
    them up (the lengths must be equal).  ``lower`` is the metric's lower bound
    (0 for every count, size and time; ``None`` if it has none); ``alpha`` is
    the level at which a test must be able to reach significance to be run
    (default ``1 - confidence``).  With ``d = other - baseline``:

    * ``diff``, ``diff_sd``, ``diff_ci_*``: mean, sd and Student-t CI of ``d``.
    * ``exact``: ``"abs"`` when every d is the same (sd(d) == 0, n >= 2): the
      difference is known exactly for these seeds and no test is run (a t-test
      would say p = 0 and d_z = inf: a claim about noise that is not there).
      ``"rel"`` when every pair has the same ratio ``other / baseline`` (all
      baseline values positive), e.g. a policy that brings a count to 0 in every
      seed: -100 % exactly, again not a test.  ``""`` otherwise.
    * ``rel_diff = (mean(other) - mean(baseline)) / |mean(baseline)|``; ``nan``
      when the baseline mean is 0.  Its CI (``rel_method``): ``"fieller"``,
      Fieller's interval of the ratio of the paired means (see
      :func:`_fieller_interval`), a point when the difference or the ratio is
      exact and the baseline constant; ``"scaled"`` where Fieller's is unbounded
      or the baseline mean is negative: the CI of ``mean(d)`` divided by
      ``|mean(baseline)|``.  Either contains 0 exactly when the paired t-test
      does not reject, and either is cut at -100 % for a non-negative metric
      (``lower >= 0``): a count cannot fall by more than all of it.  ``nan``
      for fewer than 2 pairs.
    * ``t_p``: two-sided paired t-test (``scipy.stats.ttest_rel``), run only on
      at least :data:`MIN_N_TEST` pairs and not for an exact difference.
    * ``wilcoxon_p``: two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``),
      run only when n pairs can reach ``p < alpha`` at all
      (:func:`wilcoxon_min_n`: 6 for 0.05) and the difference is not exact.
    * ``effect_size``: Cohen's d_z = mean(d) / sd(d) (sd with ddof=1), for n >= 2
      pairs and a difference that is not exact (sd(d) = 0 would make it infinite).

    A ``nan`` among the values makes every statistic ``nan``.
    """
    _check_confidence(confidence)
    alpha = 1.0 - confidence if alpha is None else alpha
    b = np.asarray(baseline, dtype=float).ravel()
    o = np.asarray(other, dtype=float).ravel()
    if b.size != o.size:
        raise ValueError(f"paired samples must have the same length (by seed): "
                         f"{b.size} baseline values, {o.size} others")
    n = int(b.size)
    if n == 0:
        return Paired(0, *([NAN] * 9), "", "", NAN, NAN, NAN)
    base_mean, _ = _mean_sd(b)
    other_mean, _ = _mean_sd(o)
    d = o - b
    d_mean, d_sd = _mean_sd(d)
    half = _t_half_width(d_sd, n, confidence)
    undefined = any(math.isnan(v) for v in (base_mean, other_mean, d_mean))
    exact = "" if undefined else _exact(b, o, d_sd)

    rel_diff = _rel(other_mean - base_mean, base_mean)
    rel_low = rel_high = NAN
    method = ""
    if not math.isnan(rel_diff) and n >= 2:
        if exact == EXACT_REL or (exact == EXACT_ABS and np.all(b == b[0])):
            rel_low = rel_high = rel_diff
            method = REL_FIELLER
        else:
            fieller = _fieller_interval(b, o, confidence) if base_mean > 0 else None
            if fieller is not None:
                (rel_low, rel_high), method = fieller, REL_FIELLER
            else:
                rel_low, rel_high = (_rel(d_mean - half, base_mean),
                                     _rel(d_mean + half, base_mean))
                method = REL_SCALED
            if lower is not None and lower >= 0:
                rel_low = max(rel_low, -1.0)

    t_p = w_p = effect = NAN
    if not exact and not undefined and n >= 2:
        effect = d_mean / d_sd
        if n >= MIN_N_TEST:
            with warnings.catch_warnings():
                # Nearly identical differences make scipy warn about precision loss;
                # the p-value it returns is still the right limit (about 0).
                warnings.simplefilter("ignore", RuntimeWarning)
                t_p = float(_st.ttest_rel(o, b).pvalue)
        if n >= wilcoxon_min_n(alpha):
            w_p = _wilcoxon_p(d)
    return Paired(n=n, baseline_mean=base_mean, mean=other_mean, diff=d_mean, diff_sd=d_sd,
                  diff_ci_low=d_mean - half, diff_ci_high=d_mean + half, rel_diff=rel_diff,
                  rel_ci_low=rel_low, rel_ci_high=rel_high, rel_method=method, exact=exact,
                  t_p=t_p, wilcoxon_p=w_p, effect_size=effect)


def _wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the differences ``d`` (not all equal)."""
    if np.all(d == 0.0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            return float(_st.wilcoxon(d).pvalue)
        except ValueError:  # pragma: no cover - scipy versions that refuse tiny samples
            return NAN


def seeds_needed(effect_size: float, alpha: float, power: float = POWER) -> int | None:
    """Fewest pairs for a two-sided paired t-test at level ``alpha`` to detect a
    true effect of Cohen's d_z ``effect_size`` with probability ``power``.

    The power on n pairs is ``P(|T| > t_{1 - alpha/2, n-1})`` with T noncentral t
    on n - 1 degrees of freedom and noncentrality ``d_z * sqrt(n)``.  ``None``
    when the effect is 0 or undefined, or when more than
    :data:`MAX_SEEDS_NEEDED` pairs would be needed.
    """
    if not math.isfinite(effect_size) or effect_size == 0.0:
        return None
    es = abs(effect_size)

    def power_at(n: int) -> float:
        crit = float(_st.t.ppf(1.0 - alpha / 2.0, n - 1))
        nc = es * math.sqrt(n)
        # P(T < -crit) = P(T' > crit) with T' of noncentrality -nc; scipy gives nan
        # for a tail too thin for its series, which is 0 to any precision that matters
        tails = _st.nct.sf(crit, n - 1, [nc, -nc])
        return float(np.nansum(tails))

    if power_at(MAX_SEEDS_NEEDED) < power:
        return None
    low, high = MIN_N_TEST - 1, MAX_SEEDS_NEEDED     # power_at(high) >= power; low is short
    while high - low > 1:                           # the power grows with n: bisect
        mid = (low + high) // 2
        if power_at(mid) >= power:
            high = mid
        else:
            low = mid
    return high


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values, in the order given.

    With the m p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted
    value of p_(i) is ``min(1, max_{j <= i} (m - j + 1) * p_(j))``: the smallest
    p is multiplied by m, the next by m - 1, and so on, and the running maximum
    keeps the adjusted values in the same order as the raw ones.  Rejecting every
    hypothesis whose adjusted p is below alpha controls the family-wise error
    rate at alpha with no assumption about dependence between the tests, which
    suits a table whose metrics come from the same runs.

    ``nan`` entries (a comparison that could not be tested) are passed through as
    ``nan`` and do not count in m.  A p-value outside [0, 1] is a ``ValueError``.
    Ties keep their input order, which does not change the result.
    """
    p = [float(v) for v in pvalues]
    for v in p:
        if not math.isnan(v) and not 0.0 <= v <= 1.0:
            raise ValueError(f"p-values must be in [0, 1], got {v!r}")
    order = sorted((i for i, v in enumerate(p) if not math.isnan(v)), key=lambda i: p[i])
    m = len(order)
    out = [NAN] * len(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
