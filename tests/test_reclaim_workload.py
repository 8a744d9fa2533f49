"""The workload fields of reclaim and RCU: machine.memory, a group's memory limits,
a stream's unused_lifetime, a cache's rcu mode, the reclaim section; and the
one-line problems a mistake in them gets."""
from __future__ import annotations

import pytest

from slabpolicy.errors import WorkloadError
from slabpolicy.workloads.distributions import Exponential, Forever
from slabpolicy.workloads.spec import load_workload

BASE = """\
name: t
duration: 1s
machine:
  cpus: 2
  memory: {memory}
caches:
  - name: dentry
    object_size: 192
    rcu: {rcu}
cgroups:
  - name: g
    count: 1
    memory: {limits}
    streams:
      - cache: dentry
        rate: {rate}
        lifetime: 5ms
        unused_lifetime: {unused}
reclaim: {reclaim}
"""
GOOD = dict(memory="64MiB", rcu="call_rcu", rate="10/s", limits="{high: 1MiB, limit_in_bytes: 2MiB}",
            unused="{dist: exponential, mean: 1s}",
            reclaim="{vfs_cache_pressure: 200, small_cache_pressure: true, memcg_aware_lru: false}")


def load(tmp_path, **changes):
    path = tmp_path / "w.yaml"
    path.write_text(BASE.format(**{**GOOD, **changes}))
    return load_workload(path), str(path)


def test_every_field_is_read(tmp_path):
    wl, _ = load(tmp_path)
    assert wl.machine.memory == 64 << 20
    assert wl.caches[0].rcu == "call_rcu"
    group = wl.groups[0]
    assert (group.memory_high, group.memory_max) == (1 << 20, 2 << 20)
    assert group.streams[0].unused_lifetime == Exponential(1_000_000_000)
    assert (wl.reclaim.vfs_cache_pressure, wl.reclaim.small_cache_pressure,
            wl.reclaim.memcg_aware_lru) == (200, True, False)
    wl, _ = load(tmp_path, unused="forever", limits="{max: 3MiB}", memory="unlimited")
    assert wl.machine.memory is None
    assert wl.groups[0].streams[0].unused_lifetime == Forever()
    assert (wl.groups[0].memory_high, wl.groups[0].memory_max) == (None, 3 << 20)


@pytest.mark.parametrize("changes, line, message", [
    (dict(memory="1KiB"), 5, "machine.memory: must be at least one page (4KiB), got 1KiB"),
    (dict(rcu="rcu_call"), 9,
     "caches[0].rcu: unknown rcu mode 'rcu_call'; expected one of: none, call_rcu, typesafe, kfree_rcu"),
    (dict(limits="{max: 1MiB, limit_in_bytes: 2MiB}"), 13,
     "cgroups[0].memory.limit_in_bytes: limit_in_bytes is cgroup v1's name for max; give one of them"),
    (dict(limits="{hihg: 1MiB}"), 13, "cgroups[0].memory.hihg: unknown field 'hihg'; did you mean 'high'?"),
    (dict(unused="soon"), 18, "cgroups[0].streams[0].unused_lifetime: expected a duration"),
    (dict(reclaim="{vfs_cache_pressure: -1}"), 19,
     "reclaim.vfs_cache_pressure: must be at least 0, got -1"),
])
def test_a_mistake_is_one_line_naming_file_line_and_field(tmp_path, changes, line, message):
    with pytest.raises(WorkloadError) as info:
        load(tmp_path, **changes)
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith(f"{tmp_path / 'w.yaml'}:{line}: {message}"), problem


def test_reclaim_and_rcu_figures_are_metric_paths(tmp_path):
    """A small run under pressure: its ``reclaim`` and ``rcu`` objects hold numbers that
    ``compare --metric`` reads by their dotted paths."""
    from slabpolicy.analysis.report import metric_value
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one

    wl, _ = load(tmp_path, memory="256KiB", limits="{high: 64KiB}", rate="20000/s")
    [run] = resolve_policies(wl, [], policy_registry(make_plugin_manager()))
    result = run_one(wl, run, 1, strict=True)
    for metric in ("reclaim.scanned.dying", "reclaim.freed.live", "reclaim.freed.total",
                   "reclaim.time_ns.direct", "reclaim.time_ns.background",
                   "reclaim.direct.stalls", "reclaim.direct.latency_ns.p99",
                   "rcu.callbacks", "rcu.batches", "rcu.batch_size.p99", "rcu.batch_size.max"):
        assert metric_value(result, metric) == float(_dig(result, metric))
    assert result["rcu"]["callbacks"] > 0 and result["reclaim"]["freed"]["total"] > 0


def _dig(doc, path):
    for part in path.split("."):
        doc = doc[part]
    return doc
