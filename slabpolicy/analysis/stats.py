"""The statistics behind ``slabpolicy compare``: pure functions over per-seed values.

A simulation is deterministic given its seed, so the spread between seeds is the
only noise there is, and comparing two policies is comparing two *paired* samples:
seed ``s`` of policy A and seed ``s`` of policy B run the same arrival stream.
Everything here therefore works on plain sequences of floats, one per seed, and
returns frozen dataclasses; nothing reads result documents (that is
:mod:`slabpolicy.analysis.report`).

* :func:`summarize` - mean, sample sd, Student-t confidence interval of the mean
  and median of one sample.
* :func:`paired` - one policy against the baseline, paired by seed: relative
  difference of the means with a CI, paired t-test, Wilcoxon signed-rank test and
  Cohen's d_z.
* :func:`holm` - Holm-Bonferroni step-down adjustment of a family of p-values, so
  that a table of many comparisons does not "find" differences by chance.
* :func:`warnings_for` - the warnings pyperf's ``check`` would print for a sample:
  too few values for a test, too few for Wilcoxon to ever be significant, and a
  standard deviation that is large relative to the mean.

Degenerate inputs (one value, identical values, zero baseline) never raise and
never let a numpy/scipy ``RuntimeWarning`` escape; they give ``nan`` (undefined),
or the limit value when there is an obvious one, as each docstring says.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _st

NAN = float("nan")

#: Fewest values for which a test (and a sample standard deviation worth the name)
#: is reported without a warning.
MIN_N_TEST = 3
#: Fewest pairs for which the two-sided exact Wilcoxon signed-rank test can reach
#: p < 0.05 at all: its smallest p-value is 2 / 2**n, i.e. 0.0625 for n = 5 and
#: 0.03125 for n = 6.
MIN_N_WILCOXON = 6
#: A standard deviation above this fraction of |mean| is reported as large spread.
MAX_REL_SD = 0.10


@dataclass(frozen=True)
class Summary:
    """One sample (one value per seed): size, mean, sample sd, CI of the mean, median."""

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    median: float


@dataclass(frozen=True)
class Paired:
    """One sample against a baseline sample, paired by seed.

    ``baseline_mean`` and ``mean`` are the means of the two paired samples;
    ``rel_diff`` and its CI are fractions of ``|baseline_mean|`` (0.1 is +10 %);
    ``t_p`` and ``wilcoxon_p`` are two-sided p-values (unadjusted);
    ``effect_size`` is Cohen's d_z of the differences.
    """

    n: int
    baseline_mean: float
    mean: float
    rel_diff: float
    rel_ci_low: float
    rel_ci_high: float
    t_p: float
    wilcoxon_p: float
    effect_size: float


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


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
    return float(_st.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)


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


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Summarize one sample: n, mean, sample sd (ddof=1), Student-t CI of the mean, median.

    The CI is ``mean +/- t.ppf((1 + confidence) / 2, n - 1) * sd / sqrt(n)``: the
    seeds are few, so the normal approximation would be too narrow.

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
    median = float(x[0]) if np.all(x == x[0]) else float(np.median(x))
    return Summary(n=n, mean=mean, sd=sd, ci_low=mean - half, ci_high=mean + half, median=median)


def _rel(value: float, base: float) -> float:
    """``value / |base|``; ``nan`` if base is 0 or nan (a relative change from 0 is undefined)."""
    if base == 0.0 or math.isnan(base):
        return NAN
    return value / abs(base)


def paired(baseline: Sequence[float], other: Sequence[float], confidence: float = 0.95) -> Paired:
    """Compare ``other`` with ``baseline``, the two paired element by element (by seed).

    ``baseline[i]`` and ``other[i]`` must come from the same seed; the caller lines
    them up (the lengths must be equal).  With ``d = other - baseline``:

    * ``rel_diff = (mean(other) - mean(baseline)) / |mean(baseline)|``; ``nan``
      when the baseline mean is 0 (or there are no pairs).
    * ``rel_ci_low``/``rel_ci_high``: the Student-t CI of ``mean(d)`` (at
      ``confidence``) divided by ``|mean(baseline)|``.  The baseline mean is
      treated as a fixed constant: its own uncertainty is *not* propagated, so
      this interval is somewhat narrower than a ratio-of-means interval would be
      (Fieller's), most so when the baseline's spread is large.  ``nan`` for
      fewer than 2 pairs or a zero baseline mean.
    * ``t_p``: two-sided paired t-test (``scipy.stats.ttest_rel``).  When every
      difference is the same (sd(d) == 0) the test statistic is 0/0 or +/-inf,
      and the limits are returned instead of scipy's nan and warning: 1.0 if all
      differences are 0 (no difference at all), 0.0 if they are all the same
      non-zero shift.  ``nan`` for fewer than 2 pairs.
    * ``wilcoxon_p``: two-sided Wilcoxon signed-rank test
      (``scipy.stats.wilcoxon``, default ``zero_method="wilcox"``: zero
      differences are dropped).  All differences zero gives 1.0; fewer than 2
      pairs gives ``nan`` (with n pairs its p-value can never go below 2 / 2**n:
      see :data:`MIN_N_WILCOXON`).
    * ``effect_size``: Cohen's d_z = mean(d) / sd(d) (sd with ddof=1).  When
      sd(d) == 0 it is 0.0 if mean(d) == 0 (no effect) and +/-inf otherwise (a
      shift with no spread at all); ``nan`` for fewer than 2 pairs.

    A ``nan`` among the values makes every statistic ``nan``.
    """
    _check_confidence(confidence)
    b = np.asarray(baseline, dtype=float).ravel()
    o = np.asarray(other, dtype=float).ravel()
    if b.size != o.size:
        raise ValueError(f"paired samples must have the same length (by seed): "
                         f"{b.size} baseline values, {o.size} others")
    n = int(b.size)
    if n == 0:
        return Paired(0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN)
    base_mean, _ = _mean_sd(b)
    other_mean, _ = _mean_sd(o)
    d = o - b
    d_mean, d_sd = _mean_sd(d)
    rel_diff = _rel(other_mean - base_mean, base_mean)
    half = _t_half_width(d_sd, n, confidence)
    rel_low = _rel(d_mean - half, base_mean)
    rel_high = _rel(d_mean + half, base_mean)

    if n < 2 or math.isnan(d_sd):
        t_p = w_p = effect = NAN
    elif d_sd == 0.0:
        # Every difference is the same: sd(d) is exactly 0.
        if d_mean == 0.0:
            t_p, w_p, effect = 1.0, 1.0, 0.0
        else:
            t_p = 0.0
            w_p = _wilcoxon_p(d)
            effect = math.copysign(math.inf, d_mean)
    else:
        with warnings.catch_warnings():
            # Nearly identical differences make scipy warn about precision loss;
            # the p-value it returns is still the right limit (about 0).
            warnings.simplefilter("ignore", RuntimeWarning)
            t_p = float(_st.ttest_rel(o, b).pvalue)
        w_p = _wilcoxon_p(d)
        effect = d_mean / d_sd
    return Paired(n=n, baseline_mean=base_mean, mean=other_mean, rel_diff=rel_diff,
                  rel_ci_low=rel_low, rel_ci_high=rel_high, t_p=t_p, wilcoxon_p=w_p,
                  effect_size=effect)


def _wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the differences ``d`` (n >= 2)."""
    if np.all(d == 0.0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            return float(_st.wilcoxon(d).pvalue)
        except ValueError:  # pragma: no cover - scipy versions that refuse tiny samples
            return NAN


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


def warnings_for(summary: Summary, name: str) -> list[str]:
    """What pyperf's ``check`` would warn about for one sample, each line naming ``name``.

    * n < :data:`MIN_N_TEST` (3): too few values for a test (with n == 2 the
      t-test has one degree of freedom, with n == 1 none).
    * n < :data:`MIN_N_WILCOXON` (6): the two-sided Wilcoxon signed-rank test
      cannot reach p < 0.05 at all, whatever the data.
    * sd > :data:`MAX_REL_SD` (10 %) of |mean|: the seeds disagree a lot, so the
      mean is uncertain (also when the mean is 0 and the sd is not).
    """
    out: list[str] = []
    n = summary.n
    if n < MIN_N_TEST:
        out.append(f"{name}: n={n} is too small for a test (need at least {MIN_N_TEST})")
    elif n < MIN_N_WILCOXON:
        out.append(f"{name}: n={n} is too small for the Wilcoxon test to reach p < 0.05 "
                   f"(need at least {MIN_N_WILCOXON})")
    sd, mean = summary.sd, summary.mean
    if not (math.isnan(sd) or math.isnan(mean)) and sd > 0.0:
        if mean == 0.0:
            out.append(f"{name}: the standard deviation ({sd:.3g}) is large: the mean is 0")
        elif sd / abs(mean) > MAX_REL_SD:
            out.append(f"{name}: the standard deviation is {100.0 * sd / abs(mean):.1f}% of "
                       f"the mean (sd {sd:.3g}, mean {mean:.3g})")
    return out
