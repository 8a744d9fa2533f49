"""The policy-level operations (slabpolicy/kernel/policy_ops.py), pinned in kit scenarios.

Each operation's counters, charges, costs and lock acquisitions are exact.
Geometry: ``dentry`` (192-byte slots) on a 2-cpu, 4 KiB-page machine is an
order-0 slab of 21 objects, min_partial 5.  Default costs: lock 16, list_op 2,
memcg_charge 53, cache_destroy 10000 ns.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from slabpolicy.api.testing import Kit
from slabpolicy.kernel.costs import default_costs
from slabpolicy.kernel.slub import FULL, PARTIAL

PER_SLAB = 21
C = default_costs()
MOVER = str(Path(__file__).resolve().parent / "move_to_ancestor.py")


def three_partial_slabs(k: Kit, cache):
    """Slabs A, B (20 objects each) and C (5) on ``cache``'s node partial list, [C, B, A]:
    two full slabs and the cpu slab on cpu 0, one free each into A and B from cpu 1
    (onto cpu 1's partial list), then flush_all()."""
    objs = k.alloc(cache, n=2 * PER_SLAB + 5, cpu=0)
    a, b, c = objs[0], objs[PER_SLAB], objs[-1]
    k.free(cache, [a, b], cpu=1)
    k.flush(cache)
    assert k.node_partial(cache) == [c, b, a]
    assert (a.inuse, b.inuse, c.inuse) == (20, 20, 5)
    return a, b, c


def timed(k: Kit, fn, *args):
    """Run ``fn`` on the op clock at the kit's next time; return (result, ns it took)."""
    k.slub.now = start = k.t = k.t + k.step_ns
    result = fn(*args)
    return result, k.slub.now - start


def test_move_partial_slabs_to_the_root_cache_moves_counters_and_charge():
    """Three partial slabs of a memcg's dentry cache go to the root's: both node
    list_locks once (2 lock), remove_partial + add_partial per slab (2 list_op each),
    one uncharge up to the root, which stays charged (memcg_charge)."""
    k = Kit()
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    a, b, c = three_partial_slabs(k, dentry)
    locks = k.lock_stats()["acquisitions"]
    moved, ns = timed(k, k.sim.move_partial_slabs, dentry, root_dentry)
    assert moved == 3
    assert ns == 2 * C["lock"] + 3 * 2 * C["list_op"] + C["memcg_charge"] == 97
    assert k.lock_stats()["acquisitions"] == locks + 2
    assert k.node_partial(dentry) == [] and k.node_partial(root_dentry) == [c, b, a]
    assert {a.cache, b.cache, c.cache} == {root_dentry}
    assert (dentry.nr_slabs, dentry.existing_slabs()) == (0, 0)
    assert (root_dentry.nr_slabs, root_dentry.node[0].total_objects) == (3, 3 * PER_SLAB)
    assert (cg.usage, k.root.usage) == (0, 3)
    k.assert_accounting()
    # later frees go to the slab's own cache, the root's
    k.free(dentry, a, cpu=0)
    assert a.inuse == 19 and a.cache is root_dentry
    k.assert_accounting()


def test_move_slab_between_siblings_uncharges_one_and_charges_the_other():
    """a and b share only the root: a's counter is uncharged and b's charged
    (memcg_charge each); the root's stays as it was."""
    k = Kit()
    ca, cb = k.memcg("a"), k.memcg("b")
    da, db = k.cache(ca, "dentry"), k.cache(cb, "dentry")
    slab, *_ = three_partial_slabs(k, da)
    _, ns = timed(k, k.sim.move_slab, slab, db)
    assert ns == 2 * C["lock"] + 2 * C["list_op"] + 2 * C["memcg_charge"] == 142
    assert (ca.usage, cb.usage, k.root.usage) == (2, 1, 3)
    assert (da.nr_slabs, db.nr_slabs) == (2, 1) and k.node_partial(db) == [slab]
    assert cb.max_usage == 1
    k.assert_accounting()


def test_move_to_the_parents_cache_leaves_the_parent_charged():
    """res_counter_uncharge_until(child, parent): the child alone is uncharged."""
    k = Kit()
    parent = k.memcg("p")
    child = k.memcg("c", parent)
    dc, dp = k.cache(child, "dentry"), k.cache(parent, "dentry")
    three_partial_slabs(k, dc)
    moved, ns = timed(k, k.sim.move_partial_slabs, dc, dp)
    assert moved == 3 and ns == 2 * C["lock"] + 3 * 2 * C["list_op"] + C["memcg_charge"]
    assert (child.usage, parent.usage, k.root.usage) == (0, 3, 3)
    k.assert_accounting()


def test_a_full_slab_moves_from_full_list_to_full_list():
    """A SLAB_STORE_USER cache keeps full slabs on the node full list: remove_full() and
    add_full() are a list_op each, as remove_partial() and add_partial() are."""
    k = Kit(store_user=("dentry",))
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    objs = k.alloc(dentry, n=PER_SLAB + 1, cpu=0)    # the first slab full, on the full list
    full = objs[0]
    assert full.where == FULL and list(dentry.node[0].full) == [full]
    _, ns = timed(k, k.sim.move_slab, full, root_dentry)
    assert ns == 2 * C["lock"] + 2 * C["list_op"] + C["memcg_charge"]
    assert list(dentry.node[0].full) == [] and list(root_dentry.node[0].full) == [full]
    assert full.where == FULL and full.cache is root_dentry
    k.assert_accounting()


def test_moves_that_cannot_be_done_are_refused():
    k = Kit(kinds={"dentry": (192, 192), "kmalloc-256": (256, 256)})
    cg = k.memcg("a")
    dentry, other = k.cache(cg, "dentry"), k.cache(cg, "kmalloc-256")
    root_dentry = k.slub.root_caches[dentry.index]
    cpu_slab = k.alloc(dentry, n=1)[0]
    with pytest.raises(ValueError, match="frozen on cpu 0; flush_all"):
        k.sim.move_slab(cpu_slab, root_dentry)
    k.flush(dentry)
    with pytest.raises(ValueError, match="not of .* kind"):
        k.sim.move_slab(cpu_slab, other)
    with pytest.raises(ValueError, match="already belong"):
        k.sim.move_slab(cpu_slab, dentry)
    assert cpu_slab.cache is dentry and dentry.nr_slabs == 1 and cg.usage == 1
    k.assert_accounting()


def test_moving_the_last_slab_of_a_dead_cache_fires_dead_cache_empty():
    """A policy that moves every slab away at offline gets slabpolicy_dead_cache_empty
    once, at the move, and destroys the cache there: the memcg is released with the
    offline, and the root holds the pages and their charge."""
    k = Kit(policy="move-to-ancestor", plugins=(MOVER,))
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    a, b, c = three_partial_slabs(k, dentry)
    k.offline(cg)
    assert [name for name, _ in k.policy.emptied] == [dentry.name]
    assert dentry.destroyed and not k.slub.dead_caches and cg.state == "released"
    assert k.node_partial(root_dentry) == [c, b, a]
    assert (root_dentry.nr_slabs, k.root.usage, cg.usage) == (3, 3, 0)
    assert k.sim.dead_caches() == [] and k.sim.dying_memcgs() == []
    k.assert_accounting()


def test_a_dead_cache_whose_full_slab_stays_is_emptied_later_by_a_free():
    """The full slab (on no list) is not moved; the cache stays dead until that slab is
    freed and discarded, and then dead_cache_empty fires, from discard_slab()."""
    k = Kit(policy="move-to-ancestor", plugins=(MOVER,))
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=PER_SLAB + 3, cpu=0)    # one full slab, and the cpu slab
    full, part = objs[0], objs[-1]
    k.offline(cg)
    assert k.policy.emptied == [] and part.cache is not dentry and full.cache is dentry
    assert k.sim.dead_caches() == [dentry] and k.sim.dying_memcgs() == [cg]
    assert (dentry.nr_slabs, cg.usage, k.root.usage) == (1, 1, 2)
    k.free(dentry, objs[:PER_SLAB], cpu=1)
    k.slub.now = k.t
    # the empty slab is on cpu 1's partial list: the shrink's flush_all() discards it
    # (3.4's unfreeze_partials(): empty, met before any list_lock), none is left on
    # the node list for the shrink itself
    assert k.slub.kmem_cache_shrink(dentry) == 0 and dentry.stats["DEACTIVATE_EMPTY"] == 1
    assert [name for name, _ in k.policy.emptied] == [dentry.name]
    assert dentry.destroyed and cg.state == "released" and k.sim.dying_memcgs() == []
    k.assert_accounting()


