"""The SLUB era (``machine.slub``) pinned with exact counts: 3.4 against 6.x.

Each scenario sets up slabs with the test kit, acts, and asserts what mm/slub.c of
each era does: Linux 3.4 bounds a cpu partial list by its free objects
(``pobjects > s->cpu_partial``) and keeps an empty slab while ``nr_partial <=
min_partial``; 6.x (5.16+) bounds it by slabs (``cpu_partial_slabs``) and keeps
one while ``nr_partial < min_partial`` (4.0+).  Geometry per era is in
tests/test_geometry.py.

dentry: 192-byte slots, 21 per order-0 slab, min_partial 5; cpu_partial 30
objects in 3.4, 120 objects = 12 slabs in 6.x.  kmalloc-64: 64 per slab,
cpu_partial 30 in 3.4, 120 objects = 4 slabs in 6.x.
"""
from __future__ import annotations

import pytest

from slabpolicy.api.testing import Kit
from slabpolicy.kernel.slub import CPU_PARTIAL, CPU_SLAB, NOWHERE, PARTIAL

KINDS = {"dentry": (192, 192), "kmalloc-64": (64, 64)}
ERAS = ("3.4", "6.x")


def kit_of(era: str, **kwargs) -> Kit:
    return Kit(cpus=2, kinds=KINDS, slub=era, **kwargs)


def full_slabs(kit, cache, n_slabs, cpu=0):
    """``n_slabs`` slabs' worth of objects on ``cpu``: the last one stays the (full)
    cpu slab, the others are full and on no list.  Returns the objects by slab."""
    per = cache.objects
    objs = kit.alloc(cache, n=n_slabs * per, cpu=cpu)
    return [objs[i * per:(i + 1) * per] for i in range(n_slabs)]


@pytest.mark.parametrize(("era", "cpu_partial", "cpu_partial_slabs"),
                         [("3.4", 30, 12), ("6.x", 120, 12)])
def test_each_era_sets_its_own_cpu_partial(era, cpu_partial, cpu_partial_slabs):
    """kmem_cache_open() of 3.4: 30 objects under 256 bytes; set_cpu_partial() of 6.x:
    120, which slub_set_cpu_partial() makes DIV_ROUND_UP(240, 21) = 12 slabs (3.4
    keeps the field only as the model's, computed from 30: DIV_ROUND_UP(60, 21) = 3)."""
    kit = kit_of(era)
    s = kit.cache(kit.memcg("a"), "dentry")
    assert (s.objects, s.order, s.min_partial, s.cpu_partial) == (21, 0, 5, cpu_partial)
    assert s.cpu_partial_slabs == (3 if era == "3.4" else cpu_partial_slabs)


@pytest.mark.parametrize(("era", "kept"), [("3.4", 31), ("6.x", 12)])
def test_put_cpu_partial_drains_by_objects_in_3_4_and_by_slabs_in_6_x(era, kept):
    """First frees into full dentry slabs on cpu 1, one free object each.  3.4 drains
    when the list holds more than 30 free objects: 31 slabs stay, the 32nd free
    unfreezes those 31 onto the node list.  6.x drains when the list already holds
    cpu_partial_slabs (12) slabs: 12 stay, the 13th free moves those 12."""
    kit = kit_of(era)
    s = kit.cache(kit.memcg("a"), "dentry")
    slabs = full_slabs(kit, s, kept + 2, cpu=0)
    for objs in slabs[:kept]:
        kit.free(s, objs[0], cpu=1)
    assert len(s.cpu[1].partial) == kept and s.cpu[1].pobjects == kept
    assert "CPU_PARTIAL_DRAIN" not in s.stats and kit.lock_stats()["acquisitions"] == 0
    kit.free(s, slabs[kept][0], cpu=1)
    assert s.stats["CPU_PARTIAL_DRAIN"] == 1
    assert s.node[0].nr_partial == kept and kit.lock_stats()["acquisitions"] == 1
    assert kit.cpu_partial(s, cpu=1) == [slabs[kept][0]]
    kit.assert_accounting()


def node_list_of_slabs(kit, s, n_slabs, free_each):
    """``n_slabs`` slabs of ``s`` on node 0's partial list with ``free_each`` free
    objects each (freed on cpu 1, then flush_all())."""
    slabs = full_slabs(kit, s, n_slabs + 1, cpu=0)
    for objs in slabs[:n_slabs]:
        kit.free(s, objs[:free_each], cpu=1)
    kit.flush(s)
    assert s.node[0].nr_partial == n_slabs
    return slabs


