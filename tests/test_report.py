"""slabpolicy.analysis.report: the comparison table built from synthetic result documents.

Two workloads x three policies x five seeds, with values chosen so that every
figure is known: a large per-seed effect shared by all policies (so pairing by
seed matters), a policy ``better`` that is 20 pages lower on every seed, give or
take a little, a policy ``same`` within noise of the baseline, metrics that
are the same in every run and one that differs by the same amount in every seed
(exact, never tested).
"""
from __future__ import annotations

import csv
import io
import json
import math
import random

import numpy as np
import pytest
from scipy import stats as sst

from slabpolicy.analysis.report import (DEFAULT_METRICS, FORMATS, ComparisonTable, comparison_table,
                                        delta_cell, metric_value, render)
from slabpolicy.analysis.stats import holm, paired, seeds_needed, summarize

WORKLOADS = ("wa", "wb")
POLICIES = ("base", "better", "same")
SEEDS = (11, 12, 13, 14, 15)
SEED_EFFECT = {11: 0.0, 12: 40.0, 13: 10.0, 14: 70.0, 15: 25.0}
NOISE = {11: 0.5, 12: -0.3, 13: 0.2, 14: -0.4, 15: 0.1}
VARYING = ("memory.slab_pages.mean", "memory.slab_pages.peak", "memory.dead_cache_pages.mean",
           "locks.list_lock.contentions")
CONSTANT = ("memory.dying_memcgs.final", "latency_ns.free.p99", "latency_ns.offline.p99",
            "accounting.violations")
SHIFTED = "latency_ns.alloc.p99"          # +k ns on every seed for the k-th policy


def seed_effect(seed: int) -> float:
    return SEED_EFFECT.get(seed, 33.0)


def noise(seed: int) -> float:
    return NOISE.get(seed, 0.0)


def slab_mean(workload: str, policy: str, seed: int) -> float:
    base = (1000.0 if workload == "wa" else 2000.0) + seed_effect(seed)
    return {"base": base, "better": base - 20.0 + noise(seed), "same": base + noise(seed)}[policy]


def make_doc(workload: str, policy: str, seed: int) -> dict:
    """A result document with just the fields the default metrics read."""
    k = POLICIES.index(policy)
    mean = slab_mean(workload, policy, seed)
    doc = {
        "schema": "slabpolicy.result/1",
        "workload": {"name": workload, "sha256": "ab" * 32, "path": f"{workload}.yaml"},
        "policy": {"name": policy, "label": policy, "version": "1", "options": {},
                   "source": "test"},
        "seed": seed,
        "memory": {"slab_pages": {"peak": 2 * mean, "mean": mean, "final": mean},
                   "dead_cache_pages": {"peak": 0, "mean": (50.0 if k != 1 else 5.0)
                                        + seed_effect(seed) / 10 + k * noise(seed),
                                        "final": 0},
                   "dying_memcgs": {"peak": 3, "mean": 3.0, "final": 3}},
        "latency_ns": {"alloc": {"count": 10, "p50": 5, "p90": 9, "p99": 80 + seed % 3 + k,
                                 "p999": 99, "max": 100},
                       "free": {"count": 10, "p50": 5, "p90": 9, "p99": 19, "p999": 19,
                                "max": 19},
                       "offline": {"count": 0, "p50": 0, "p90": 0, "p99": 0, "p999": 0,
                                   "max": 0}},
        "locks": {},
        "accounting": {"violations": 0, "drift_pages_max": 0, "first_violation_ns": None},
    }
    if policy != "base":            # the baseline never took a list_lock: the class is absent
        doc["locks"]["list_lock"] = {"acquisitions": 100, "contentions": 5 + (seed + k) % 4,
                                     "wait_ns_total": 10, "wait_ns_max": 3,
                                     "hold_ns_total": 50, "hold_ns_max": 7}
    return doc


def all_docs() -> list[dict]:
    return [make_doc(w, p, s) for w in WORKLOADS for p in POLICIES for s in SEEDS]


@pytest.fixture
def table() -> ComparisonTable:
    return comparison_table(all_docs())


