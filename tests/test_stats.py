"""slabpolicy.analysis.stats: every figure checked against scipy itself or worked by hand.

Degenerate samples (one value, identical values, a zero baseline) must give the
documented values and let no RuntimeWarning escape, so those tests turn warnings
into errors.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from slabpolicy.analysis.stats import (MIN_N_TEST, Paired, Summary, holm, paired, seeds_needed,
                                       summarize, wilcoxon_min_n, wilcoxon_min_p)

DATA = [3.1, 2.9, 3.4, 3.0, 3.3, 3.6, 2.8]
BASE = [10.0, 12.0, 9.5, 11.0, 10.5, 13.0, 9.0, 10.2]
OTHER = [10.8, 12.1, 10.9, 11.2, 11.9, 13.4, 9.1, 10.0]


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------ summarize

@pytest.mark.parametrize("confidence", [0.95, 0.90, 0.99])
def test_summarize_matches_scipy_t_interval(confidence):
    s = summarize(DATA, confidence)
    x = np.array(DATA)
    low, high = sst.t.interval(confidence, df=len(x) - 1, loc=x.mean(), scale=sst.sem(x))
    assert s.n == len(DATA)
    assert s.mean == pytest.approx(x.mean(), rel=1e-12)
    assert s.sd == pytest.approx(x.std(ddof=1), rel=1e-12)
    assert s.ci_low == pytest.approx(low, rel=1e-12)
    assert s.ci_high == pytest.approx(high, rel=1e-12)
    assert s.median == 3.1


def test_summarize_by_hand():
    # [2, 4, 6, 8]: mean 5, sd sqrt(20/3), half-width t(0.975, 3) * sd / 2.
    s = summarize([2, 4, 6, 8])
    sd = math.sqrt(20 / 3)
    half = 3.182446305284263 * sd / 2
    assert (s.n, s.mean, s.median) == (4, 5.0, 5.0)
    assert s.sd == pytest.approx(sd, rel=1e-12)
    assert (s.ci_low, s.ci_high) == (pytest.approx(5 - half, rel=1e-9),
                                     pytest.approx(5 + half, rel=1e-9))


def test_summarize_single_value_has_no_spread(no_warnings):
    s = summarize([7.5])
    assert (s.n, s.mean, s.median) == (1, 7.5, 7.5)
    assert math.isnan(s.sd) and math.isnan(s.ci_low) and math.isnan(s.ci_high)


@pytest.mark.parametrize("value", [0.1, 0.0, -3.0, 1e12])
def test_summarize_identical_values_collapse_to_the_mean(no_warnings, value):
    s = summarize([value] * 5)
    assert s == Summary(5, value, 0.0, value, value, value)


def test_summarize_empty_and_bad_confidence(no_warnings):
    s = summarize([])
    assert s.n == 0 and all(math.isnan(v) for v in (s.mean, s.sd, s.ci_low, s.ci_high, s.median))
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError):
            summarize(DATA, bad)


def test_summary_is_frozen():
    with pytest.raises(Exception):
        summarize(DATA).mean = 0  # type: ignore[misc]


# ------------------------------------------------------------------ paired

def test_paired_matches_scipy():
    p = paired(BASE, OTHER)
    b, o = np.array(BASE), np.array(OTHER)
    d = o - b
    low, high = sst.t.interval(0.95, df=len(d) - 1, loc=d.mean(), scale=sst.sem(d))
    assert p.n == len(BASE)
    assert p.baseline_mean == pytest.approx(b.mean())
    assert p.mean == pytest.approx(o.mean())
    assert p.rel_diff == pytest.approx((o.mean() - b.mean()) / abs(b.mean()))
    assert p.t_p == pytest.approx(sst.ttest_rel(o, b).pvalue, rel=1e-12)
    assert p.wilcoxon_p == pytest.approx(sst.wilcoxon(d).pvalue, rel=1e-12)
    assert p.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert p.rel_ci_low < p.rel_diff < p.rel_ci_high
    assert (p.rel_method, p.exact) == ("fieller", "")
    assert (p.diff_ci_low, p.diff_ci_high) == (pytest.approx(low), pytest.approx(high))


def test_paired_is_symmetric_in_sign():
    forward, backward = paired(BASE, OTHER), paired(OTHER, BASE)
    assert forward.t_p == pytest.approx(backward.t_p)
    assert forward.wilcoxon_p == pytest.approx(backward.wilcoxon_p)
    assert forward.effect_size == pytest.approx(-backward.effect_size)


def test_paired_uses_the_pairing():
    # A large seed effect shared by both samples: paired, the +1 shift is plain;
    # unpaired (Welch) it is lost in the seed-to-seed spread.
    seed_effect = [0, 50, 10, 80, 30, 60]
    base = [100 + e for e in seed_effect]
    other = [101 + e + j for e, j in zip(seed_effect, [0.1, -0.1, 0.2, 0.0, -0.2, 0.05])]
    p = paired(base, other)
    assert p.t_p < 1e-4
    assert sst.ttest_ind(other, base, equal_var=False).pvalue > 0.5
    assert p.wilcoxon_p == pytest.approx(0.03125)        # all 6 differences positive


def test_paired_with_a_negative_baseline_uses_its_magnitude():
    p = paired([-10, -10.5, -9.5], [-5, -5.5, -4.5])
    assert p.rel_diff == pytest.approx(0.5)               # up by 5 from -10: +50 %


def test_paired_identical_samples_are_exact_not_tested(no_warnings):
    p = paired(BASE, BASE)
    assert p.exact == "abs" and p.diff == 0.0
    assert (p.rel_diff, p.rel_ci_low, p.rel_ci_high) == (0.0, 0.0, 0.0)
    for v in (p.t_p, p.wilcoxon_p, p.effect_size):
        assert math.isnan(v)


def test_paired_constant_shift_is_exact_not_a_test(no_warnings):
    # every seed +2: known exactly for these seeds; a t-test would say p = 0, d_z = inf
    p = paired([1, 2, 3, 4], [3, 4, 5, 6], lower=0)
    assert p.exact == "abs" and (p.diff, p.diff_sd) == (2.0, 0.0)
    assert p.diff_ci_low == p.diff_ci_high == 2.0
    assert p.rel_diff == pytest.approx(2 / 2.5)
    # the baseline varies, so the ratio of means does not: it keeps an interval
    assert p.rel_method == "fieller" and p.rel_ci_low < 0.8 < p.rel_ci_high
    for v in (p.t_p, p.wilcoxon_p, p.effect_size):
        assert math.isnan(v)
    # a shift on a constant baseline: exact in both units
    q = paired([19] * 5, [53] * 5, lower=0)
    assert q.exact == "abs" and q.diff == 34.0
    assert q.rel_diff == q.rel_ci_low == q.rel_ci_high == pytest.approx(34 / 19)


def test_paired_same_ratio_in_every_seed_is_exact(no_warnings):
    # a policy that brings a count to 0 in every seed: -100 % exactly
    p = paired([33, 35, 28], [0, 0, 0], lower=0)
    assert p.exact == "rel" and p.rel_diff == p.rel_ci_low == p.rel_ci_high == -1.0
    assert math.isnan(p.t_p) and math.isnan(p.effect_size)
    half = paired([10, 20, 40], [5, 10, 20], lower=0)
    assert half.exact == "rel" and half.rel_ci_low == half.rel_ci_high == -0.5
    # a zero in the baseline leaves the ratio undefined there: not exact
    assert paired([0, 20, 40], [0, 10, 20], lower=0).exact == ""


def test_fieller_interval_by_hand(no_warnings):
    # b = 10, 12, 14 and o = 6, 8, 7: means 12 and 7, variances 4 and 1, covariance
    # ((-2)(-1) + 0 + 2 * 0) / 2 = 1; q = t(0.975, 2)^2 / 3.  R is in the interval when
    # (7 - 12 R)^2 <= q (1 - 2 R + 4 R^2), i.e. a R^2 - 2 h R + c <= 0 with
    # a = 144 - 4 q, h = 84 - q, c = 49 - q: R = (h +/- sqrt(h^2 - a c)) / a.
    q = 4.302652729749464 ** 2 / 3
    a, h, c = 144 - 4 * q, 84 - q, 49 - q
    low, high = (h - math.sqrt(h * h - a * c)) / a, (h + math.sqrt(h * h - a * c)) / a
    p = paired([10, 12, 14], [6, 8, 7], lower=0)
    assert p.rel_method == "fieller" and p.rel_diff == pytest.approx(7 / 12 - 1)
    assert (p.rel_ci_low, p.rel_ci_high) == (pytest.approx(low - 1, rel=1e-12),
                                             pytest.approx(high - 1, rel=1e-12))
    assert (p.rel_ci_low, p.rel_ci_high) == (pytest.approx(-0.6056, abs=1e-4),
                                             pytest.approx(-0.0898, abs=1e-4))


@pytest.mark.parametrize("seed", range(40))
def test_the_relative_interval_agrees_with_the_t_test(seed):
    """Fieller's interval leaves out 0 % exactly when the paired t-test rejects:
    a row never shows a significant p with an interval across 0, or the reverse."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    base = rng.uniform(50, 150, n)
    other = base * rng.uniform(0.9, 1.1) + rng.normal(0, rng.uniform(0.5, 8), n)
    p = paired(base, other, lower=0)
    assert p.rel_method in ("fieller", "scaled")
    excludes_zero = p.rel_ci_high < 0 or p.rel_ci_low > 0
    assert excludes_zero == (p.t_p < 0.05)


