"""The contention experiment (experiments/contention.yaml) at a small size.

A hackbench-like burst of remote frees into one memcg's cache: under
scan-and-move every free takes the cache's memcg_scan_lock, so frees on many cpus
queue there and the wait grows with the cpu count; leave-in-place frees without a
lock (list_lock is not even taken).
"""
from __future__ import annotations

from pathlib import Path

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

EXPERIMENT = Path(__file__).resolve().parent.parent / "experiments" / "contention.yaml"


def run(policy: str, cpus: int) -> dict:
    workload = load_workload(EXPERIMENT, overrides=[f"machine.cpus={cpus}", "duration=3ms"])
    registry = policy_registry(make_plugin_manager(()))
    return run_one(workload, resolve_policies(workload, [policy], registry)[0], seed=1)


def test_the_sweep_declares_the_cpu_counts():
    axes = load_workload(EXPERIMENT).sweep
    assert [(a.path, a.values) for a in axes] == [("machine.cpus", ("8", "16", "32", "64"))]


def test_scan_and_move_contends_where_leave_in_place_does_not_and_more_on_more_cpus():
    lip = run("leave-in-place", 8)
    assert lip["locks"]["list_lock"]["contentions"] == 0
    assert set(lip["locks"]) == {"list_lock"}
    sam8, sam32 = run("scan-and-move", 8), run("scan-and-move", 32)
    assert sam8["ops"]["free"] == lip["ops"]["free"] > 1000      # the same frees
    scan8, scan32 = sam8["locks"]["memcg_scan_lock"], sam32["locks"]["memcg_scan_lock"]
    assert scan8["acquisitions"] == sam8["ops"]["free"]           # every free takes it
    assert scan8["contentions"] > 0
    assert scan32["wait_ns_total"] > scan8["wait_ns_total"]
    assert sam8["latency_ns"]["free"]["p99"] > lip["latency_ns"]["free"]["p99"]