@pytest.mark.parametrize(("era", "taken"), [("3.4", 2), ("6.x", 3)])
def test_get_partial_node_stops_by_free_objects_in_3_4_and_by_slabs_in_6_x(era, taken):
    """Seven kmalloc-64 slabs with 8 free objects each on the node list; cpu 1
    allocates.  The first becomes the cpu slab; then 3.4 stops once more than
    cpu_partial / 2 = 15 objects are free on the cpu partial list (8, then 16: two
    slabs), 6.x once more than cpu_partial_slabs / 2 = 2 slabs were put (three)."""
    kit = kit_of(era)
    s = kit.cache(kit.memcg("a"), "kmalloc-64")
    node_list_of_slabs(kit, s, 7, free_each=8)
    locks = kit.lock_stats()["acquisitions"]
    kit.alloc(s, n=1, cpu=1)
    assert len(s.cpu[1].partial) == taken and s.cpu[1].pobjects == 8 * taken
    assert s.node[0].nr_partial == 7 - 1 - taken
    assert s.stats["ALLOC_FROM_PARTIAL"] == 1 and s.stats["CPU_PARTIAL_NODE"] == taken
    assert kit.lock_stats()["acquisitions"] == locks + 1
    kit.assert_accounting()


@pytest.mark.parametrize(("era", "n_partial", "discarded"),
                         [("3.4", 5, False), ("3.4", 6, True), ("6.x", 4, False), ("6.x", 5, True)])
def test_a_slab_emptied_by_a_free_goes_past_min_partial_by_each_eras_test(era, n_partial,
                                                                          discarded):
    """__slab_free(): 3.4 discards an emptied slab when ``n->nr_partial >
    s->min_partial`` (5), 6.x when ``>=`` (Linux 4.0, d6e0b7fa1186)."""
    kit = kit_of(era)
    s = kit.cache(kit.memcg("a"), "kmalloc-64")
    slabs = node_list_of_slabs(kit, s, n_partial, free_each=1)
    victim = slabs[0][1]
    kit.free(s, slabs[0][1:], cpu=1)
    assert victim.freed is discarded
    assert s.node[0].nr_partial == n_partial - discarded
    assert victim.where == (NOWHERE if discarded else PARTIAL)
    kit.assert_accounting()


def empty_on_cpu_partial(kit, s):
    """A kmalloc-64 slab frozen on cpu 1's partial list with no object left (its first
    free froze it there, the 63 others were FREE_FROZEN), and no partial slab on the
    node.  Returns the empty slab and cpu 0's full cpu slab's objects."""
    slabs = full_slabs(kit, s, 3, cpu=0)
    kit.free(s, slabs[0], cpu=1)
    empty = slabs[0][0]
    assert (empty.where, empty.inuse, s.node[0].nr_partial) == (CPU_PARTIAL, 0, 0)
    return empty, slabs


@pytest.mark.parametrize("era", ERAS)
def test_unfreeze_partials_discards_an_empty_slab_met_before_any_list_lock_in_3_4(era):
    """3.4's unfreeze_partials(): ``if (!new.inuse && (!n || n->nr_partial >
    s->min_partial)) m = M_FREE;`` with ``n`` still NULL: the empty slab at the head
    of the list is discarded without list_lock, though the node holds no partial
    slab (0 <= min_partial 5).  6.x takes the node's list_lock first and, 0 < 5,
    keeps the slab on the node list."""
    kit = kit_of(era)
    s = kit.cache(kit.memcg("a"), "kmalloc-64")
    empty, _ = empty_on_cpu_partial(kit, s)
    pages = kit.slub.total_pages
    kit.flush(s)       # cpu 0's full cpu slab goes to no list; cpu 1's partial list
    if era == "3.4":
        assert empty.freed and empty.where == NOWHERE
        assert kit.slub.total_pages == pages - 1 and s.node[0].nr_partial == 0
        assert kit.lock_stats()["acquisitions"] == 0
    else:
        assert not empty.freed and kit.node_partial(s) == [empty]
        assert kit.slub.total_pages == pages
        assert kit.lock_stats()["acquisitions"] == 1
    kit.assert_accounting()


def test_unfreeze_partials_in_3_4_keeps_an_empty_slab_met_once_a_list_lock_is_held():
    """The same empty slab behind a slab with objects on the cpu partial list: the walk
    (from the head, the latest put) takes node 0's list_lock for the first, then
    tests the empty one against that node (1 partial slab, not > 5): kept."""
    kit = kit_of("3.4")
    s = kit.cache(kit.memcg("a"), "kmalloc-64")
    empty, slabs = empty_on_cpu_partial(kit, s)
    kit.free(s, slabs[1][0], cpu=1)             # the list head now: one free object
    kit.flush(s)
    assert not empty.freed
    assert kit.node_partial(s) == [slabs[1][0], empty]
    assert kit.lock_stats()["acquisitions"] == 1
    kit.assert_accounting()


