"""Reclaim, pinned: unused dentries on per-memcg list_lrus, freed by the superblock
shrinker under memory.high, machine watermarks, and after offline by the parent's.

dentry slabs hold 21 objects (one page); min_partial is 5; every number below
follows from do_shrink_slab()'s ``delta = (freeable >> priority) * 4 / 2``,
scanned in SHRINK_BATCH (128) pieces while ``total_scan >= 128 or total_scan >=
freeable`` (kernel/reclaim.py).
"""
from __future__ import annotations

import pytest

from slabpolicy.api.testing import Kit
from slabpolicy.kernel.reclaim import watermarks

PER_SLAB = 21


def batches(freeable: int, priority: int) -> int:
    """The objects do_shrink_slab() scans at ``priority``: whole batches of 128, or
    everything when the scan target reaches ``freeable``."""
    total = min((freeable >> priority) * 2, 2 * freeable)
    scanned = 0
    while total >= 128 or (freeable and total >= freeable):
        scanned += min(128, total)
        total -= min(128, total)
    return min(scanned, freeable)


@pytest.mark.parametrize("era", ["3.4", "6.x"])
def test_a_memcg_over_memory_high_frees_its_unused_dentries_oldest_first(era):
    """4,200 unused dentries (200 pages), memory.high at 200 pages: the next slab takes
    the memcg over, and reclaim_high() lowers the priority until 32 pages came back.
    Priorities 12-7 scan nothing (4200 >> 7 = 32: 64 < 128), 6 scans one batch
    (130 -> 128), 5 one (254), 4 three (492), 3 six (890): 1,408 in all (67 slabs
    emptied), the oldest ones, and the 2,792 youngest stay, in order.  The emptied
    slabs come back as the cpu partial list drains: in 3.4 every 32nd first free
    (pobjects 31 > 30) discards the 31 empty slabs before any list_lock, in 6.x every
    13th (12 = cpu_partial_slabs) keeps the first five (nr_partial < min_partial)
    and discards the rest: 62 and 55 pages by then, at least 32 either way."""
    k = Kit(cpus=1, slub=era)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    items = k.unused(dentry, k.alloc(dentry, n=200 * PER_SLAB))
    assert cg.usage == 200 and k.lru_list("dentry", cg) == items
    freeable, expected = 200 * PER_SLAB, 0
    for priority in (6, 5, 4, 3):
        scanned = batches(freeable, priority)
        expected, freeable = expected + scanned, freeable - scanned
    assert expected == 1408

    k.limit(cg, high=200)
    k.alloc(dentry, n=1)

    summary = k.sim.reclaim.summary()
    assert summary["freed"] == {"live": 1408, "dying": 0, "total": 1408}
    assert summary["scanned"]["total"] == 1408 == summary["slabs_scanned"]
    assert all(item.freed for item in items[:1408])
    assert k.lru_list("dentry", cg) == items[1408:]
    assert not any(item.freed for item in items[1408:])
    assert summary["events"]["memcg_high"] == 1 and summary["direct"]["stalls"] == 1
    assert summary["pages_reclaimed"]["direct"] == 201 - cg.usage == {"3.4": 62, "6.x": 55}[era]
    assert cg.usage <= 200
    k.assert_accounting()


def test_the_stall_is_in_the_latency_of_the_allocation_that_reclaimed():
    """The allocation that went over memory.high returns only when reclaim is done: its
    slow-path latency is the reclaim time plus the allocation's own steps."""
    k = Kit(cpus=1)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    k.unused(dentry, k.alloc(dentry, n=200 * PER_SLAB))
    k.limit(cg, high=200)
    slow_max = k.slub.h_alloc_slow.max
    k.alloc(dentry, n=1)
    stall = k.sim.reclaim.stalls.max
    assert stall > 100_000                       # 2,688 objects isolated, evicted, freed
    assert k.slub.h_alloc_slow.max > stall > slow_max
    assert k.slub.h_alloc_slow.max - stall < 1_000


def offline_with_one_unused_dentry(reclaim=None):
    k = Kit(cpus=1, options={"era": "4.0"})
    parent = k.memcg("parent")
    child = k.memcg("child", parent)
    dead = k.cache(child, "dentry")
    item = k.unused(dead, k.alloc(dead, n=1))[0]
    assert k.lru_list("dentry", child) == [item]
    k.offline(child)
    return k, parent, child, dead, item


