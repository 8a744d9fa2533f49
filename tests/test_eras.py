"""Each mainline era of dead-cache handling, told apart from its neighbours.

leave-in-place ``era``: none (the seed's simple option), 4.0 (kick_all_cpus_sync(),
d6e0b7fa1186), 4.7 (synchronize_sched() per dead cache, 81ae6d03952c), 4.11 (the
shrink after a grace period on a kworker, 01fb58bcba63); ``reparent``: 5.3-5.8
(fb2f2b0adb98).  dentry slabs hold 21 objects; the kit has 2 cpus, one node.
"""
from __future__ import annotations

import pytest

from slabpolicy.api.testing import Kit
from slabpolicy.kernel.costs import DEFAULT_STEPS
from slabpolicy.kernel.slub import CPU_SLAB, PARTIAL

GRACE = DEFAULT_STEPS["rcu_grace_period"].ns
#: time for the work around a grace period (a few cost steps) to finish
SLACK = 100_000
KINDS = ("dentry", "inode_cache", "kmalloc-64")


def offline_latency(era: str, caches: int) -> int:
    """rmdir of a memcg that allocated one object from each of ``caches`` caches
    and freed it again: the offline work's simulated duration on cpu 1 (the work it
    schedules runs on a kworker on cpu 0)."""
    k = Kit(cpus=2, policy="leave-in-place", options={"era": era})
    cg = k.memcg("a")
    for kind in KINDS[:caches]:
        s = k.cache(cg, kind)
        k.free(s, k.alloc(s, cpu=0), cpu=0)
    start = k.t + 1000
    k.offline(cg, cpu=1, at=start)
    assert k.sim.h_offline.count == 1
    return k.slub.cpu_free_at[1] - start


def test_4_7_offline_waits_a_grace_period_per_dead_cache():
    """4.7-4.10: __kmem_cache_shrink(s, true) calls synchronize_sched() for each dead
    cache in turn, so the offline grows by a grace period with every cache."""
    one, three = offline_latency("4.7", 1), offline_latency("4.7", 3)
    assert GRACE <= one < 2 * GRACE
    assert 3 * GRACE <= three < 4 * GRACE


@pytest.mark.parametrize("era", ["none", "4.0", "4.11"])
def test_other_eras_offline_in_microseconds_whatever_the_number_of_caches(era):
    """4.0 IPIs instead of waiting; 4.11 defers the shrink; the seed does nothing."""
    assert offline_latency(era, 3) < 50_000
    assert offline_latency(era, 1) <= offline_latency(era, 3)


def test_4_0_pays_kick_all_cpus_sync_and_flush_ipis_per_cache():
    """4.0-4.6: per cache one kick_all_cpus_sync() and one flush IPI for the one cpu
    that has a cpu slab; the seed's option pays neither."""
    kick = DEFAULT_STEPS["kick_all_cpus"].ns
    flush = DEFAULT_STEPS["flush_cpu"].ns
    assert offline_latency("4.0", 3) - offline_latency("4.0", 1) >= 2 * (kick + flush)
    assert offline_latency("none", 3) < kick


def one_freed_object(era: str):
    k = Kit(cpus=2, policy="leave-in-place", options={"era": era})
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    obj = k.alloc(s, cpu=0)[0]
    k.free(s, obj, cpu=0)              # the cpu slab of cpu 0 is empty, and stays
    return k, cg, s, obj


def test_none_keeps_the_empty_cpu_slab_and_with_it_cache_and_memcg():
    k, cg, s, obj = one_freed_object("none")
    k.offline(cg)
    assert (obj.where, obj.inuse, obj.freed) == (CPU_SLAB, 0, False)
    assert not s.destroyed and cg.state == "offline" and k.memcgs.nr_dying == 1


def test_4_0_discards_the_empty_slab_during_the_offline_then_destroys_after_a_grace_period():
    k, cg, s, obj = one_freed_object("4.0")
    k.offline(cg, wait=False)
    assert obj.freed and s.nr_slabs == 0 and cg.usage == 0
    assert not s.destroyed and cg.state == "offline"      # css_free() comes after RCU
    k.run_until(k.t + GRACE + SLACK)
    assert s.destroyed and cg.state == "released" and k.memcgs.nr_dying == 0
    k.assert_accounting()