def test_destroy_cache_if_empty():
    """Only a dead cache with no slab is destroyed, at the cost of cache_destroy; its
    reference on the memcg goes, and the memcg with it."""
    k = Kit()
    cg = k.memcg("a")
    dentry, inodes = k.cache(cg, "dentry"), k.cache(cg, "inode_cache")
    obj = k.alloc(dentry)[0]
    with pytest.raises(ValueError, match="its memcg is online"):
        k.sim.destroy_cache_if_empty(inodes)
    k.offline(cg)                          # leave-in-place destroys the empty inode cache
    assert inodes.destroyed and not dentry.destroyed and cg.refs == 1
    destroyed, ns = timed(k, k.sim.destroy_cache_if_empty, dentry)
    assert (destroyed, ns) == (False, 0)
    k.free(dentry, obj)                    # the cpu slab keeps the empty slab
    assert dentry.existing_slabs() == 1
    assert timed(k, k.sim.destroy_cache_if_empty, dentry) == (False, 0)
    k.flush(dentry)
    k.slub.now = k.t
    k.slub.kmem_cache_shrink(dentry)       # leave-in-place queues its destroy at dead_cache_empty
    k.run_until(k.t + 1_000_000)           # ... and the work item destroys it
    assert dentry.destroyed and cg.state == "released"
    assert timed(k, k.sim.destroy_cache_if_empty, dentry) == (False, 0)
    with pytest.raises(ValueError, match="a root cache"):
        k.sim.destroy_cache_if_empty(k.slub.root_caches[0])


