"""Replaying a trace: who is charged, what an rmdir does, what is counted, the filters."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.cli import app
from slabpolicy.errors import WorkloadError
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload
from trace_lines import alloc, attach, fork, free, kfree, marker, mkdir, rmdir

PAGE = 4096


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SLABPOLICY_CACHE_DIR", str(tmp_path / "cache"))


def workload(tmp_path, lines, extra="", policies="[leave-in-place, objcg]"):
    (tmp_path / "t.txt").write_text("\n".join(lines) + "\n")
    path = tmp_path / "w.yaml"
    path.write_text(f"name: replay\ntrace: {{file: t.txt{extra}}}\npolicies: {policies}\n")
    return load_workload(path)


def replay(wl, policy):
    runs = resolve_policies(wl, [policy], policy_registry(make_plugin_manager(())))
    return run_one(wl, runs[0], wl.seed, strict=True)


JOB = [mkdir(10, "/job"), attach(20, "/job", 300)]


def test_workload_takes_caches_cpus_and_duration_from_the_trace(tmp_path):
    wl = workload(tmp_path, JOB + [alloc(100, 0xa, pid=300, cpu=1),
                                   alloc(150, 0xb, cache="filp", size=256, pid=300),
                                   free(1010, 0xa, pid=300)])
    assert [(c.name, c.slot_size) for c in wl.caches] == [("dentry", 192), ("filp", 256)]
    assert (wl.machine.cpus, wl.machine.page_size, wl.duration_ns) == (2, PAGE, 1000_000)
    assert wl.groups == ()


def test_objects_are_charged_to_the_allocating_tasks_memcg(tmp_path):
    wl = workload(tmp_path, JOB + [alloc(100, 0xa, pid=300), alloc(110, 0xb, pid=301)])
    for policy in ("leave-in-place", "objcg"):
        doc = replay(wl, policy)
        usage = doc["trace"]["memcg_usage_bytes_at_end"]
        # one dentry slab page (objcg: one page of bytes) charged to /job; pid 301 is in the root
        assert usage["/job"] == PAGE, policy
        assert (doc["trace"]["allocs"], doc["trace"]["never_freed"]) == (2, 2)


def test_a_softirq_free_goes_to_the_objects_memcg_found_by_pointer(tmp_path):
    # as an RCU callback frees a dentry: in softirq on the idle task, on another cpu
    lines = JOB + [alloc(100, 0xa, pid=300), alloc(101, 0xb, pid=300),
                   free(200, 0xa, pid=0, ctx="s", cpu=1), free(201, 0xb, pid=0, ctx="s", cpu=1)]
    wl = workload(tmp_path, lines)
    doc = replay(wl, "objcg")
    assert doc["trace"]["frees"] == 2 and doc["trace"]["unpaired_frees"] == 0
    # both objects' bytes went back to /job's objcg (its per-cpu stock on cpu 1)
    assert doc["ops"]["free"] == 2 and doc["accounting"]["violations"] == 0
    lip = replay(wl, "leave-in-place")
    assert lip["trace"]["memcg_usage_bytes_at_end"]["/job"] in (0, PAGE)
    assert lip["ops"] == {**lip["ops"], "alloc": 2, "free": 2}


def test_allocations_in_irq_context_and_unaccounted_ones_charge_no_one(tmp_path):
    lines = JOB + [alloc(100, 0xa, pid=0, ctx="s"), alloc(101, 0xb, pid=300, accounted="false")]
    doc = replay(workload(tmp_path, lines), "objcg")
    t = doc["trace"]
    assert (t["irq_allocs"], t["unaccounted_allocs"]) == (1, 1)
    assert t["memcg_usage_bytes_at_end"]["/job"] == 0


def test_a_forked_child_allocates_in_its_parents_cgroup(tmp_path):
    lines = JOB + [fork(50, 300, 301), alloc(100, 0xa, pid=301)]
    doc = replay(workload(tmp_path, lines), "leave-in-place")
    assert doc["trace"]["memcg_usage_bytes_at_end"]["/job"] == PAGE


def test_rmdir_with_a_live_object_left_behind(tmp_path):
    # a tmpfs file's dentry outlives its cgroup
    lines = JOB + [alloc(100, 0xa, pid=300), attach(200, "/", 300), rmdir(300, "/job"),
                   alloc(400, 0xb, pid=1)]
    wl = workload(tmp_path, lines)
    lip = replay(wl, "leave-in-place")
    assert lip["memory"]["dying_memcgs"]["final"] == 1      # pinned by its dead cache
    assert lip["trace"]["rmdirs"] == [{"path": "/job", "t_ns": 290_000, "usage_bytes": PAGE,
                                       "parent": "root", "parent_usage_after_bytes": PAGE}]
    objcg = replay(wl, "objcg")
    assert objcg["memory"]["dying_memcgs"]["final"] == 0    # objcg re-parented at offline
    assert objcg["trace"]["rmdirs"][0]["usage_bytes"] == PAGE


def test_unpaired_frees_reallocations_and_never_freed_are_counted_not_errors(tmp_path):
    lines = JOB + [free(100, 0xe, pid=300), alloc(110, 0xa, pid=300), alloc(120, 0xa, pid=300),
                   kfree(130, 0), alloc(140, 0xb, pid=300)]
    t = replay(workload(tmp_path, lines), "leave-in-place")["trace"]
    assert (t["unpaired_frees"], t["reallocated_without_free"], t["never_freed"],
            t["allocs"]) == (1, 1, 2, 3)


def test_markers_keep_the_kernels_reading_with_the_prediction(tmp_path):
    lines = JOB + [alloc(100, 0xa, pid=300),
                   marker(200, "slabpolicy-kmem path=/job kmem_bytes=8192 when=poll")]
    doc = replay(workload(tmp_path, lines), "objcg")
    assert doc["trace"]["readings"] == [{"path": "/job", "t_ns": 190_000, "when": "poll",
                                         "measured_bytes": 8192, "predicted_bytes": PAGE}]


def test_filters_caches_cgroups_window_accounted(tmp_path):
    lines = JOB + [alloc(100, 0xa, pid=300), alloc(110, 0xb, cache="filp", size=256, pid=300),
                   alloc(120, 0xc, pid=301), alloc(130, 0xd, pid=300, accounted="false"),
                   free(140, 0xb, cache="filp", pid=300), alloc(5000, 0xf, pid=300)]
    only_dentry = replay(workload(tmp_path, lines, ", caches: [dentry]"), "leave-in-place")
    assert [c for c in only_dentry["trace"]["cache_pages_at_end"]] == ["dentry"]
    assert only_dentry["trace"]["filtered"] == 1           # filp's free, after its skipped alloc
    job_only = replay(workload(tmp_path, lines, ", cgroups: [/job]"), "leave-in-place")
    assert job_only["trace"]["allocs"] == 4                  # pid 301 (the root) left out
    window = replay(workload(tmp_path, lines, ", end: 200us"), "leave-in-place")
    assert window["trace"]["allocs"] == 4 and window["duration_ns"] == 200_000
    accounted = replay(workload(tmp_path, lines, ", accounted_only: true"), "leave-in-place")
    assert accounted["trace"]["allocs"] == 4


def test_same_trace_same_numbers(tmp_path):
    wl = workload(tmp_path, JOB + [alloc(100 + i, 0x100 + i, pid=300, cpu=i % 2)
                                   for i in range(300)] + [free(900 + i, 0x100 + i, cpu=(i + 1) % 2)
                                                           for i in range(0, 300, 3)])
    a, b = replay(wl, "objcg"), replay(wl, "objcg")
    for doc in (a, b):
        doc.pop("wall_seconds")
        doc.pop("provenance")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_a_trace_workload_names_no_caches_or_cgroups_and_a_missing_file_is_one_line(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("name: x\ntrace: nothere.txt\ncaches: []\n")
    with pytest.raises(WorkloadError) as e:
        load_workload(path)
    assert str(e.value).splitlines() == [
        f"{path}:2: trace: {tmp_path / 'nothere.txt'}: no such trace file",
        f"{path}:3: caches: not used with trace: the trace gives the caches and cgroups"]


def test_compare_runs_one_seed_of_a_trace_and_says_there_is_no_ci(tmp_path):
    workload(tmp_path, JOB + [alloc(100, 0xa, pid=300), free(200, 0xa, pid=300)])
    out = CliRunner().invoke(app, ["compare", str(tmp_path / "w.yaml"), "--jobs", "1",
                                   "--out", str(tmp_path / "res"),
                                   "--metric", "memory.slab_pages.peak"])
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in (tmp_path / "res").glob("*.json")) == [
        "manifest.json", "replay--leave-in-place--seed1.json", "replay--objcg--seed1.json"]
    assert "n=1" in out.output
