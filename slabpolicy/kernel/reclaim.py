"""Memory pressure and slab reclaim: limits, kswapd, direct reclaim, the superblock shrinker.

What frees an unused dentry or inode is memory pressure.  Modelled:

* **limits** (all counted in the slab pages the model holds: the memory it
  knows of): the machine's memory with the page allocator's watermarks, and
  each memcg's ``memory.high`` and ``memory.max`` (cgroup v2; v1's
  ``limit_in_bytes`` is ``max``).  Watermarks are the kernel's:
  init_per_zone_wmark_min() sets min_free_kbytes = sqrt(16 x lowmem kbytes),
  clamped to [128, 262144]; __setup_per_zone_wmarks() (4.6+) puts low and high
  at min + max(min/4, 0.1% of memory) and min + twice that
  (watermark_scale_factor 10).
* **when** (checked when an allocation has taken its slow path, the only path
  that charges pages): free memory under the low watermark wakes kswapd
  (background reclaim, on the last cpu: kswapd is a thread of its own); under
  the min watermark the allocation reclaims itself (__alloc_pages_direct_reclaim(),
  try_to_free_pages(): SWAP_CLUSTER_MAX pages).  kswapd is no longer woken after
  16 runs without progress (kswapd_failures); a run that freed objects counts as
  progress even when their pages come back only after a grace period (the
  kernel's progress also counts page-cache pages, which this model does not have).  A memcg over ``memory.high``
  reclaims the excess before the allocation returns (mem_cgroup_handle_over_high(),
  reclaim_high()); over ``memory.max`` it reclaims, retrying up to
  MAX_RECLAIM_RETRIES (5) times (try_charge()).  Both run in the allocating
  task: their time is in that allocation's latency and counts as a *direct
  reclaim stall*.  The kernel would reclaim before the charge and fail or
  OOM-kill when max cannot be met; the model charges first, and counts a charge
  that stays over max as ``memcg_max.failed`` instead of failing it.
* **how much** (mm/vmscan.c since 4.16, 9092c71bb724 "mm: use sc->priority for
  slab shrink targets"): do_try_to_free_pages() and kswapd's balance_pgdat()
  lower the priority from DEF_PRIORITY (12) until enough pages came back;
  at each, shrink_node() visits the memcgs of the target's subtree
  (mem_cgroup_iter(); since 4.19 only those whose shrinker bit is set, i.e. with
  objects on their lists) and shrink_slab() calls do_shrink_slab() per node:
  ``freeable`` = super_cache_count() (objects on the memcg's lists, scaled by
  vfs_cache_pressure / 100), ``delta = (freeable >> priority) * 4 / seeks``
  (DEFAULT_SEEKS 2), at most twice freeable, scanned in SHRINK_BATCH (128)
  pieces while ``total_scan >= batch or total_scan >= freeable``.  So at
  priority 12 a memcg with fewer than 1024 objects is not scanned at all; Linux
  4.19's 172b06c32b94 ("mm: slowly shrink slabs with a relatively small number of
  objects", Roman Gushchin, against dying cgroups kept by their last objects;
  reverted in 5.0) scanned at least min(freeable, batch): option
  ``small_cache_pressure``.  The deferred work of GFP_NOFS callers
  (nr_deferred) is not modelled.
* **what** (fs/super.c super_cache_scan()): nr_to_scan is split between the
  lists in proportion to their sizes (mult_frac(nr, count, total + 1) + 1
  each), dentries first then inodes (the caches' order in the workload), and
  each list is walked from its head, oldest first (prune_dcache_sb(),
  prune_icache_sb(), list_lru_walk_one()).  Each object walked costs
  ``lru_isolate``; each object freed ``object_evict`` and then its free, through
  RCU if its cache frees that way (kernel/rcu.py): pages from RCU frees come
  back only after the grace period, so reclaim goes on to lower priorities, as
  it does in the kernel.  Every object on a list is unused and evictable (no
  DCACHE_REFERENCED second chance, no inode pinned by a dentry).

Figures (the result document's ``reclaim``): objects scanned and freed, split
by the state (live or dying) of the memcg each object is charged to, the
kernel's ``slabs_scanned`` (the sum of nr_to_scan), pages reclaimed, reclaim time
background and direct, direct stalls with their latency, limit events.
"""
from __future__ import annotations

from math import isqrt
from typing import TYPE_CHECKING

from slabpolicy.kernel.event_kinds import EXPIRE
from slabpolicy.kernel.fast_int import time_add
from slabpolicy.kernel.histogram import Histogram
from slabpolicy.kernel.list_lru import ListLru, LruItem, charged_memcg
from slabpolicy.kernel.memcg import MemCgroup

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