def expected_values(workload, policy, metric):
    return [metric_value(make_doc(workload, policy, s), metric) for s in SEEDS]


# ------------------------------------------------------------------ metric_value

def test_metric_value_reads_dotted_paths():
    doc = make_doc("wa", "better", 12)
    assert metric_value(doc, "memory.slab_pages.mean") == 1040.0 - 20 - 0.3
    assert metric_value(doc, "latency_ns.alloc.p99") == 81.0
    assert metric_value(doc, "locks.list_lock.contentions") == 6.0
    assert isinstance(metric_value(doc, "accounting.violations"), float)
    assert math.isnan(metric_value(doc, "accounting.first_violation_ns"))


def test_metric_value_missing_lock_class_is_zero():
    doc = make_doc("wa", "base", 11)
    assert metric_value(doc, "locks.list_lock.contentions") == 0.0
    assert metric_value(doc, "locks.some_other_lock.wait_ns_total") == 0.0
    with pytest.raises(KeyError):
        metric_value(doc, "locks.list_lock.no_such_field")


@pytest.mark.parametrize("metric", ["memory.slab_pagez.mean", "nope", "nope.x",
                                    "memory.slab_pages", "memory.slab_pages.mean.x",
                                    "workload.name", "", "memory..mean"])
def test_metric_value_unknown_path_lists_the_top_level_keys(metric):
    with pytest.raises(KeyError) as info:
        metric_value(make_doc("wa", "base", 11), metric)
    message = str(info.value)
    assert "\n" not in message and not message.startswith("'")
    assert "valid top-level keys" in message
    for key in ("memory", "latency_ns", "locks", "accounting"):
        assert key in message


def test_metric_value_error_names_the_valid_keys_at_the_level():
    with pytest.raises(KeyError, match="slab_pages, dead_cache_pages"):
        metric_value(make_doc("wa", "base", 11), "memory.slab_pagez.mean")


# ------------------------------------------------------------------ the table

def test_shape_and_order(table):
    assert table.baseline == "base"
    assert table.workloads == list(WORKLOADS) and table.policies == list(POLICIES)
    assert table.metrics == DEFAULT_METRICS
    assert len(table.rows) == 2 * 3 * len(DEFAULT_METRICS)
    keys = [(r.workload, r.metric, r.policy) for r in table.rows]
    assert keys == [(w, m, p) for w in WORKLOADS for m in DEFAULT_METRICS for p in POLICIES]
    for r in table.rows:
        assert r.seeds == list(SEEDS)
        assert r.values == expected_values(r.workload, r.policy, r.metric)
        assert (r.vs_baseline is None) == (r.policy == "base") == r.is_baseline


def test_exact_mean_and_ci(table):
    # wa/base slab mean: 1000 + (0, 40, 10, 70, 25) -> mean 1029; squared deviations
    # 841 + 121 + 361 + 1681 + 16 = 3020, so sd = sqrt(3020 / 4) = sqrt(755) and the
    # 95 % half-width is t(0.975, 4) * sqrt(755 / 5).
    s = table.row("wa", "base", "memory.slab_pages.mean").summary
    half = sst.t.ppf(0.975, 4) * math.sqrt(151)
    assert (s.n, s.mean, s.median) == (5, 1029.0, 1025.0)
    assert s.sd == pytest.approx(math.sqrt(755), rel=1e-12)
    assert s.ci_low == pytest.approx(1029 - half, rel=1e-12)
    assert s.ci_high == pytest.approx(1029 + half, rel=1e-12)
    assert half == pytest.approx(34.1175, abs=1e-4)
    for r in table.rows:
        assert r.summary == summarize(expected_values(r.workload, r.policy, r.metric))


def test_comparisons_are_paired_by_seed(table):
    r = table.row("wb", "better", "memory.slab_pages.mean")
    base = expected_values("wb", "base", "memory.slab_pages.mean")
    other = expected_values("wb", "better", "memory.slab_pages.mean")
    assert r.vs_baseline == paired(base, other, lower=0.0)
    assert r.paired_seeds == list(SEEDS)
    assert r.vs_baseline.t_p == pytest.approx(sst.ttest_rel(other, base).pvalue)
    assert r.vs_baseline.rel_diff == pytest.approx((np.mean(other) - 2029) / 2029)
    assert r.vs_baseline.t_p < 1e-5                       # -20 on every seed
    assert sst.ttest_ind(other, base).pvalue > 0.2        # unpaired, the seed effect hides it
    assert r.significant
    assert not table.row("wb", "same", "memory.slab_pages.mean").significant


