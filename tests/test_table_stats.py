"""The comparison table at the seed counts people run, against numbers worked by hand.

Two policies, ``base`` and ``other``, on one workload; each test gives the
per-seed values of one metric and checks the cells a reader sees (mean ± CI,
Δ [CI], p(Holm), the mark) and the notes, for zero spread, n = 1, 2, 3, 5 and
10, and for metrics with bounds (a count cannot go below 0, a utilization
above 1).  The t quantiles and p-values are from closed forms: for 2 degrees of
freedom P(|T| > t) = 1 - t / sqrt(t^2 + 2); for 4, with x = t / sqrt(t^2 + 4),
P(|T| > t) = 1 - x (3 - x^2) / 2.
"""
from __future__ import annotations

import math

import pytest

from slabpolicy.analysis.report import comparison_table, delta_cell, render

T975 = {1: 12.706204736174707, 2: 4.302652729749464, 4: 2.7764451051977987}


def docs(metric: str, base: list[float], other: list[float]) -> list[dict]:
    """Result documents holding only ``metric``, one per (policy, seed)."""
    out = []
    for label, values in (("base", base), ("other", other)):
        for seed, value in enumerate(values, start=1):
            doc: dict = {"workload": {"name": "w", "sha256": "0" * 64},
                         "policy": {"name": label, "label": label}, "seed": seed}
            node = doc
            *parents, leaf = metric.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
            out.append(doc)
    return out


def table_of(metric, base, other):
    t = comparison_table(docs(metric, base, other), metrics=[metric])
    return t, t.row("w", "other", metric)


def plain_line(t, policy: str) -> list[str]:
    (line,) = [ln for ln in render(t, "plain").splitlines() if ln.startswith(f"    {policy} ")]
    return line.split()


def test_zero_spread_is_exact_never_a_test():
    t, r = table_of("latency_ns.free.p99", [19] * 5, [53] * 5)
    assert delta_cell(r) == "+34 ns in every seed"
    assert not r.tested and not r.significant and t.n_comparisons == 0
    assert math.isnan(r.p_holm) and math.isnan(r.vs_baseline.t_p)
    assert plain_line(t, "other") == ["other", "5", "53", "±", "0", "+34", "ns", "in",
                                      "every", "seed"]
    # the relative difference is exact too: (53 - 19) / 19
    assert r.vs_baseline.rel_ci_low == r.vs_baseline.rel_ci_high == pytest.approx(34 / 19)
    # no difference at all, the metric constant or not: one answer
    t, r = table_of("latency_ns.free.p99", [19, 20, 21], [19, 20, 21])
    assert delta_cell(r) == "same in every seed" and not r.tested
    assert not t.warnings


def test_n1_gives_a_point_and_no_interval_or_test():
    t, r = table_of("memory.slab_pages.mean", [100], [80])
    assert delta_cell(r) == "-20% (1 seed)"
    assert plain_line(t, "other") == ["other", "1", "80", "-20%", "(1", "seed)"]
    assert not r.tested and t.n_comparisons == 0
    assert t.notes[0] == ("no p-values where n=1: the paired t-test needs at least 3 seeds "
                          "(--seeds 3)")


def test_n2_has_intervals_but_no_p_value():
    # base 100, 110 and other 80, 95: d = -20, -15, mean -17.5, sd 5/sqrt(2)
    t, r = table_of("memory.slab_pages.mean", [100, 110], [80, 95])
    p = r.vs_baseline
    half = T975[1] * (5 / math.sqrt(2)) / math.sqrt(2)            # 31.77
    assert (p.diff_ci_low, p.diff_ci_high) == (pytest.approx(-17.5 - half),
                                               pytest.approx(-17.5 + half))
    # Fieller: means 105 and 87.5, variances 50 and 112.5, covariance 75, q = t^2 / 2;
    # R is in the interval when a R^2 - 2 h R + c <= 0
    q = T975[1] ** 2 / 2
    a, h, c = 105 ** 2 - 50 * q, 87.5 * 105 - 75 * q, 87.5 ** 2 - 112.5 * q
    root = math.sqrt(h * h - a * c)
    assert p.rel_method == "fieller"
    assert p.rel_ci_low == pytest.approx(max((h - root) / a - 1, -1.0))
    assert p.rel_ci_high == pytest.approx((h + root) / a - 1)
    assert -1.0 <= p.rel_ci_low < p.rel_diff < p.rel_ci_high
    assert math.isnan(p.t_p) and not r.tested
    assert t.notes[0].startswith("no p-values where n=2")
    for wide in (False, True):              # no column that cannot say anything at n=2
        header = render(t, "plain", wide=wide).splitlines()[0]
        assert "p(Holm)" not in header and "p(t)" not in header and "d_z" not in header
    # the mean of a count: 95 +/- 12.706 * 7.5 = [0 (cut), 190.3]
    s = t.row("w", "base", "memory.slab_pages.mean").summary
    assert s.clipped is False
    o = r.summary
    assert o.clipped and o.ci_low == 0.0
    assert o.ci_high == pytest.approx(87.5 + T975[1] * math.sqrt(112.5) / math.sqrt(2))


