"""SLUB behaviour pinned with exact counts (mm/slub.c, 3.3/3.4 era).

Each test sets up slabs and cgroups with the test kit, acts, and asserts what
the kernel would show: which list a slab is on, slab and page counts, charges,
list_lock acquisitions.
"""
from __future__ import annotations

import pytest

from slabpolicy.kernel.slub import CPU_PARTIAL, CPU_SLAB, NOWHERE, PARTIAL
from slabpolicy.api.testing import Kit

# The kit's SLUB era is 3.4 (tests/test_slub_eras.py sets each era against the other).
# kmalloc-64: 64 objects per order-0 slab, min_partial 5, cpu_partial 30 (2 cpus)
# big: 4096-byte slots, 8 per order-3 slab, min_partial 6, cpu_partial 2
KINDS = {"kmalloc-64": (64, 64), "big": (4096, 4096)}


def full_slabs(kit, cache, n_slabs, cpu=0):
    """Allocate ``n_slabs`` slabs' worth of objects on ``cpu``: the last one stays the
    cpu slab (full), the others are full and on no list.  Returns objects by slab."""
    per = cache.objects
    objs = kit.alloc(cache, n=n_slabs * per, cpu=cpu)
    return [objs[i * per:(i + 1) * per] for i in range(n_slabs)]


@pytest.fixture
def kit():
    return Kit(cpus=2, kinds=KINDS)


def test_geometry_of_the_scenario_caches(kit):
    cg = kit.memcg("a")
    small, big = kit.cache(cg, "kmalloc-64"), kit.cache(cg, "big")
    assert (small.objects, small.order, small.min_partial, small.cpu_partial) == (64, 0, 5, 30)
    assert (big.objects, big.order, big.min_partial, big.cpu_partial) == (8, 3, 6, 2)


def test_allocations_fill_the_cpu_slab_then_leave_full_slabs_on_no_list(kit):
    """___slab_alloc(): an exhausted cpu slab is unfrozen onto no list (no full list
    without SLAB_STORE_USER) and a new slab comes from the page allocator."""
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    slabs = full_slabs(kit, s, 3)
    first, second, third = (objs[0] for objs in slabs)
    assert first is not second is not third
    assert (first.where, first.frozen, first.inuse) == (NOWHERE, False, 64)
    assert (third.where, third.frozen) == (CPU_SLAB, True)
    assert s.nr_slabs == 3 and kit.slub.total_pages == 3
    assert cg.usage == 3 and kit.root.usage == 3          # charged up the hierarchy
    assert kit.slub.n_alloc_slow == 3 and kit.slub.n_alloc_fast == 3 * 64 - 3
    assert kit.lock_stats()["acquisitions"] == 0           # no list_lock on the way
    kit.assert_accounting()


def test_first_free_into_a_full_slab_freezes_it_onto_the_freeing_cpus_partial_list(kit):
    """__slab_free(): "Slab was on no list before and will be partially empty. We can
    defer the list move and instead freeze it" -> put_cpu_partial() on this cpu, no
    list_lock."""
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    slabs = full_slabs(kit, s, 3, cpu=0)
    kit.free(s, slabs[0][0], cpu=1)
    slab = slabs[0][0]
    assert kit.cpu_partial(s, cpu=1) == [slab]
    assert kit.cpu_partial(s, cpu=0) == []
    assert (slab.where, slab.frozen, slab.inuse, slab.cpu) == (CPU_PARTIAL, True, 63, 1)
    assert s.stats["CPU_PARTIAL_FREE"] == 1
    assert kit.lock_stats()["acquisitions"] == 0
    # a second free into the frozen slab is a FREE_FROZEN: nothing moves
    kit.free(s, slabs[0][1], cpu=0)
    assert (slab.where, slab.inuse, s.stats["FREE_FROZEN"]) == (CPU_PARTIAL, 62, 1)
    kit.assert_accounting()