def test_shuffled_input_gives_the_same_numbers(table):
    docs = all_docs()
    random.Random(4).shuffle(docs)
    shuffled = comparison_table(docs, baseline="base")
    assert len(shuffled.rows) == len(table.rows)
    for r in table.rows:
        s = shuffled.row(r.workload, r.policy, r.metric)
        assert (s.seeds, s.values, s.summary) == (r.seeds, r.values, r.summary)
        assert s.vs_baseline == r.vs_baseline
        assert s.p_holm == pytest.approx(r.p_holm, nan_ok=True)
        assert s.significant == r.significant
    assert shuffled.n_comparisons == table.n_comparisons


def test_mispairing_would_show(table):
    # Pair seed 11 of the baseline with seed 15 of the other, etc.: a different test.
    r = table.row("wa", "better", "memory.slab_pages.mean")
    base = expected_values("wa", "base", "memory.slab_pages.mean")
    other = expected_values("wa", "better", "memory.slab_pages.mean")
    assert paired(base, other[::-1]).t_p != pytest.approx(r.vs_baseline.t_p)


def test_holm_family_is_the_whole_table(table):
    tested = [r for r in table.rows if r.tested]
    assert table.n_comparisons == len(tested) == 2 * 2 * len(VARYING)
    assert {r.metric for r in tested} == set(VARYING)
    assert all(r.policy != "base" for r in tested)
    raw = [r.vs_baseline.t_p for r in tested]
    for r, adjusted in zip(tested, holm(raw)):
        assert r.p_holm == pytest.approx(adjusted)
        assert r.significant == (adjusted < 0.05)
    assert any(r.p_holm > r.vs_baseline.t_p for r in tested)
    untested = [r for r in table.rows if not r.tested]
    assert all(math.isnan(r.p_holm) and not r.significant for r in untested)
    footer = table.footer()
    assert footer[0] == ("* : p < 0.05 in a paired (by seed) t-test, Holm-adjusted over the "
                         f"{2 * 2 * len(VARYING)} comparisons of the table")


def test_exact_differences_are_reported_as_such_not_tested(table):
    """One answer to one situation: whether the whole metric is constant or only
    the difference is, a difference with zero spread is exact, never a test."""
    for w in WORKLOADS:
        for p in ("better", "same"):
            for m in CONSTANT + (SHIFTED,):
                r = table.row(w, p, m)
                assert r.exact == "abs" and not r.tested and not r.significant
                assert math.isnan(r.vs_baseline.t_p) and math.isnan(r.vs_baseline.effect_size)
            for m in CONSTANT:
                assert delta_cell(table.row(w, p, m)) == "same in every seed"
        assert delta_cell(table.row(w, "better", SHIFTED)) == "+1 ns in every seed"
        assert delta_cell(table.row(w, "same", SHIFTED)) == "+2 ns in every seed"
    assert not any("the same in every run" in w for w in table.warnings)


def test_baseline_option_and_alpha():
    t = comparison_table(all_docs(), baseline="same", alpha=0.01)
    assert t.baseline == "same" and t.confidence == pytest.approx(0.99)
    assert t.row("wa", "same", "memory.slab_pages.mean").vs_baseline is None
    r = t.row("wa", "base", "memory.slab_pages.mean")
    assert r.vs_baseline == paired(expected_values("wa", "same", "memory.slab_pages.mean"),
                                   expected_values("wa", "base", "memory.slab_pages.mean"),
                                   confidence=0.99, lower=0.0)
    assert t.footer()[0].startswith("* : p < 0.01 in a paired (by seed) t-test")
    s = t.row("wa", "base", "memory.slab_pages.mean").summary
    assert s == summarize(expected_values("wa", "base", "memory.slab_pages.mean"), 0.99)