def test_n3_t_test_by_hand():
    # d = -10, -8, -12: mean -10, sd 2, t = -10 / (2 / sqrt 3) = -8.660254, 2 df
    t, r = table_of("memory.slab_pages.mean", [100, 120, 140], [90, 112, 128])
    tt = 10 / (2 / math.sqrt(3))
    p_hand = 1 - tt / math.sqrt(tt ** 2 + 2)                  # 0.013072
    assert r.vs_baseline.t_p == pytest.approx(p_hand, rel=1e-9)
    assert r.p_holm == pytest.approx(p_hand, rel=1e-9)        # a family of one
    assert r.significant and r.vs_baseline.effect_size == pytest.approx(-5.0)
    assert math.isnan(r.vs_baseline.wilcoxon_p)               # 3 pairs: p >= 0.25
    cells = plain_line(t, "other")
    assert cells[-2:] == ["0.0131", "*"]
    assert "p(W) not shown where n=3" in t.notes[-1] and "(0.25 for n=3)" in t.notes[-1]


def test_n5_t_test_by_hand_and_no_wilcoxon_column():
    # d = -3, -5, -4, -6, -2: mean -4, sd sqrt(2.5), t = -4 / sqrt(0.5) = -5.656854, 4 df
    base = [50, 60, 55, 70, 65]
    other = [47, 55, 51, 64, 63]
    t, r = table_of("memory.slab_pages.mean", base, other)
    tt = 4 / math.sqrt(0.5)
    x = tt / math.sqrt(tt ** 2 + 4)
    p_hand = 1 - x * (3 - x ** 2) / 2                         # 0.004813
    assert r.vs_baseline.t_p == pytest.approx(p_hand, rel=1e-9)
    assert r.vs_baseline.effect_size == pytest.approx(-4 / math.sqrt(2.5))
    assert math.isnan(r.vs_baseline.wilcoxon_p)
    assert "p(W)" not in render(t, "plain", wide=True).splitlines()[0]
    # the mean's CI: other = 56 +/- t(0.975, 4) * sd / sqrt 5, sd = sqrt(42.5)
    s = r.summary
    assert (s.mean, s.sd) == (56.0, pytest.approx(math.sqrt(55)))
    assert s.ci_high - s.mean == pytest.approx(T975[4] * math.sqrt(55 / 5))


def test_n10_shows_wilcoxon_and_warns_when_seeds_are_short():
    # ten positive differences of distinct sizes: the exact Wilcoxon p is 2 / 2^10
    base = [100.0 + 10 * i for i in range(10)]
    other = [b + 1 + i for i, b in enumerate(base)]
    t, r = table_of("memory.slab_pages.mean", base, other)
    assert r.vs_baseline.wilcoxon_p == pytest.approx(2 / 1024)
    wide = render(t, "plain", wide=True).splitlines()
    assert "p(W)" in wide[0] and not t.notes
    assert "0.00195" in next(ln for ln in wide if ln.startswith("    other "))
    # differences of mixed sign: d = +1, -1, +2, -2, ... with a small drift: not found,
    # and the warning says how many seeds the drift seen would need
    drift = [b + (1 if i % 2 else -1) * (1 + i) + 0.6 for i, b in enumerate(base)]
    t, r = table_of("memory.slab_pages.mean", base, drift)
    assert r.tested and not r.significant and r.seeds_needed > 10
    (line,) = t.warnings
    assert f"about {r.seeds_needed} seeds" in line and "with 10 seeds" in line


def test_bounded_metrics_keep_their_intervals_inside_the_bounds():
    # utilization 0.95, 0.97, 0.99: mean 0.97, sd 0.02, half 4.3027 * 0.02 / sqrt 3
    # = 0.04968: [0.9203, 1.0197] cut to [0.9203, 1]
    t, r = table_of("memory.utilization.mean", [0.95, 0.97, 0.99], [0.5, 0.6, 0.55])
    s = t.row("w", "base", "memory.utilization.mean").summary
    half = T975[2] * 0.02 / math.sqrt(3)
    assert s.clipped and s.ci_high == 1.0 and s.ci_low == pytest.approx(0.97 - half)
    assert plain_line(t, "base")[:4] == ["base", "3", "0.97", "[0.92,"]
    # a count that is mostly 0: 0, 0, 1 -> mean 1/3, [0 (cut), 1/3 + 4.3027 / sqrt 3]
    t, r = table_of("memory.dying_memcgs.final", [33, 35, 28], [0, 0, 1])
    assert r.summary.ci_low == 0.0
    assert r.summary.ci_high == pytest.approx(1 / 3 + T975[2] * math.sqrt(1 / 3) / math.sqrt(3))
    # its relative difference: Fieller's interval, cut at -100 %, where the
    # difference's interval over the baseline mean would reach -131 %
    p = r.vs_baseline
    assert p.rel_method == "fieller" and p.rel_ci_low == -1.0 < p.rel_diff < p.rel_ci_high < 0
    assert (p.diff_ci_low / p.baseline_mean) < -1.0
    assert delta_cell(r).startswith("-99% [-100, ")
