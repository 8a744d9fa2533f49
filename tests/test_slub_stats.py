"""SLUB statistics (CONFIG_SLUB_STATS): the paths count the kernel's ``enum stat_item``
into an array indexed by it (a C array on the compiled core), a policy counts any name
with ``cache.stat(NAME)``, and ``cache.stats`` reads them as one dict, in the order of
each item's first count: the order a result's figures and a policy's reads had when
the counts were a dict.
"""
from __future__ import annotations

import pytest

from slabpolicy.api.testing import Kit
from slabpolicy.kernel.slub import STAT_INDEX, STAT_ITEMS

# kmalloc-64: 64 objects per order-0 slab (tests/test_slub_scenarios.py)
KINDS = {"kmalloc-64": (64, 64)}


@pytest.fixture
def kit():
    return Kit(cpus=2, kinds=KINDS)


def test_the_items_are_the_kernels_enum_in_its_order():
    """include/linux/slub_def.h (v3.4): 26 items, ALLOC_FASTPATH first."""
    assert len(STAT_ITEMS) == 26 and len(set(STAT_ITEMS)) == 26
    assert (STAT_ITEMS[0], STAT_ITEMS[8], STAT_ITEMS[15], STAT_ITEMS[25]) == (
        "ALLOC_FASTPATH", "ALLOC_SLAB", "DEACTIVATE_TO_HEAD", "CPU_PARTIAL_DRAIN")
    assert all(STAT_ITEMS[STAT_INDEX[item]] == item for item in STAT_ITEMS)


def test_paths_and_a_policy_count_into_one_view_in_the_order_of_first_count(kit):
    """Three slabs filled on cpu 0 (___slab_alloc(): ALLOC_SLAB for each, DEACTIVATE_FULL
    for the two it left full), a policy's own item, then cpu 1's two frees into the
    first slab (__slab_free(): CPU_PARTIAL_FREE freezes it onto cpu 1's partial list,
    the next is a FREE_FROZEN) and an enum item counted by name."""
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    objs = kit.alloc(s, n=3 * 64, cpu=0)
    s.stat("CPU_CHAINED_FREE")
    kit.free(s, objs[:2], cpu=1)
    s.stat("FREE_SLOWPATH")
    s.stat("CPU_CHAINED_FREE")
    assert list(s.stats.items()) == [
        ("ALLOC_SLAB", 3), ("DEACTIVATE_FULL", 2), ("CPU_CHAINED_FREE", 2),
        ("CPU_PARTIAL_FREE", 1), ("FREE_FROZEN", 1), ("FREE_SLOWPATH", 1)]


def test_the_view_is_a_copy_and_cannot_be_replaced(kit):
    s = kit.cache(kit.memcg("a"), "kmalloc-64")
    s.stat("ALLOC_SLAB")
    s.stats["ALLOC_SLAB"] = 7           # a write to the copy changes no count
    assert s.stats == {"ALLOC_SLAB": 1} and "FREE_SLAB" not in s.stats
    with pytest.raises(AttributeError):
        s.stats = {}


def test_a_destroyed_caches_counts_are_kept_in_their_order(kit):
    """kmem_cache_destroy() folds the cache's counts into the allocator's retired ones,
    which a result sums with the live caches'."""
    cg = kit.memcg("a")
    s = kit.cache(cg, "kmalloc-64")
    for item in ("MY_POLICY_EVENT", "FREE_SLAB", "MY_POLICY_EVENT", "ALLOC_SLAB"):
        s.stat(item)
    kit.slub.kmem_cache_destroy(s)
    assert list(kit.slub.retired_stats.items()) == [
        ("MY_POLICY_EVENT", 2), ("FREE_SLAB", 1), ("ALLOC_SLAB", 1)]
