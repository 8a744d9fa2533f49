"""reap-after-delay, scenario by scenario, with slabpolicy's test kit.

Every count is exact.  A dentry is 192 bytes: 21 objects in an order-0 slab (one
page).  ``kit.offline()`` would run every queued event, the delayed reap
included, so these tests split it: :func:`rmdir` starts the offline alone
(``wait=False``), and :func:`run_until_idle` runs what it scheduled.

Run them with the package installed (``pip install -e '.[test]'``), from this
directory: ``python -m pytest``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from slabpolicy.errors import SlabpolicyError
from slabpolicy.kernel.memcg import OFFLINE, RELEASED
from slabpolicy.analysis.metrics import catalogue, lookup, metric_paths
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.kernel.slub import CPU_PARTIAL, CPU_SLAB, NOWHERE
from slabpolicy.api.testing import Kit

SECOND = 1_000_000_000
PER_SLAB = 21                     # dentries per order-0 slab


def rmdir(kit: Kit, memcg) -> int:
    """rmdir on cpu 0 and the policy's offline work, but nothing it scheduled.
    Returns the time of the offline."""
    kit.offline(memcg, cpu=0, wait=False)
    return kit.t


def run_until_idle(kit: Kit) -> None:
    """Run every queued event (the delayed reap); later operations come after it."""
    kit.run_until(kit.t + 3600 * SECOND)


def three_slabs(kit: Kit, keep_middle: bool = True):
    """A memcg with three full dentry slabs on cpu 0; then the first and the third
    are emptied (the first onto cpu 0's partial list, the third is the cpu slab).
    The middle one stays full unless ``keep_middle`` is false."""
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    objs = kit.alloc(dentry, n=3 * PER_SLAB, cpu=0)
    first, middle, third = objs[0], objs[PER_SLAB], objs[2 * PER_SLAB]
    assert len({first, middle, third}) == 3 and dentry.nr_slabs == 3
    kit.free(dentry, objs[:PER_SLAB])
    kit.free(dentry, objs[2 * PER_SLAB:])
    if not keep_middle:
        kit.free(dentry, objs[PER_SLAB:2 * PER_SLAB])
    return cg, dentry, (first, middle, third), objs[PER_SLAB:2 * PER_SLAB]


def test_the_policy_is_installed_as_an_entry_point():
    entry = policy_registry(make_plugin_manager())["reap-after-delay"]
    assert entry.source == "entry point (slabpolicy-reap-after-delay 0.1.0)"
    assert entry.plugin == "reap-after-delay"
    assert [(o.name, o.type, o.default) for o in entry.spec.options] == [
        ("delay", "duration", SECOND)]
    assert entry.spec.api_version == 1


def test_before_the_delay_the_dead_cache_keeps_its_slabs():
    kit = Kit(cpus=2, policy="reap-after-delay")
    cg, dentry, (first, middle, third), _ = three_slabs(kit)
    rmdir(kit, cg)
    # offline did nothing but mark the cache dead: every slab where it was
    assert dentry.dead and not dentry.destroyed and cg.state == OFFLINE
    assert dentry.nr_slabs == dentry.existing_slabs() == 3
    assert kit.slub.total_pages == 3 and cg.usage == 3
    assert (first.inuse, first.where) == (0, CPU_PARTIAL)
    assert (middle.inuse, middle.where) == (PER_SLAB, NOWHERE)
    assert (third.inuse, third.where) == (0, CPU_SLAB)
    assert kit.policy.reaped == 0
    kit.assert_accounting()


def test_after_the_delay_the_empty_slabs_are_gone():
    kit = Kit(cpus=2, policy="reap-after-delay")
    cg, dentry, (first, middle, third), _ = three_slabs(kit)
    offline_at = rmdir(kit, cg)
    run_until_idle(kit)
    assert kit.slub.cpu_free_at[0] >= offline_at + SECOND       # the reap ran at t+1s
    assert first.freed and third.freed and not middle.freed
    assert dentry.nr_slabs == dentry.existing_slabs() == 1
    assert kit.slub.total_pages == 1 and cg.usage == 1
    # a live object pins the cache and the memcg
    assert not dentry.destroyed and cg.state == OFFLINE
    assert (kit.policy.reaped, kit.policy.destroyed_at_reap) == (1, 0)
    kit.assert_accounting()


def test_all_objects_freed_before_the_delay_releases_cache_and_memcg():
    kit = Kit(cpus=2, policy="reap-after-delay")
    cg, dentry, slabs, _ = three_slabs(kit, keep_middle=False)
    rmdir(kit, cg)
    # no live object, but SLUB keeps the empty slabs: the cpu slab, the cpu
    # partial list, and fewer than min_partial on the node partial list
    assert dentry.nr_slabs == 3 and kit.slub.total_pages == 3
    assert not dentry.destroyed and cg.state == OFFLINE
    run_until_idle(kit)
    assert all(slab.freed for slab in slabs)
    assert dentry.destroyed and cg.state == RELEASED
    assert kit.slub.total_pages == 0 and cg.usage == 0
    assert dentry not in kit.slub.dead_caches and kit.memcgs.nr_dying == 0
    assert (kit.policy.reaped, kit.policy.destroyed_at_reap) == (1, 1)
    kit.assert_accounting()


def test_the_last_free_after_the_reap_releases_cache_and_memcg():
    kit = Kit(cpus=2, policy="reap-after-delay")
    cg, dentry, (_, middle, _), survivors = three_slabs(kit)
    rmdir(kit, cg)
    run_until_idle(kit)
    kit.free(dentry, survivors[:-1], cpu=1)
    # after the reap the cache keeps no empty slab, but this one is not empty yet
    assert middle.inuse == 1 and dentry.nr_slabs == 1 and not dentry.destroyed
    kit.free(dentry, survivors[-1], cpu=1)
    assert middle.freed and dentry.destroyed and cg.state == RELEASED
    assert kit.slub.total_pages == 0 and cg.usage == 0
    kit.assert_accounting()


def test_the_delay_option():
    kit = Kit(cpus=2, policy="reap-after-delay", options={"delay": "10ms"})
    assert kit.policy.delay_ns == 10_000_000
    cg, dentry, _, _ = three_slabs(kit, keep_middle=False)
    offline_at = rmdir(kit, cg)
    run_until_idle(kit)
    assert dentry.destroyed
    assert offline_at + 10_000_000 <= kit.slub.cpu_free_at[0] < offline_at + SECOND


@pytest.mark.parametrize("value, message", [
    (5, "bad duration '5': a unit is required"),
    ("-1s", "bad duration '-1s': must not be negative"),
])
def test_a_bad_delay_is_refused(value, message):
    with pytest.raises(SlabpolicyError, match=message):
        Kit(cpus=2, policy="reap-after-delay", options={"delay": value})


def test_compared_with_the_bundled_policies():
    """compare.yaml, run as ``slabpolicy run compare.yaml`` runs it: a second after
    the offline every dead cache has gone, which leaving them in place never
    achieves, and the offline itself costs nothing, which shrinking at once (Linux 4.0) does not."""
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.spec import load_workload

    workload = load_workload(Path(__file__).parent.parent / "compare.yaml")
    registry = policy_registry(make_plugin_manager())
    runs = resolve_policies(workload, ["leave-in-place", "leave-in-place-4.0",
                                       "reap-after-delay"], registry)
    left, shrunk, reaped = (run_one(workload, r, workload.seed) for r in runs)
    for result in (left, shrunk, reaped):
        assert result["accounting"]["violations"] == 0
    assert reaped["policy"]["source"] == "entry point (slabpolicy-reap-after-delay 0.1.0)"
    assert reaped["policy"]["options"] == {"delay": SECOND}
    assert left["memory"]["dead_caches"]["final"] == workload.groups[0].count
    assert reaped["memory"]["dead_caches"]["final"] == 0
    assert reaped["memory"]["dying_memcgs"]["final"] == 0
    assert reaped["memory"]["dead_cache_pages"]["mean"] < left["memory"]["dead_cache_pages"]["mean"]
    assert reaped["latency_ns"]["offline"]["max"] == 0 < shrunk["latency_ns"]["offline"]["max"]
    assert reaped["policy_stats"]["caches_reaped"] == workload.groups[0].count
    # what run_end adds is declared to the metric catalogue, with its source
    metrics = catalogue(make_plugin_manager())
    for path in metric_paths(reaped):
        assert lookup(path, metrics) is not None, path
    assert lookup("policy_stats.caches_reaped", metrics).source == reaped["policy"]["source"]