def test_bad_arguments():
    with pytest.raises(ValueError, match="the labels are: base, better, same"):
        comparison_table(all_docs(), baseline="nope")
    with pytest.raises(ValueError):
        comparison_table([])
    with pytest.raises(ValueError):
        comparison_table(all_docs(), alpha=1.5)
    with pytest.raises(KeyError, match="valid top-level keys"):
        comparison_table(all_docs(), metrics=["memory.bogus.mean"])


def test_custom_metrics():
    t = comparison_table(all_docs(), metrics=["memory.slab_pages.final"])
    assert len(t.rows) == 6 and t.n_comparisons == 4


# ------------------------------------------------------------------ warnings

def test_notes_and_warnings_for_the_synthetic_data(table):
    # Five seeds: enough for a t-test, not for Wilcoxon to reach p < 0.05; 'same' is
    # within noise (d_z 0.054: more than 1000 seeds would be needed, so no warning);
    # nothing about each arm's sd / mean
    assert table.notes == [
        "p(W) not shown where n=5: with n pairs the Wilcoxon signed-rank test cannot go "
        "below p = 2/2^n (0.0625 for n=5); it needs at least 6 seeds to reach p < 0.05"]
    assert table.warnings == []
    assert all(r.seeds_needed is None for r in table.rows)
    assert "note: p(W) not shown" not in "\n".join(table.footer())      # narrow: no p(W)
    assert "note: p(W) not shown where n=5" in "\n".join(table.footer(wide=True))


def test_too_few_seeds_for_the_difference_seen_is_a_warning():
    """A difference tested and not found that more seeds could find: the warning
    says how many (noncentral t, 80 % power at alpha / m)."""
    docs = all_docs()
    for d in docs:
        if d["policy"]["label"] == "same":          # +2 pages give or take 3 per seed
            d["memory"]["slab_pages"]["mean"] += 2.0 + 6 * SEED_EFFECT[d["seed"]] / 70 - 3
    t = comparison_table(docs, metrics=["memory.slab_pages.mean"])
    r = t.row("wa", "same", "memory.slab_pages.mean")
    assert r.tested and not r.significant and r.seeds_needed is not None
    assert r.seeds_needed == seeds_needed(r.vs_baseline.effect_size, 0.05 / t.n_comparisons)
    (line,) = [w for w in t.warnings if w.startswith("wa / ")]
    assert line == (f"wa / memory.slab_pages.mean: not separated from the baseline with 5 "
                    f"seeds; a true difference of the size seen would need, for 80% power at "
                    f"p < 0.05/{t.n_comparisons}: same (d_z "
                    f"{r.vs_baseline.effect_size:.2g}: about {r.seeds_needed} seeds)")


def test_small_n_notes():
    three = [make_doc(w, p, s) for w in WORKLOADS for p in POLICIES for s in SEEDS[:3]]
    t = comparison_table(three)
    (line,) = t.notes
    assert line.startswith("p(W) not shown where n=3") and "(0.25 for n=3)" in line
    two = [make_doc("wa", p, s) for p in POLICIES for s in SEEDS[:2]]
    t = comparison_table(two)
    assert t.notes[0] == ("no p-values where n=2: the paired t-test needs at least 3 seeds "
                          "(--seeds 3)")
    assert "note: no p-values where n=2" in "\n".join(t.footer())


def test_two_seeds_are_never_marked_significant():
    """With 2 seeds and the same shift on both, ttest_rel says p = 0; that is no
    evidence, so such a comparison is not tested and never marked."""
    two = [make_doc("wa", p, s) for p in POLICIES for s in SEEDS[:2]]
    t = comparison_table(two, metrics=["memory.slab_pages.mean"])
    better = t.row("wa", "better", "memory.slab_pages.mean")
    assert better.vs_baseline is not None and better.vs_baseline.n == 2
    assert not better.tested and not better.significant
    assert t.n_comparisons == 0