def test_offline_reparents_the_lru_and_the_parents_shrinker_frees_the_last_dentry():
    """memcg_drain_all_list_lrus(): the dead memcg's dentry moves to the parent's list
    and keeps the dead cache and the dying memcg.  The parent goes over memory.high;
    its reclaim visits the parent (the only memcg with a listed object): one object
    is scanned only at priority 0 ((1 >> 0) * 2 = 2 >= 1), freed, its slab goes
    (a dead cache keeps no empty slab since the offline shrink of Linux 4.0), then
    the cache (a work item) and the memcg."""
    k, parent, child, dead, item = offline_with_one_unused_dentry()
    assert k.lru_list("dentry", child) == [] and k.lru_list("dentry", parent) == [item]
    assert child.state == "offline" and dead.dead and not dead.destroyed
    assert k.sim.reclaim.drained == 1
    own = k.cache(parent, "dentry")
    k.alloc(own, n=PER_SLAB)
    assert parent.usage == 2
    k.limit(parent, high=2)

    k.alloc(own, n=1)
    assert item.freed and dead.nr_slabs == 0
    k.advance("20ms")

    assert dead.destroyed and child.state == "released"
    assert k.memcgs.nr_dying == 0 and parent.usage == 2
    summary = k.sim.reclaim.summary()
    assert summary["freed"] == {"live": 0, "dying": 1, "total": 1}
    assert summary["slabs_scanned"] == 2
    k.assert_accounting()


def kswapd_with_one_dead_dentry(small_cache_pressure: bool):
    """A 1 MiB machine (256 pages; watermarks 32/40/48 pages); the root fills it with
    dentries in use until free memory is under the low watermark and kswapd runs."""
    k, parent, child, dead, item = offline_with_one_unused_dentry()
    k.sim.reclaim.small_cache_pressure = small_cache_pressure
    k.sim.reclaim.set_memory(256 * 4096)
    assert k.sim.reclaim.wmark == watermarks(256, 4096) == (32, 40, 48)
    root_cache = k.cache(k.root, "dentry")
    k.alloc(root_cache, n=(256 - 40) * PER_SLAB)          # 217 pages: 39 free
    k.advance("30ms")
    return k, child, dead, item


def test_kswapd_never_scans_a_list_of_one_below_priority_1():
    """kswapd's balance_pgdat() stops at priority 1, where a list of one object gives
    (1 >> 1) * 2 = 0 to scan: the dead memcg's last dentry stays, and so do its cache
    and the memcg (the dying cgroups of Roman Gushchin's 2018 report)."""
    k, child, dead, item = kswapd_with_one_dead_dentry(small_cache_pressure=False)
    summary = k.sim.reclaim.summary()
    assert summary["background"]["kswapd_runs"] == 1 and summary["events"]["watermark_low"] == 1
    assert summary["freed"]["total"] == 0 and not item.freed
    assert child.state == "offline" and not dead.destroyed
    k.assert_accounting()


def test_small_cache_pressure_of_4_19_lets_kswapd_free_the_last_dentry():
    """Linux 4.19's minimal pressure scans min(freeable, 128) at every priority: kswapd
    frees the dentry at priority 12, and the dead cache and the memcg go."""
    k, child, dead, item = kswapd_with_one_dead_dentry(small_cache_pressure=True)
    summary = k.sim.reclaim.summary()
    assert summary["freed"] == {"live": 0, "dying": 1, "total": 1}
    assert item.freed and dead.destroyed and child.state == "released"
    assert summary["time_ns"]["background"] > 0 == summary["time_ns"]["direct"]
    k.assert_accounting()


def test_an_unused_object_is_freed_once_whoever_comes_first():
    """An object whose second lifetime ends after reclaim freed it is not freed again."""
    k = Kit(cpus=1)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    item = k.unused(dentry, k.alloc(dentry, n=1))[0]
    k.limit(cg, high=0)
    k.alloc(k.cache(cg, "kmalloc-64"), n=1)
    assert item.freed and item.lru is None
    k.sim.reclaim._expire_event(k.t, item, 0)
    assert k.sim.reclaim.expired == 0
    k.assert_accounting()