def test_the_cpu_slabs_own_frees_take_the_fast_path_and_other_cpus_the_slow_path(kit):
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    objs = kit.alloc(s, n=10, cpu=0)
    kit.free(s, objs[:4], cpu=0)
    kit.free(s, objs[4:], cpu=1)
    assert (kit.slub.n_free_fast, kit.slub.n_free_slow) == (4, 6)
    assert s.stats["FREE_FROZEN"] == 6      # the slab is cpu 0's cpu slab: frozen
    assert objs[0].inuse == 0 and s.cpu[0].freelist == 64 - 10 + 4
    kit.assert_accounting()


def test_cpu_partial_overflow_is_unfrozen_onto_the_node_list_under_list_lock(kit):
    """put_cpu_partial(): "partial array is full. Move the existing set to the per node
    partial list" (unfreeze_partials() under list_lock, CPU_PARTIAL_DRAIN).

    ``big`` has cpu_partial 2 (3.4): three first-frees put three slabs with one free
    object each (pobjects 3 > 2); the fourth drains those three onto the node list."""
    cg = kit.memcg("a")
    s = kit.cache(cg, "big")
    slabs = full_slabs(kit, s, 5, cpu=0)
    heads = [objs[0] for objs in slabs]
    for objs in slabs[:3]:
        kit.free(s, objs[0], cpu=1)
    assert s.cpu[1].pobjects == 3 and kit.lock_stats()["acquisitions"] == 0
    kit.free(s, slabs[3][0], cpu=1)
    assert s.stats["CPU_PARTIAL_DRAIN"] == 1
    assert kit.lock_stats()["acquisitions"] == 1
    # unfreeze_partials() walks the list from its head, the latest put first
    assert kit.node_partial(s) == list(reversed(heads[:3]))
    assert all((h.where, h.frozen) == (PARTIAL, False) for h in heads[:3])
    assert kit.cpu_partial(s, cpu=1) == [heads[3]] and s.cpu[1].pobjects == 1
    assert s.node[0].nr_partial == 3
    kit.assert_accounting()


def empty_slab_setup(kit, n_partial):
    """``n_partial`` kmalloc-64 slabs with 63 live objects each on the node partial
    list (each got a first free on cpu 1, then flush_all())."""
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    slabs = full_slabs(kit, s, n_partial + 1, cpu=0)
    for objs in slabs[:n_partial]:
        kit.free(s, objs[0], cpu=1)
    kit.flush(s)          # cpu 1's partial list and cpu 0's (full) cpu slab go back
    assert s.node[0].nr_partial == n_partial
    return cg, s, slabs


def test_a_slab_emptied_with_more_than_min_partial_on_the_node_list_is_discarded(kit):
    """__slab_free(): ``if (!inuse && n->nr_partial > s->min_partial) goto slab_empty``:
    remove_partial() under list_lock, discard_slab(), the pages go back and the
    memcg is uncharged."""
    cg, s, slabs = empty_slab_setup(kit, n_partial=7)
    pages, locks = kit.slub.total_pages, kit.lock_stats()["acquisitions"]
    victim = slabs[0][0]
    kit.free(s, slabs[0][1:], cpu=1)
    assert victim.freed and victim.where == NOWHERE
    assert s.node[0].nr_partial == 6
    assert s.nr_slabs == 7 and kit.slub.total_pages == pages - 1 == cg.usage
    assert s.stats["FREE_REMOVE_PARTIAL"] == s.stats["FREE_SLAB"] == 1
    # 62 frees took no lock; the emptying one took list_lock once
    assert kit.lock_stats()["acquisitions"] == locks + 1
    kit.assert_accounting()


def test_a_slab_emptied_with_min_partial_or_fewer_on_the_node_list_stays(kit):
    """The same free with nr_partial == min_partial (5): the empty slab stays on the
    partial list, its pages kept for the next allocation."""
    cg, s, slabs = empty_slab_setup(kit, n_partial=5)
    pages = kit.slub.total_pages
    victim = slabs[0][0]
    kit.free(s, slabs[0][1:], cpu=1)
    assert not victim.freed and victim.where == PARTIAL and victim.inuse == 0
    assert s.node[0].nr_partial == 5
    assert kit.slub.total_pages == pages == cg.usage
    assert "FREE_SLAB" not in s.stats
    kit.assert_accounting()