# ------------------------------------------------------------------ get_any_partial

def two_node_kit(era="3.4", n_partial=6, **kwargs):
    """Two nodes, cpu 0 on node 0, cpu 1 on node 1; ``n_partial`` kmalloc-64 slabs with
    one free object each on node 0's partial list (six: more than min_partial 5)."""
    kit = Kit(cpus=2, nodes=2, kinds=KINDS, slub=era, **kwargs)
    s = kit.cache(kit.memcg("a"), "kmalloc-64")
    slabs = full_slabs(kit, s, n_partial + 1, cpu=0)
    for objs in slabs[:n_partial]:
        kit.free(s, objs[0], cpu=0)
    kit.flush(s)
    assert (s.node[0].nr_partial, s.node[1].nr_partial) == (n_partial, 0)
    return kit, s


def alloc_at_cycles(kit, s, cycles_mod_1024):
    """An allocation on cpu 1 timed so that get_cycles() % 1024 (the op clock when
    get_any_partial() runs: the arrival plus the slow path's step) is the given
    value.  Returns the object's slab."""
    t = kit.t + 1_000_000
    t += (cycles_mod_1024 - t - kit.slub.costs["alloc_slow"]) % 1024
    return kit.alloc(s, n=1, cpu=1, at=t)[0]


@pytest.mark.parametrize("era", ERAS)
def test_get_any_partial_takes_a_remote_partial_slab_when_cycles_allow(era):
    """get_any_partial(): node 1 has no partial slab; ``get_cycles() % 1024`` = 1000 is
    not above remote_node_defrag_ratio (1000), so node 0 (6 partial slabs > 5) is
    tried: its first slab becomes cpu 1's cpu slab, and no page is allocated."""
    kit, s = two_node_kit(era)
    pages = kit.slub.total_pages
    slab = alloc_at_cycles(kit, s, 1000)
    assert slab.node == 0 and slab.where == CPU_SLAB and s.cpu[1].slab is slab
    assert kit.slub.total_pages == pages
    assert s.stats["ALLOC_FROM_PARTIAL"] == 1
    assert s.node[0].nr_partial < 6
    kit.assert_accounting()


@pytest.mark.parametrize(("ratio", "cycles"), [(1000, 1001), (1000, 1023), (0, 0)])
def test_get_any_partial_refuses_above_the_ratio_and_at_ratio_0(ratio, cycles):
    """``get_cycles() % 1024 > s->remote_node_defrag_ratio``, or a ratio of 0: no
    remote slab; cpu 1 gets a new slab on its own node, node 0 keeps its six."""
    kit, s = two_node_kit(remote_node_defrag_ratio=ratio)
    pages = kit.slub.total_pages
    slab = alloc_at_cycles(kit, s, cycles)
    assert slab.node == 1 and s.stats["ALLOC_SLAB"] == 8
    assert kit.slub.total_pages == pages + 1
    assert s.node[0].nr_partial == 6
    kit.assert_accounting()


def test_get_any_partial_leaves_a_node_with_min_partial_slabs_or_fewer():
    """Only nodes with ``n->nr_partial > s->min_partial`` are tried: with five partial
    slabs on node 0 (= min_partial) cpu 1 allocates a new slab on node 1."""
    kit, s = two_node_kit(n_partial=5)
    slab = alloc_at_cycles(kit, s, 0)
    assert slab.node == 1 and s.node[0].nr_partial == 5
    kit.assert_accounting()


# ------------------------------------------------------------------ the result

@pytest.mark.parametrize("era", ERAS)
def test_the_result_document_records_the_slub_era(era):
    """A run's result names its machine, SLUB era included, so that a table can say
    which SLUB it compares (the report warns when one workload's results mix eras)."""
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.bundled import resolve
    from slabpolicy.workloads.spec import load_workload

    workload = load_workload(resolve("default"), overrides=["duration=300ms",
                                                            f"machine.slub={era}"])
    registry = policy_registry(make_plugin_manager(tuple(workload.plugins)))
    doc = run_one(workload, resolve_policies(workload, ["leave-in-place"], registry)[0], 1)
    assert doc["machine"] == {"cpus": 4, "nodes": 1, "page_size": 4096, "slub_max_order": 3,
                              "slub_min_objects": 0, "slub_min_order": 0, "memory": None,
                              "slub": era, "remote_node_defrag_ratio": 1000}