def test_relative_interval_respects_the_lower_bound(no_warnings):
    # dying memcgs: 33..38 under the baseline, a few under the other policy.  The
    # t interval of the differences over the baseline mean goes below -100 %.
    base, other = [33, 35, 28, 38, 33], [1, 20, 0, 2, 8]
    unbounded = paired(base, other)
    assert unbounded.diff_ci_low / unbounded.baseline_mean < -1.0
    assert unbounded.rel_ci_low < -1.0                   # no bound given: none applied
    bounded = paired(base, other, lower=0)
    assert bounded.rel_ci_low == -1.0 < bounded.rel_diff < bounded.rel_ci_high < 0
    # no Fieller interval (a baseline not clearly away from 0): scaled, cut at -100 %
    cut = paired([0, 10, 40], [0, 0, 0], lower=0)
    assert cut.rel_method == "scaled" and cut.rel_ci_low == -1.0 and cut.exact == ""


def test_tests_run_only_where_they_can_say_something(no_warnings):
    base, other = [100, 110], [80, 95]
    two = paired(base, other)
    assert math.isnan(two.t_p) and math.isnan(two.wilcoxon_p)      # n=2 < MIN_N_TEST
    assert two.effect_size == pytest.approx(-17.5 / math.sqrt(12.5))
    five = paired(BASE[:5], OTHER[:5])
    assert not math.isnan(five.t_p) and math.isnan(five.wilcoxon_p)  # W cannot reach 0.05
    six = paired(BASE[:6], OTHER[:6])
    assert not math.isnan(six.wilcoxon_p)
    # with alpha = 0.01 Wilcoxon needs 8 pairs (2/2^7 = 0.0156, 2/2^8 = 0.0078)
    assert math.isnan(paired(BASE[:7], OTHER[:7], alpha=0.01).wilcoxon_p)
    assert not math.isnan(paired(BASE, OTHER, alpha=0.01).wilcoxon_p)