def test_4_11_shrinks_on_a_kworker_a_grace_period_after_the_offline():
    """The offline only sets cpu_partial and min_partial to 0; the empty cpu slab is
    still there until the kworker's __kmem_cache_shrink() a grace period later."""
    k, cg, s, obj = one_freed_object("4.11")
    k.offline(cg, wait=False)
    start = k.t
    assert (s.cpu_partial, s.min_partial) == (0, 0)
    assert obj.where == CPU_SLAB and not obj.freed
    k.run_until(start + GRACE - 1)
    assert not obj.freed
    k.run_until(start + GRACE + SLACK)
    assert obj.freed and not s.destroyed
    k.run_until(start + 2 * GRACE + SLACK)
    assert s.destroyed and cg.state == "released"
    k.assert_accounting()


def test_4_0_a_dead_cache_keeps_no_empty_slab_afterwards():
    """min_partial 0 with 4.0's >= tests: a slab of a dead cache that empties on a
    free goes at once, though fewer than min_partial (5) slabs are on the node."""
    k = Kit(cpus=2, policy="leave-in-place", options={"era": "4.0"})
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=2 * 21, cpu=0)
    k.offline(cg)
    assert s.nr_slabs == 2 and cg.usage == 2
    k.free(s, objs[:21], cpu=1)
    assert objs[0].freed and s.nr_slabs == 1 and cg.usage == 1 and cg.state == "offline"
    k.assert_accounting()


def test_kmem_cache_shrink_sorts_the_partial_list_fullest_first():
    """kmem_cache_shrink(): empty slabs discarded, the others ordered by inuse, most
    first, so that allocations fill them before touching the emptier ones."""
    k = Kit(cpus=2, policy="leave-in-place")
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=4 * 21, cpu=0)
    slabs = [objs[i * 21:(i + 1) * 21] for i in range(4)]
    frees = [20, 21, 5, 12]             # leaves 1, 0, 16 and 9 objects
    for group, n in zip(slabs, frees):
        k.free(s, group[:n], cpu=1)
    k.flush(s)
    k.slub.now = k.t
    assert k.slub.kmem_cache_shrink(s) == 1
    assert [sl.inuse for sl in k.node_partial(s)] == [16, 9, 1]
    assert all(sl.where == PARTIAL for sl in k.node_partial(s))


# -- reparent (5.3-5.8) ---------------------------------------------------------------

def test_reparent_releases_the_memcg_while_its_dead_cache_still_holds_an_object():
    """fb2f2b0adb98: the dead cache's memcg pointer moves to the parent; the memcg
    is released at once, the parent is charged, the cache stays until empty."""
    k = Kit(cpus=2, policy="reparent")
    parent = k.memcg("p")
    cg = k.memcg("a", parent)
    s = k.cache(cg, "dentry")
    obj = k.alloc(s, cpu=0)[0]
    k.offline(cg, wait=False)
    assert cg.state == "released" and k.memcgs.nr_dying == 0
    assert s.memcg is parent and s.dead and not s.destroyed and obj.inuse == 1
    assert parent.usage == 1 and cg.usage == 0
    k.run_until(k.t + 2 * GRACE + SLACK)       # the kworker's shrink cannot free a live slab
    assert s.nr_slabs == 1 and not s.destroyed
    k.free(s, obj, cpu=1)
    assert obj.freed and parent.usage == 0 and not s.destroyed
    k.run_until(k.t + GRACE + SLACK)           # kmemcg_cache_shutdown() after call_rcu()
    assert s.destroyed and k.slub.total_pages == 0 == k.root.usage
    k.assert_accounting()


def test_reparent_moves_a_childs_dead_cache_on_up_when_the_parent_goes():
    """The child's dead caches were spliced onto the parent's kmem_caches list, so the
    parent's offline reparents them too, to the root: neither memcg stays dying."""
    k = Kit(cpus=2, policy="reparent")
    parent = k.memcg("p")
    cg = k.memcg("a", parent)
    s = k.cache(cg, "dentry")
    obj = k.alloc(s, cpu=0)[0]
    k.offline(cg)
    k.offline(parent)
    assert s.memcg is k.root and cg.state == parent.state == "released"
    assert k.memcgs.nr_dying == 0 and k.root.usage == 1 and parent.usage == 0
    assert k.policy.caches_reparented == 2
    k.free(s, obj, cpu=0)
    k.run_until(k.t + GRACE + SLACK)
    assert s.destroyed and k.root.usage == 0
    k.assert_accounting()


def test_leave_in_place_4_11_keeps_the_memcg_dying_where_reparent_releases_it():
    """The neighbour of 5.3: with the same object alive, 4.11-5.2 keeps the memcg."""
    k = Kit(cpus=2, policy="leave-in-place", options={"era": "4.11"})
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    k.alloc(s, cpu=0)
    k.offline(cg)
    assert cg.state == "offline" and s.memcg is cg and cg.usage == 1