if TYPE_CHECKING:
    from slabpolicy.kernel.engine import Simulation

DEF_PRIORITY = 12
SHRINK_BATCH = 128
DEFAULT_SEEKS = 2
SWAP_CLUSTER_MAX = 32
#: try_charge()'s reclaim retries (MEM_CGROUP_RECLAIM_RETRIES, later MAX_RECLAIM_RETRIES)
MEMCG_RECLAIM_RETRIES = 5
#: kswapd is no longer woken after this many runs that reclaimed nothing (mm/internal.h)
KSWAPD_MAX_FAILURES = 16


def watermarks(memory_pages: int, page_size: int) -> tuple[int, int, int]:
    """(min, low, high) in pages for a machine of ``memory_pages`` pages."""
    lowmem_kbytes = memory_pages * page_size // 1024
    min_free_kbytes = min(max(isqrt(lowmem_kbytes * 16), 128), 262144)
    wmin = min_free_kbytes * 1024 // page_size
    step = max(wmin // 4, memory_pages * 10 // 10000)
    return wmin, wmin + step, wmin + 2 * step


class Reclaim:
    """The list_lrus, limits and reclaim of one run, and its figures."""

    def __init__(self, sim: Simulation, *, memory_bytes: int | None = None,
                 vfs_cache_pressure: int = 100, small_cache_pressure: bool = False,
                 memcg_aware: bool = True) -> None:
        self.sim = sim
        self.slub = slub = sim.slub
        self.rcu = sim.rcu
        self.vfs_cache_pressure = vfs_cache_pressure
        self.small_cache_pressure = small_cache_pressure
        self.memcg_aware = memcg_aware
        #: the superblock's lists by cache kind index, scanned in that order
        self.lrus: dict[int, ListLru] = {}
        #: the same lists indexed by cache kind (None: none yet), for the per-object paths
        self.lru_of_kind: list[ListLru | None] = [None] * len(slub.kinds)
        self.memory_pages: int | None = None
        self.wmark = (0, 0, 0)
        if memory_bytes is not None:
            self.set_memory(memory_bytes)
        # each unused object's expiry is queued on the engine's queue directly, an
        # EXPIRE event whose handler (_expire_event) the loop calls itself
        self.queue = sim._queue
        self.end_ns = sim.end_ns
        self.kswapd_cpu = slub.machine.cpus - 1
        self.kswapd_active = False
        self.kswapd_failures = 0
        # figures
        self.scanned = {"live": 0, "dying": 0}
        self.freed = {"live": 0, "dying": 0}
        self.slabs_scanned = 0
        self.expired = 0
        self.drained = 0
        self.pages = {"background": 0, "direct": 0}
        self.time_ns = {"background": 0, "direct": 0}
        self.kswapd_runs = 0
        self.stalls = Histogram()
        self.events = {"watermark_low": 0, "watermark_min": 0, "memcg_high": 0, "memcg_max": 0,
                       "memcg_max_failed": 0, "watermark_min_failed": 0}

    # -- set-up ----------------------------------------------------------------------

    def set_memory(self, memory_bytes: int) -> None:
        """The machine's memory: reclaim starts when free memory runs low."""
        page_size = self.slub.machine.page_size
        self.memory_pages = memory_bytes // page_size
        self.wmark = watermarks(self.memory_pages, page_size)
        self.enable()

    def set_limits(self, memcg: MemCgroup, high: int | None, max_: int | None) -> None:
        """memory.high / memory.max of ``memcg``, in bytes (None: max, no limit)."""
        page_size = self.slub.machine.page_size
        memcg.high = None if high is None else high // page_size
        memcg.max = None if max_ is None else max_ // page_size
        if high is not None or max_ is not None:
            self.enable()

    def enable(self) -> None:
        """Check limits after every slow-path allocation from now on."""
        self.slub.pressure = self.check

    def lru(self, index: int) -> ListLru:
        """The list_lru of cache kind ``index`` (created with its first object)."""
        lru = self.lrus.get(index)
        if lru is None:
            kind = self.slub.kinds[index]
            lru = self.lrus[index] = ListLru(kind.name, self.slub, self.memcg_aware)
            self.lrus = dict(sorted(self.lrus.items()))
            self.lru_of_kind[index] = lru
        return lru

    # -- objects becoming unused, and going anyway -----------------------------------------

    def unused_event(self, t: int, item: LruItem, unused_life: int | None, cpu: int) -> LruItem:
        """dput() of the last reference on ``cpu`` (an UNUSED event): the object, whose
        list item ``item`` its allocation made (:func:`lru_item`, on no list yet), goes
        on the list of its memcg and node (d_lru_add()); with a second lifetime
        ``unused_life`` it is deleted anyway then (unlink, umount: an EXPIRE event), if
        reclaim has not freed it first.  Returns its list item."""
        slub = self.slub
        slub.begin(cpu, t)
        item.since = slub.now
        kind = item.cache.index
        lru = self.lru_of_kind[kind]
        if lru is None:
            lru = self.lru(kind)
        lru.add(item, charged_memcg(item))
        slub.end(cpu)
        if unused_life is not None:
            expiry = time_add(t, unused_life)
            # compiled, compared in C (fast_int.pxd's time_lt(): about 30 instructions
            # where the comparison of two Python ints costs 54)
            if not time_lt(self.end_ns, expiry) if cython.compiled else expiry <= self.end_ns:
                self.queue.push_later(expiry, EXPIRE, item, None, cpu)
        return item

    def _expire_event(self, t: int, item: LruItem, cpu: int) -> None:
        if item.lru is None:
            return                      # reclaim freed it already
        slub = self.slub
        slub.begin(cpu, t)
        kind = item.cache.index
        lru = self.lru_of_kind[kind]
        if item.lru is not None and lru.delete(item):
            self._evict(item, cpu, t)     # (reclaim may have taken it while this waited)
            self.expired += 1
        slub.end(cpu)

    def _evict(self, item: LruItem, cpu: int, t: int) -> None:
        """__dentry_kill() / evict() then the free (through RCU if the cache says so)."""
        if item.freed:
            self.sim.checker.violation(f"unused object of slab {item.slab.id} "
                                       f"({item.cache.name}) freed twice")
            return
        item.freed = True
        slub = self.slub
        slub.now = time_add(slub.now, slub.c_object_evict)
        self.rcu.free((item.cache, item.slab, item.objcg), cpu, t)

    def memcg_offline(self, memcg: MemCgroup) -> None:
        """memcg_offline_kmem(): memcg_drain_all_list_lrus() to the parent."""
        if not self.memcg_aware:
            return
        for lru in self.lrus.values():
            self.drained += lru.drain(memcg, memcg.parent)

    # -- limits ------------------------------------------------------------------------

    def check(self, memcg: MemCgroup, cpu: int, t: int) -> None:
        """After a slow-path allocation charged to ``memcg`` on ``cpu``: wake kswapd, or
        reclaim in this allocation, if free memory or a memcg limit says so."""
        slub = self.slub
        if self.memory_pages is not None:
            free = self.memory_pages - slub.total_pages
            wmin, wlow, whigh = self.wmark
            if free < wlow and not self.kswapd_active \
                    and self.kswapd_failures < KSWAPD_MAX_FAILURES:
                self.events["watermark_low"] += 1
                self.kswapd_active = True
                self.sim.kernel_event(slub.now, self._kswapd, None, self.kswapd_cpu)
            if free < wmin:
                self.events["watermark_min"] += 1
                self._direct(None, SWAP_CLUSTER_MAX, cpu, t)
                if self.memory_pages - slub.total_pages < wmin:
                    self.events["watermark_min_failed"] += 1
        for m in memcg.lineage:
            if m.max is not None and m.usage > m.max:
                self.events["memcg_max"] += 1
                for _ in range(MEMCG_RECLAIM_RETRIES):
                    self._direct(m, m.usage - m.max, cpu, t)
                    if m.usage <= m.max:
                        break
                else:
                    self.events["memcg_max_failed"] += 1
            elif m.high is not None and m.usage > m.high:
                self.events["memcg_high"] += 1
                self._direct(m, m.usage - m.high, cpu, t)
        slub.end(cpu)

    def _direct(self, target: MemCgroup | None, nr_pages: int, cpu: int, t: int) -> None:
        """Direct reclaim in the allocating task: a stall in its latency."""
        slub = self.slub
        start = slub.now
        freed = self.freed_total()
        pages = self.do_try_to_free_pages(target, max(nr_pages, SWAP_CLUSTER_MAX), cpu, t,
                                          min_priority=0)
        if pages or self.freed_total() > freed:
            self.kswapd_failures = 0          # shrink_node() saw progress
        self.pages["direct"] += pages
        self.time_ns["direct"] += slub.now - start
        self.stalls.record(slub.now - start)

    def _kswapd(self, t: int, _a, cpu: int) -> None:
        """kswapd's balance_pgdat(): reclaim until free memory is above the high watermark."""
        slub = self.slub
        slub.begin(cpu, t)
        start = slub.now
        want = self.wmark[2] - (self.memory_pages - slub.total_pages)
        freed = self.freed_total()
        pages = self.do_try_to_free_pages(None, max(want, SWAP_CLUSTER_MAX), cpu, t,
                                          min_priority=1)
        progress = pages or self.freed_total() > freed
        self.kswapd_failures = 0 if progress else self.kswapd_failures + 1
        self.kswapd_runs += 1
        self.pages["background"] += pages
        self.time_ns["background"] += slub.now - start
        self.kswapd_active = False
        slub.end(cpu)

    # -- reclaim -----------------------------------------------------------------------

    def do_try_to_free_pages(self, target: MemCgroup | None, nr_to_reclaim: int, cpu: int,
                             t: int, min_priority: int) -> int:
        """The priority loop: shrink the slabs of ``target``'s subtree (None: every memcg)
        at priorities 12, 11, ... until ``nr_to_reclaim`` pages came back.  Returns the
        pages reclaimed (reclaim_state->reclaimed_slab)."""
        slub = self.slub
        before = slub.total_pages if target is None else target.usage
        reclaimed = 0
        for priority in range(DEF_PRIORITY, min_priority - 1, -1):
            for memcg in self._memcgs_to_shrink(target):
                for node in range(slub.machine.nodes):
                    self.shrink_slab(memcg, node, priority, cpu, t)
            reclaimed = before - (slub.total_pages if target is None else target.usage)
            if reclaimed >= nr_to_reclaim:
                break
        return max(reclaimed, 0)

    def _memcgs_to_shrink(self, target: MemCgroup | None) -> list[MemCgroup]:
        """mem_cgroup_iter() over ``target``'s subtree, only memcgs with objects listed
        (their shrinker bit set, 4.19+), in creation order."""
        found: set[MemCgroup] = set()
        for lru in self.lrus.values():
            found |= lru.memcgs_with_items()
        if target is not None:
            found = {m for m in found if target in m.lineage}
        return sorted(found, key=lambda m: m.id)

    def shrink_slab(self, memcg: MemCgroup, node: int, priority: int, cpu: int, t: int) -> int:
        """do_shrink_slab() of the superblock shrinker for ``memcg`` on ``node``; returns
        the objects freed."""
        slub = self.slub
        slub.now += slub.costs["shrinker_call"]
        count = sum(lru.count_one(memcg, node) for lru in self.lrus.values())
        freeable = count * self.vfs_cache_pressure // 100      # super_cache_count()
        if not freeable:
            return 0
        delta = (freeable >> priority) * 4 // DEFAULT_SEEKS
        if self.small_cache_pressure:
            delta = max(delta, min(freeable, SHRINK_BATCH))
        total_scan = min(delta, 2 * freeable)
        freed = 0
        while total_scan >= SHRINK_BATCH or total_scan >= freeable:
            nr_to_scan = min(SHRINK_BATCH, total_scan)
            freed += self.super_cache_scan(memcg, node, nr_to_scan, cpu, t)
            self.slabs_scanned += nr_to_scan
            total_scan -= nr_to_scan
        return freed

    def super_cache_scan(self, memcg: MemCgroup, node: int, nr_to_scan: int, cpu: int,
                         t: int) -> int:
        """super_cache_scan(): nr_to_scan shared among the lists in proportion, each
        list pruned oldest first (prune_dcache_sb() then prune_icache_sb())."""
        lrus = list(self.lrus.values())
        counts = [lru.count_one(memcg, node) for lru in lrus]
        total = sum(counts) + 1
        freed = 0
        for lru, count in zip(lrus, counts):
            for item in lru.walk_one(memcg, node, nr_to_scan * count // total + 1):
                state = "dying" if charged_memcg(item).dying else "live"
                self.scanned[state] += 1
                self.freed[state] += 1
                freed += 1
                self._evict(item, cpu, t)      # its free may wait at a lock
        return freed

    # -- figures -------------------------------------------------------------------------

    def freed_total(self) -> int:
        return self.freed["live"] + self.freed["dying"]

    def lru_items(self) -> int:
        return sum(lru.nr_items for lru in self.lrus.values())

    def summary(self) -> dict:
        """The result document's ``reclaim`` object."""
        scanned = dict(self.scanned, total=sum(self.scanned.values()))
        freed = dict(self.freed, total=sum(self.freed.values()))
        time_ns = dict(self.time_ns, total=sum(self.time_ns.values()))
        return {
            "scanned": scanned,
            "freed": freed,
            "slabs_scanned": self.slabs_scanned,
            "expired": self.expired,
            "reparented": self.drained,
            "lru_items": self.lru_items(),
            "pages_reclaimed": dict(self.pages, total=sum(self.pages.values())),
            "time_ns": time_ns,
            "background": {"kswapd_runs": self.kswapd_runs},
            "direct": {"stalls": self.stalls.count, "latency_ns": self.stalls.summary()},
            "events": dict(self.events),
        }