def test_seeds_missing_for_pairing():
    docs = [d for d in all_docs()
            if not (d["workload"]["name"] == "wa" and d["policy"]["label"] == "same"
                    and d["seed"] in (12, 14))]
    docs.append(make_doc("wb", "better", 99))
    t = comparison_table(docs)
    r = t.row("wa", "same", "memory.slab_pages.mean")
    assert r.seeds == [11, 13, 15] and r.paired_seeds == [11, 13, 15]
    assert r.vs_baseline.n == 3
    assert r.vs_baseline == paired(
        [slab_mean("wa", "base", s) for s in (11, 13, 15)],
        [slab_mean("wa", "same", s) for s in (11, 13, 15)], lower=0.0)
    (lacks,) = [w for w in t.warnings if w.startswith("wa / same") and "seed(s)" in w]
    assert "lacks seed(s) 12, 14" in lacks and "3 seed(s) both have" in lacks
    (extra,) = [w for w in t.warnings if w.startswith("wb / better") and "seed(s)" in w]
    assert "has seed(s) 99 the baseline lacks" in extra
    assert t.row("wb", "better", "memory.slab_pages.mean").paired_seeds == list(SEEDS)
    # the pair counts now differ, and the note names them
    assert t.notes[0].startswith("p(W) not shown where n=3/5:")


def test_duplicates_and_missing_baseline():
    docs = all_docs() + [make_doc("wa", "same", 11)]
    docs += [make_doc("wc", "better", s) for s in SEEDS]
    t = comparison_table(docs)
    assert any("wa / same: more than one result for seed(s) 11" in w for w in t.warnings)
    assert any(w.startswith("wc: no results for the baseline base") for w in t.warnings)
    assert t.row("wc", "better", "memory.slab_pages.mean").vs_baseline is None


def test_results_of_two_slub_eras_under_one_workload_are_a_warning():
    """A directory holding both eras' runs of one workload (``--set machine.slub=6.x``
    into the same --out) is compared as one, and the table says so."""
    docs = all_docs()
    for doc in docs:
        doc["machine"] = {"cpus": 4, "slub": "6.x" if doc["seed"] == SEEDS[0] else "3.4"}
    t = comparison_table(docs)
    assert [w for w in t.warnings if "SLUB eras" in w] == [
        f"{w}: results come from SLUB eras 3.4, 6.x (machine.slub); they are compared as one"
        for w in WORKLOADS]
    for doc in docs:
        doc["machine"]["slub"] = "3.4"
    assert not any("SLUB eras" in w for w in comparison_table(docs).warnings)


def test_single_seed_gives_nan_not_a_crash():
    t = comparison_table([make_doc("wa", p, 11) for p in POLICIES])
    assert t.n_comparisons == 0
    r = t.row("wa", "better", "memory.slab_pages.mean")
    assert math.isnan(r.summary.sd) and math.isnan(r.vs_baseline.t_p) and not r.tested
    doc = json.loads(render(t, "json"))
    row = doc["rows"][1]
    assert row["sd"] is None and row["ci_low"] is None and row["vs_baseline"]["t_p"] is None
    for fmt in FORMATS:
        assert render(t, fmt)


# ------------------------------------------------------------------ rendering

def _reject_constant(name):
    raise AssertionError(f"{name} in JSON output")


def test_json_round_trip(table):
    text = render(table, "json")
    doc = json.loads(text, parse_constant=_reject_constant)
    assert doc["schema"] == "slabpolicy.comparison/2"
    assert doc["alpha"] == 0.05 and doc["baseline"] == "base"
    assert doc["comparisons"] == table.n_comparisons
    assert doc["warnings"] == table.warnings and doc["notes"] == table.notes
    assert len(doc["rows"]) == len(table.rows)
    for got, r in zip(doc["rows"], table.rows):
        assert (got["workload"], got["policy"], got["metric"]) == (r.workload, r.policy, r.metric)
        assert got["seeds"] == list(SEEDS) and got["values"] == r.values
        for key in ("n", "mean", "sd", "ci_low", "ci_high", "median"):
            assert got[key] == getattr(r.summary, key)
        if r.vs_baseline is None:
            assert got["vs_baseline"] is None
            continue
        vs = got["vs_baseline"]
        assert vs["baseline"] == "base" and vs["seeds"] == r.paired_seeds
        for key in ("n", "baseline_mean", "mean", "diff", "diff_sd", "diff_ci_low",
                    "diff_ci_high", "rel_diff", "rel_ci_low", "rel_ci_high", "rel_method",
                    "exact", "t_p", "wilcoxon_p", "effect_size"):
            want = getattr(r.vs_baseline, key)
            assert vs[key] == (want if isinstance(want, str) or math.isfinite(want) else None)
        assert vs["significant"] == r.significant and vs["tested"] == r.tested
        assert vs["p_holm"] == (r.p_holm if r.tested else None)


