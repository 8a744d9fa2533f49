"""The bounded latency histograms: exact below 2048 ns, 11 significant bits above."""
from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from slabpolicy.kernel.histogram import Histogram


def test_small_values_are_kept_exactly_and_percentiles_are_ranks():
    h = Histogram()
    for v in range(1, 101):           # 1..100 ns
        h.record(v)
    assert h.summary() == {"count": 100, "p50": 50, "p90": 90, "p99": 99, "p999": 100,
                           "max": 100}


@given(st.integers(0, 1 << 62))
def test_a_value_is_kept_to_within_one_part_in_1024(v):
    h = Histogram()
    h.record(v)
    kept = h.percentile(50)
    assert kept <= v and v - kept <= v / 1024
    assert h.max == v                  # the maximum is exact


def test_memory_is_bounded_whatever_the_number_of_values():
    h = Histogram()
    rng = random.Random(1)
    for _ in range(200_000):
        h.record(int(rng.lognormvariate(10, 3)))
    assert h.count == 200_000
    # at most 1024 buckets per power of two above 2048, and 2048 below
    assert len(h.counts) < 2048 + 1024 * 40
    assert sum(n for _, n in h.buckets()) == h.count


def test_merged_holds_every_observation():
    a, b = Histogram(), Histogram()
    a.record(5, 10)
    b.record(5, 2)
    b.record(3000)
    m = Histogram.merged(a, b)
    assert m.buckets() == [[5, 12], [3000, 1]] and m.count == 13 and m.max == 3000
    assert a.count == 10                 # the parts are left alone


def test_the_result_document_keeps_the_histograms(tmp_path):
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.spec import load_workload

    workload = load_workload(Path(__file__).resolve().parent.parent / "experiments" / "default.yaml",
                             ["duration=3s"])
    (run,) = resolve_policies(workload, ["leave-in-place-4.11"],
                              policy_registry(make_plugin_manager()))
    result = run_one(workload, run, 1)
    for kind in ("alloc", "free", "offline"):
        hist = result["latency_hist"][kind]
        summary = result["latency_ns"][kind]
        assert sum(n for _, n in hist) == summary["count"] > 0
        assert hist[-1][0] <= summary["max"] and [v for v, _ in hist] == sorted(v for v, _ in hist)


def test_values_below_2048_are_counted_exactly_and_the_others_in_buckets():
    h = Histogram()
    for value in (0, 7, 7, 2047, 2048, 2049, 4097, -3):
        h.record(value)
    h.record(7, 5)
    # 2049 and 4097 round down to 11 significant bits: 2048 and 4096; -3 is kept as is
    assert h.counts == {0: 1, 7: 7, 2047: 1, 2048: 2, 4096: 1, -3: 1}
    assert h.buckets() == [[-3, 1], [0, 1], [7, 7], [2047, 1], [2048, 2], [4096, 1]]
    assert (h.count, h.max) == (13, 4097)


def test_the_max_is_the_largest_value_whether_or_not_it_fits_an_int64():
    # the compiled core compares a value that fits an int64 in C and any other as a
    # Python int: the max is the largest of both, and never below 0 (where it starts)
    h = Histogram()
    h.record(-3)
    assert h.max == 0
    h.record(5000)
    h.record(1 << 70)
    h.record(7)
    assert h.max == 1 << 70 and h.count == 4
    h.record((1 << 70) + 1, 2)
    h.record(9000)
    assert h.max == (1 << 70) + 1 and h.count == 7
    merged = Histogram.merged(Histogram(), h)
    assert (merged.max, merged.count, merged.buckets()) == (h.max, h.count, h.buckets())