def test_wilcoxon_reach_is_what_scipy_says():
    assert MIN_N_TEST == 3
    assert wilcoxon_min_p(5) == 0.0625 and wilcoxon_min_p(6) == 0.03125
    assert wilcoxon_min_n(0.05) == 6 and wilcoxon_min_n(0.01) == 8
    assert sst.wilcoxon(np.arange(1.0, 6.0)).pvalue == pytest.approx(0.0625)
    assert sst.wilcoxon(np.arange(1.0, 7.0)).pvalue < 0.05


def test_seeds_needed_by_the_noncentral_t():
    # d_z = 1 at alpha 0.05 needs 10 pairs for 80 % power (Cohen's tables); check
    # that n reaches it and n - 1 does not, from the definition
    assert seeds_needed(1.0, 0.05) == 10
    assert seeds_needed(-1.0, 0.05) == 10
    for es, alpha in ((0.5, 0.05), (3.24, 0.05 / 19), (0.447, 0.05 / 19)):
        n = seeds_needed(es, alpha)

        def power(k):
            crit = sst.t.ppf(1 - alpha / 2, k - 1)
            return sst.nct.sf(crit, k - 1, es * math.sqrt(k))
        assert power(n) >= 0.8 > power(n - 1)
    assert seeds_needed(0.0, 0.05) is None and seeds_needed(math.nan, 0.05) is None
    assert seeds_needed(0.01, 0.05) is None              # beyond 1000 seeds


def test_paired_zero_baseline_mean_is_nan_not_a_crash(no_warnings):
    p = paired([0, 0, 0, 0], [1.0, 2.0, 1.5, 3.0])
    assert math.isnan(p.rel_diff) and math.isnan(p.rel_ci_low) and math.isnan(p.rel_ci_high)
    assert p.baseline_mean == 0.0 and p.mean == pytest.approx(1.875)
    assert p.t_p == pytest.approx(sst.ttest_rel([1.0, 2.0, 1.5, 3.0], [0, 0, 0, 0]).pvalue)
    # A baseline whose values cancel out: the mean is 0 and so is rel_diff's denominator.
    assert math.isnan(paired([-1, 1, -2, 2], [0, 1, 2, 3]).rel_diff)