def test_destroy_cache_if_empty_destroys_and_releases():
    k = Kit(policy="move-to-ancestor", plugins=(MOVER,))
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    k.memcgs.get(cg)                       # something else pins the memcg a while
    k.slub.mark_dead(dentry)               # dead, not yet offline: nothing destroyed it
    destroyed, ns = timed(k, k.sim.destroy_cache_if_empty, dentry)
    assert (destroyed, ns) == (True, C["cache_destroy"])
    assert dentry.destroyed and cg.refs == 1 and k.sim.dead_caches() == []


def test_dead_caches_dying_memcgs_online_ancestor_and_offline_ns():
    """p > c, each pinned by one object: c's offline leaves p its nearest online
    ancestor; after p's, the root is.  Both are dying, by id."""
    k = Kit()
    p = k.memcg("p")
    c = k.memcg("c", p)
    dp, dc = k.cache(p, "dentry"), k.cache(c, "dentry")
    k.alloc(dp)
    k.alloc(dc)
    assert k.sim.online_ancestor(c) is p and k.sim.online_ancestor(p) is k.root
    k.offline(c, at=50_000)
    assert c.offline_ns == 50_000 and p.offline_ns is None
    assert k.sim.online_ancestor(c) is p
    assert k.sim.dead_caches() == [dc] and k.sim.dying_memcgs() == [c]
    k.offline(p, at=60_000)
    assert p.offline_ns == 60_000
    assert k.sim.online_ancestor(c) is k.root
    assert k.sim.dead_caches() == [dp, dc] and k.sim.dead_caches(c) == [dc]
    assert k.sim.dying_memcgs() == [p, c]
