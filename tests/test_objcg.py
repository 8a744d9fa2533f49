"""objcg (Linux 5.9+), pinned: shared caches, byte charges through a per-cpu stock,
O(1) re-parenting at offline.

dentry: 192-byte slots, so obj_full_size = 192 + 8 = 200 bytes; 4 KiB pages.
"""
from __future__ import annotations

from slabpolicy.api.testing import Kit

OBJ = 200
PAGE = 4096


def setup(n_objects: int):
    k = Kit(cpus=2, policy="objcg")
    parent = k.memcg("parent")
    child = k.memcg("child", parent)
    cache = k.cache(child, "dentry")
    objcg = k.objcg(child)
    objs = k.alloc(cache, n=n_objects, cpu=0, objcg=objcg)
    return k, parent, child, cache, objcg, objs


def test_every_memcg_allocates_from_the_shared_root_cache():
    k, parent, child, cache, objcg, objs = setup(3)
    assert cache is k.slub.root_caches[cache.index] and cache.account
    assert k.cache(parent, "dentry") is cache
    assert len(k.slub.caches) == len(k.slub.root_caches)       # no per-memcg cache


def test_objects_are_charged_in_bytes_through_the_per_cpu_stock():
    """obj_cgroup_charge(): the first object charges a whole page and leaves
    4096 - 200 = 3896 bytes in the stock; the next 19 are served from it; the 21st
    finds 96 bytes and charges a second page (96 + 3896 left)."""
    k, parent, child, cache, objcg, objs = setup(20)
    stock = k.slub.objcgs.stocks[0]
    assert (child.usage, objcg.pages, stock.cached, stock.nr_bytes) == (1, 1, objcg, 96)
    k.alloc(cache, cpu=0, objcg=objcg)
    assert (objcg.pages, stock.nr_bytes) == (2, 96 + PAGE - OBJ)
    assert parent.usage == child.usage == 2            # hierarchical page counter
    assert objcg.live_bytes == 21 * OBJ
    k.assert_accounting()


def test_after_offline_no_dead_cache_the_parent_holds_the_charge_and_later_frees_uncharge_it():
    """memcg_reparent_objcgs(): the child's objcg points at the parent; the child is
    released at once; no dead cache exists.  The first later free pushes the stock
    over a page (3992 + 200 > 4096): one page is uncharged, from the parent."""
    k, parent, child, cache, objcg, objs = setup(21)
    assert (objcg.pages, parent.usage, child.usage) == (2, 2, 2)
    k.offline(child)
    assert child.state == "released" and objcg.memcg is parent
    assert not k.slub.dead_caches and k.memcgs.nr_dying == 0
    assert (child.usage, parent.usage) == (0, 2)
    k.free(cache, objs[0], cpu=0, objcg=objcg)
    assert parent.usage == 1 and objcg.pages == 1
    k.free(cache, objs[1:], cpu=0, objcg=objcg)
    stock = k.slub.objcgs.stocks[0]
    assert (parent.usage, objcg.live_bytes, stock.nr_bytes) == (1, 0, PAGE)
    k.assert_accounting()


def test_a_stock_switching_objcg_drains_the_old_bytes_into_the_objcg():
    """refill_obj_stock() for another objcg: drain_obj_stock() uncharges the whole
    pages of the old stock and parks the rest in the old objcg's nr_charged_bytes."""
    k, parent, child, cache, objcg, objs = setup(2)            # stock: 3696 bytes of child
    other = k.objcg(parent)
    k.alloc(cache, cpu=0, objcg=other)
    assert objcg.nr_charged_bytes == PAGE - 2 * OBJ
    stock = k.slub.objcgs.stocks[0]
    assert stock.cached is other and stock.nr_bytes == PAGE - OBJ
    k.assert_accounting()


def test_offline_is_constant_in_the_objects_left_behind():
    """Re-parenting touches the objcgs, not the objects: the offline of a memcg with
    5 objects and of one with 2000 costs the same."""
    latencies = []
    for n in (5, 2000):
        k, parent, child, cache, objcg, objs = setup(n)
        k.offline(child)
        latencies.append(k.sim.h_offline.max)
        k.assert_accounting()
    assert latencies[0] == latencies[1] > 0
    c = Kit(cpus=2, policy="objcg").slub.costs
    assert latencies[0] == c["lock"] + c["list_op"]


def test_the_per_object_charge_costs_the_published_cycles():
    """Waiman Long's 49 ns a pair (objcg_charge): a stock hit adds it to the fast path."""
    k, parent, child, cache, objcg, objs = setup(3)
    c = k.slub.costs
    assert k.slub.h_alloc_fast_rec.count == 2            # the first one took the slow path
    assert k.slub.h_alloc_fast_rec.max == c["alloc_fast"] + c["objcg_charge"]