def test_csv_round_trip(table):
    lines = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    rows = [line for line in lines if line["kind"] == "row"]
    assert [line["message"] for line in lines if line["kind"] == "note"] == table.notes
    assert [line["message"] for line in lines if line["kind"] == "warning"] == table.warnings
    assert len(rows) == len(table.rows)
    for got, r in zip(rows, table.rows):
        assert (got["workload"], got["policy"], got["metric"]) == (r.workload, r.policy, r.metric)
        assert int(got["n"]) == r.summary.n
        for key in ("mean", "sd", "ci_low", "ci_high", "median"):
            assert float(got[key]) == getattr(r.summary, key)          # exact
        assert got["seeds"].split() == [str(s) for s in SEEDS]
        if r.vs_baseline is None:
            assert got["t_p"] == got["rel_diff"] == got["p_holm"] == ""
            continue
        for key in ("baseline_mean", "diff", "diff_sd", "rel_diff", "rel_ci_low",
                    "rel_ci_high", "t_p", "wilcoxon_p", "effect_size"):
            want = getattr(r.vs_baseline, key)
            if math.isnan(want):
                assert got[key] == "", key                              # nan -> empty
            else:
                assert float(got[key]) == want, key
        assert int(got["n_pairs"]) == r.vs_baseline.n
        assert got["significant"] == str(int(r.significant))
        if r.tested:
            assert float(got["p_holm"]) == r.p_holm
        else:
            assert got["p_holm"] == ""                                    # nan -> empty


@pytest.mark.parametrize("fmt", ["plain", "github", "latex", "html"])
def test_text_formats_hold_rows_and_footer(table, fmt):
    text = render(table, fmt)
    for name in WORKLOADS + POLICIES:
        assert name in text
    for metric in DEFAULT_METRICS:
        assert metric in text or metric.replace("_", r"\_") in text
    assert "Holm-adjusted" in text and "in every seed" in text
    assert f"over the {table.n_comparisons} comparisons" in text
    n_data_lines = sum(1 for line in text.splitlines() if "better" in line)
    assert n_data_lines >= 2 * len(DEFAULT_METRICS)
    if fmt == "latex":
        assert r"\caption{" in text and r"\begin{tabular}" in text and "p \\textless{} 0.05" in text
    if fmt == "html":
        assert "<caption" in text and "p &lt; 0.05" in text
    if fmt == "plain":
        table_part, footer_part = text.split("\n\n", 1)
        assert footer_part.startswith(table.footer()[0][:60])
        assert "*" in table_part
    if fmt == "github":
        assert "\n- \\* : p \\< 0.05" in text and "| \\*" in text


def test_plain_marks_significant_rows_and_fits_80_columns(table):
    lines = render(table, "plain").splitlines()
    header = lines[0]
    sig = [line for line in lines if line.rstrip().endswith("*")]
    assert len(sig) == sum(r.significant for r in table.rows) == 10
    assert not any(" base " in line for line in sig)
    assert "mean ± CI" in header and "p(Holm)" in header and "d_z" not in header
    assert lines[1] == "wa" and lines[2] == "  memory.slab_pages.mean [pages]"
    assert lines[3].split() == ["base", "5", "1029", "±", "34.1", "(baseline)"]
    assert max(map(len, lines)) <= 80
    wide = render(table, "plain", wide=True).splitlines()
    assert all(h in wide[0] for h in ("sd", "median", "p(t)", "d_z"))
    assert "p(W)" not in wide[0]                         # 5 pairs cannot reach p < 0.05


def test_render_rejects_unknown_format(table):
    with pytest.raises(ValueError, match="plain, github"):
        render(table, "xlsx")