def test_paired_single_pair(no_warnings):
    p = paired([4.0], [5.0])
    assert p.n == 1 and p.rel_diff == 0.25
    for v in (p.rel_ci_low, p.rel_ci_high, p.t_p, p.wilcoxon_p, p.effect_size):
        assert math.isnan(v)


def test_paired_empty_and_mismatched():
    p = paired([], [])
    assert p.n == 0 and math.isnan(p.rel_diff) and math.isnan(p.t_p)
    with pytest.raises(ValueError, match="same length"):
        paired([1, 2, 3], [1, 2])


def test_paired_all_zero_differences_with_zero_values(no_warnings):
    p = paired([0, 0, 0], [0, 0, 0])
    assert math.isnan(p.rel_diff) and p.exact == "abs" and p.diff == 0.0
    assert all(math.isnan(v) for v in (p.t_p, p.wilcoxon_p, p.effect_size))


def test_paired_nan_propagates(no_warnings):
    p = paired([1.0, float("nan"), 3.0], [2.0, 3.0, 4.5])
    assert math.isnan(p.t_p) and math.isnan(p.effect_size) and math.isnan(p.rel_diff)


def test_paired_result_type():
    assert isinstance(paired(BASE, OTHER), Paired)


# ------------------------------------------------------------------ holm

def test_holm_hand_worked():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_hand_worked_more():
    assert holm([]) == []
    assert holm([0.2]) == [0.2]
    assert holm([0.3, 0.4]) == pytest.approx([0.6, 0.6])          # 0.3*2, max(0.6, 0.4)
    assert holm([0.6, 0.9]) == [1.0, 1.0]                          # capped at 1
    assert holm([0.01, 0.01, 0.5]) == pytest.approx([0.03, 0.03, 0.5])   # ties share a value
    assert holm([0.0, 1.0]) == [0.0, 1.0]


def test_holm_nan_is_passed_through_and_not_counted():
    out = holm([0.02, float("nan"), 0.5])
    assert out[0] == pytest.approx(0.04)     # m = 2, not 3
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(0.5)
    assert all(math.isnan(v) for v in holm([float("nan")] * 3))


def test_holm_rejects_values_outside_0_1():
    for bad in (-0.1, 1.01):
        with pytest.raises(ValueError):
            holm([0.1, bad])


def holm_reference(pvalues):
    """Holm's adjusted p from its definition, O(m^2): for each hypothesis, the
    largest (m - k) * q_k over the sorted p-values q_k at or below its own."""
    finite = sorted(p for p in pvalues if not math.isnan(p))
    m = len(finite)
    out = []
    for p in pvalues:
        if math.isnan(p):
            out.append(math.nan)
            continue
        out.append(min(1.0, max((m - k) * q for k, q in enumerate(finite) if q <= p)))
    return out


try:
    from statsmodels.stats.multitest import multipletests
except ImportError:  # not installed: the brute-force reference stands in for it
    multipletests = None


P_VALUES = st.lists(st.one_of(st.floats(0.0, 1.0), st.just(math.nan),
                              st.sampled_from([0.0, 0.01, 0.05, 1.0])), max_size=30)


@settings(max_examples=300, deadline=None)
@given(P_VALUES)
def test_holm_matches_reference_and_is_monotone_and_bounded(pvalues):
    got = holm(pvalues)
    assert len(got) == len(pvalues)
    want = holm_reference(pvalues)
    m = sum(not math.isnan(p) for p in pvalues)
    for p, g, w in zip(pvalues, got, want):
        if math.isnan(p):
            assert math.isnan(g)
            continue
        assert g == pytest.approx(w, rel=1e-12, abs=1e-300)
        assert p <= g <= 1.0                       # never below the raw p, capped at 1
        assert g <= min(1.0, m * p) + 1e-12        # never above Bonferroni
    pairs = [(p, g) for p, g in zip(pvalues, got) if not math.isnan(p)]
    for p1, g1 in pairs:                           # the order of the raw p is kept
        for p2, g2 in pairs:
            if p1 <= p2:
                assert g1 <= g2
    if multipletests is not None and m:
        finite = [p for p in pvalues if not math.isnan(p)]
        ref = multipletests(finite, method="holm")[1]
        assert [g for g in got if not math.isnan(g)] == pytest.approx(list(ref))