def test_get_partial_node_refills_the_cpu_slab_and_cpu_partials_under_list_lock(kit):
    """get_partial_node(): the first partial slab becomes the cpu slab, more are frozen
    onto the cpu partial list until more than cpu_partial/2 (15) objects are free there."""
    cg, s, slabs = empty_slab_setup(kit, n_partial=7)     # 7 slabs, 1 free object each
    locks = kit.lock_stats()["acquisitions"]
    kit.alloc(s, n=1, cpu=1)
    # one free object per slab: the cpu slab plus all six others (6 <= 30 / 2)
    assert s.node[0].nr_partial == 0
    assert s.cpu[1].slab is not None and len(s.cpu[1].partial) == 6
    assert s.stats["ALLOC_FROM_PARTIAL"] == 1 and s.stats["CPU_PARTIAL_NODE"] == 6
    assert kit.lock_stats()["acquisitions"] == locks + 1
    kit.assert_accounting()


def test_a_remote_free_on_another_node_takes_that_nodes_list_lock():
    """A cpu allocates on its own node; a free goes to the slab's node: the list work
    of a free by a cpu of node 1 into a node-0 slab takes node 0's list_lock."""
    kit = Kit(cpus=2, nodes=2, kinds=KINDS)
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    objs = kit.alloc(s, n=2, cpu=0)
    slab = objs[0]
    assert slab.node == 0
    kit.flush(s)                                  # the cpu slab goes to node 0's partial list
    assert kit.node_partial(s, node=0) == [slab]
    n0, n1 = s.node[0].list_lock, s.node[1].list_lock
    assert (n0.acquisitions, n1.acquisitions) == (1, 0)
    kit.free(s, objs[0], cpu=1)                   # objects left: no list work, no lock
    assert (n0.acquisitions, n1.acquisitions) == (1, 0)
    kit.free(s, objs[1], cpu=1)                   # empty: list_lock of node 0
    assert (n0.acquisitions, n1.acquisitions) == (2, 0)
    assert slab.where == PARTIAL                  # 1 partial slab <= min_partial: stays
    # cpu 1 allocates from node 1: a new slab there, not node 0's partial slab
    other = kit.alloc(s, n=1, cpu=1)[0]
    assert other.node == 1 and other is not slab and slab.where == PARTIAL
    kit.assert_accounting()


def test_list_lock_contention_is_a_wait_for_the_holder():
    """Two cpus empty two slabs of the same node at the same instant: both need the
    node's list_lock; the second waits for the first's hold (one contention, its wait
    equal to the time the first held the lock)."""
    kit = Kit(cpus=2, kinds=KINDS)
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    a = kit.alloc(s, n=1, cpu=0)
    b = kit.alloc(s, n=1, cpu=1)
    kit.flush(s)
    assert kit.node_partial(s) == [b[0], a[0]]          # deactivated to the head
    before = dict(kit.lock_stats())
    t = kit.t + 10_000
    kit.free(s, a, cpu=1, at=t)
    kit.free(s, b, cpu=0, at=t)
    stats = kit.lock_stats()
    assert stats["acquisitions"] - before["acquisitions"] == 2
    assert stats["contentions"] - before["contentions"] == 1
    # the first free holds the lock for its list work only (nothing moved: hold 0),
    # so the second waits exactly from its arrival to the first's release
    c = kit.slub.costs
    arrive = t + c["free_slow"] + c["cmpxchg"]
    release = arrive + c["lock"]
    assert stats["wait_ns_max"] == release - arrive == c["lock"]
    assert a[0].where == b[0].where == PARTIAL          # 2 <= min_partial: both stay
    kit.assert_accounting()
