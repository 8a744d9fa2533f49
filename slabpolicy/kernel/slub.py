"""The SLUB allocator model: caches, slabs, the alloc and free paths.

What is modelled is mm/slub.c of the 3.3/3.4 era the seed patch applies to
(per-cpu partial lists included).  The workload's SLUB era (``machine.slub``)
fixes the rest together: the geometry and ``cpu_partial`` of
:mod:`slabpolicy.kernel.geometry`, how the cpu partial list is bounded (3.4: by
free objects; 6.x: by slabs), whether a node keeps an empty slab
(``nr_partial > min_partial`` in 3.4, ``>=`` from 4.0), and 3.4's discard of an
empty cpu partial slab met before any list_lock is held.  Objects are interchangeable, so a slab is a
count: an object handle is the slab it lives in, and ``slab.inuse`` is the
number of live objects in it.  The cpu slab's objects are split, as in the
kernel, between the cpu freelist (``c.freelist``, a count here) and the slab's
own freelist, which collects frees from other cpus.

Every path charges the cost-model steps it takes (:mod:`slabpolicy.kernel.costs`) to
the op clock ``Allocator.now`` and takes the modelled ``list_lock`` of a
``kmem_cache_node`` where the kernel takes it.  The public methods below that
are not ``slab_alloc``/``slab_free`` are the operations a policy plugin may
use: each charges its modelled cost, takes its modelled locks, and keeps the
counters that the accounting checker compares with the slabs that exist.
"""
from __future__ import annotations

import sys
from collections import deque
from typing import Callable

from greenlet import getcurrent

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

from slabpolicy.kernel.costs import default_costs
from slabpolicy.kernel.fast_int import time_add
from slabpolicy.kernel.geometry import cpu_partial_for, cpu_partial_slabs, geometry
from slabpolicy.kernel.histogram import Histogram
from slabpolicy.kernel.locks import Lock, LockRegistry
from slabpolicy.kernel.memcg import MemCgroup, MemcgTree
from slabpolicy.kernel.memcg_stock import MemcgStock
from slabpolicy.kernel.objcg import OBJ_POINTER_BYTES, ObjCgroup, ObjcgAccounting

# Where a slab is; the kernel keeps this implicit in page->frozen and page->lru.  The
# compiled core has them as slub.pxd's cpdef enum, the same ints in the module (Cython
# drops this block): ``slab.where = PARTIAL`` is then a C store, where a module global's
# look-up and its conversion to a C integer were some 25 instructions.
if not cython.compiled:
    NOWHERE = 0      # unfrozen and on no list: a full slab of a cache without a full list
    PARTIAL = 1      # on a kmem_cache_node's partial list
    FULL = 2         # on a kmem_cache_node's full list (SLAB_STORE_USER caches only)
    CPU_SLAB = 3     # frozen: some cpu's cpu slab
    CPU_PARTIAL = 4  # frozen: on some cpu's partial list
WHERE = ("nowhere", "partial", "full", "cpu slab", "cpu partial")

SLAB_CHAINED = 0x04000000
"""The seed patch's flag: "Slab is dead, but some objects still points to it"."""

DEACTIVATE_TO_HEAD = False
DEACTIVATE_TO_TAIL = True

#: enum stat_item of include/linux/slub_def.h (v3.4), in its order: the SLUB
#: statistics (CONFIG_SLUB_STATS) a cache counts, each at its index.  The paths count
#: with :func:`stat` into ``KmemCache._stat_count``, an array indexed by the enum: a C
#: array indexed by slub.pxd's C enum on the compiled core, a list on the pure one.
STAT_ITEMS = (
    "ALLOC_FASTPATH", "ALLOC_SLOWPATH", "FREE_FASTPATH", "FREE_SLOWPATH", "FREE_FROZEN",
    "FREE_ADD_PARTIAL", "FREE_REMOVE_PARTIAL", "ALLOC_FROM_PARTIAL", "ALLOC_SLAB",
    "ALLOC_REFILL", "ALLOC_NODE_MISMATCH", "FREE_SLAB", "CPUSLAB_FLUSH", "DEACTIVATE_FULL",
    "DEACTIVATE_EMPTY", "DEACTIVATE_TO_HEAD", "DEACTIVATE_TO_TAIL",
    "DEACTIVATE_REMOTE_FREES", "DEACTIVATE_BYPASS", "ORDER_FALLBACK",
    "CMPXCHG_DOUBLE_CPU_FAIL", "CMPXCHG_DOUBLE_FAIL", "CPU_PARTIAL_ALLOC", "CPU_PARTIAL_FREE",
    "CPU_PARTIAL_NODE", "CPU_PARTIAL_DRAIN")
#: item name -> its index, for :meth:`KmemCache.stat` and :attr:`KmemCache.stats`
STAT_INDEX = {item: si for si, item in enumerate(STAT_ITEMS)}

if not cython.compiled:
    # The enum's constants as Python ints; the compiled core has slub.pxd's C enum
    # (Cython drops this block).  Items 15 and 16 have no constant: this module's
    # DEACTIVATE_TO_HEAD/TAIL are add_partial()'s ``tail`` flag (3.4 passes those two
    # items as that flag), and the model counts neither.
    (ALLOC_FASTPATH, ALLOC_SLOWPATH, FREE_FASTPATH, FREE_SLOWPATH, FREE_FROZEN,
     FREE_ADD_PARTIAL, FREE_REMOVE_PARTIAL, ALLOC_FROM_PARTIAL, ALLOC_SLAB,
     ALLOC_REFILL, ALLOC_NODE_MISMATCH, FREE_SLAB, CPUSLAB_FLUSH, DEACTIVATE_FULL,
     DEACTIVATE_EMPTY, _, _, DEACTIVATE_REMOTE_FREES, DEACTIVATE_BYPASS, ORDER_FALLBACK,
     CMPXCHG_DOUBLE_CPU_FAIL, CMPXCHG_DOUBLE_FAIL, CPU_PARTIAL_ALLOC, CPU_PARTIAL_FREE,
     CPU_PARTIAL_NODE, CPU_PARTIAL_DRAIN) = range(len(STAT_ITEMS))
    NR_SLUB_STAT_ITEMS = len(STAT_ITEMS)

#: ``cpu_free_at`` of a cpu whose operation is stopped, waiting its turn at a lock
#: (:mod:`slabpolicy.kernel.turns`): the next operation on that cpu waits for it
BUSY = 1 << 100

#: the cpu partial list of a cpu that has none: an empty tuple shared by every cpu of
#: every cache, which reads as an empty list does (len, iteration, reversed(), truth).
#: put_cpu_partial() makes a list when it puts the first slab, unfreeze_partials()
#: puts this back: most (cache, cpu) pairs never hold a cpu partial slab, and a list
#: each (8 per cache on an 8-cpu machine) was a quarter of the Python objects a run
#: with thousands of small caches made and the garbage collector walked
NO_PARTIAL: tuple = ()


class Slab:
    """One slab (a struct page of ``1 << order`` pages): a count of live objects."""

    __slots__ = ("cache", "node", "objects", "inuse", "frozen", "where", "cpu", "pobj",
                 "lru", "prev", "next", "freed", "id", "last_cpu")

    def __init__(self, cache: KmemCache, node: int, id: int) -> None:
        self.cache = cache          # page->slab: the cache that owns the slab now
        self.node = node            # page_to_nid()
        self.objects = cache.objects
        self.inuse = 0              # live objects
        self.frozen = False
        self.where = NOWHERE
        self.cpu = -1               # the cpu whose cpu slab / partial list holds it, if frozen
        self.pobj = 0               # free objects when it was put on a cpu partial list
        self.lru: SlabList | None = None   # the node list the slab is on, if any
        self.prev: Slab | None = None
        self.next: Slab | None = None
        self.freed = False          # returned to the page allocator
        self.id = id
        #: the cpu whose cmpxchg_double last wrote the struct page (its line is there)
        self.last_cpu = -1

    def __repr__(self) -> str:
        return (f"<slab {self.id} of {self.cache.name} node {self.node} "
                f"{self.inuse}/{self.objects} {WHERE[self.where]}{' frozen' if self.frozen else ''}>")


class SlabList:
    """A kernel ``struct list_head`` of slabs (page->lru): O(1) add and remove."""

    __slots__ = ("head", "tail", "length", "name")

    def __init__(self, name: str) -> None:
        self.head: Slab | None = None
        self.tail: Slab | None = None
        self.length = 0
        self.name = name

    def add(self, slab: Slab, tail: bool) -> None:
        if slab.lru is not None:
            raise AssertionError(f"{slab!r} is already on {slab.lru.name}")
        slab.lru = self
        if tail:
            slab.prev, slab.next = self.tail, None
            if self.tail is None:
                self.head = slab
            else:
                self.tail.next = slab
            self.tail = slab
        else:
            slab.prev, slab.next = None, self.head
            if self.head is None:
                self.tail = slab
            else:
                self.head.prev = slab
            self.head = slab
        self.length += 1

    def remove(self, slab: Slab) -> None:
        if slab.lru is not self:
            raise AssertionError(f"{slab!r} is not on {self.name}")
        if slab.prev is None:
            self.head = slab.next
        else:
            slab.prev.next = slab.next
        if slab.next is None:
            self.tail = slab.prev
        else:
            slab.next.prev = slab.prev
        slab.lru = slab.prev = slab.next = None
        self.length -= 1

    def __iter__(self):
        """Iterate from the head; safe against removing the current slab."""
        slab = self.head
        while slab is not None:
            nxt = slab.next
            yield slab
            slab = nxt

    def __len__(self) -> int:
        return self.length


class KmemCacheCpu:
    """struct kmem_cache_cpu: the cpu slab, its freelist and the cpu partial list."""

    __slots__ = ("slab", "freelist", "partial", "pobjects")

    def __init__(self) -> None:
        self.slab: Slab | None = None
        self.freelist = 0                 # objects on the lockless cpu freelist
        #: the cpu partial list, the last slab is the head (NO_PARTIAL while there is none)
        self.partial: list[Slab] | tuple = NO_PARTIAL
        self.pobjects = 0                 # free objects on it, as counted when each was put


class KmemCacheNode:
    """struct kmem_cache_node: list_lock, the partial and full lists and slab counts."""

    __slots__ = ("list_lock", "partial", "full", "nr_slabs", "total_objects", "slabs", "node")

    def __init__(self, lock: Lock, node: int, where: str) -> None:
        """``where`` names it, ``<cache> node <n>``, as its lock is named."""
        self.list_lock = lock
        self.partial = SlabList(where + " partial")
        self.full = SlabList(where + " full")
        self.nr_slabs = 0                 # inc_slabs_node()/dec_slabs_node() counters
        self.total_objects = 0
        #: the slabs of this cache on this node that really exist (not a kernel field:
        #: the ground truth the accounting checker compares the counters with)
        self.slabs: set[Slab] = set()
        self.node = node

    @property
    def nr_partial(self) -> int:
        return self.partial.length


class KmemCache:
    """struct kmem_cache: a root cache or a per-memcg copy of one (kmem_cache_dup())."""

    __slots__ = ("id", "name", "kind", "index", "memcg", "size", "object_size", "order",
                 "pages", "objects", "min_partial", "_cpu_partial", "cpu_partial_slabs",
                 "remote_node_defrag_ratio", "cpu", "node", "flags",
                 "track_full", "free_lock", "discard_empty", "discard", "account", "obj_full_size", "dead", "destroyed", "parent_slab", "root",
                 "_stat_count", "_stat_seen", "policy_data", "allocating", "rcu")

    def __init__(self, alloc: Allocator, id: int, name: str, kind, index: int,
                 memcg: MemCgroup, root: KmemCache | None) -> None:
        self.id = id
        self.name = name
        self.kind = kind
        self.index = index                # the cache kind's index (memcg->kmem_cache[i])
        self.memcg = memcg                # s->memcg: the memcg its pages are charged to
        self.root = root                  # the root cache it was duplicated from (None: root)
        # what kmem_cache_open() computes, the same for every cache of the kind, copied
        # from the Allocator's _kind_layout (_kmem_cache_open() says what each is):
        # ``cpu_partial`` set as slub_set_cpu_partial() sets it, with cpu_partial_slabs
        # (the property's setter below, computed once per kind)
        (self.size, self.object_size, self.order, self.pages, self.objects,
         self.min_partial, self._cpu_partial, self.cpu_partial_slabs,
         self.remote_node_defrag_ratio, self.track_full, self.obj_full_size, self.rcu,
         ncpus, nnodes) = alloc._kind_layout[index]
        self.cpu = _per_cpu(ncpus)
        self.node = _per_node(alloc.locks, name, nnodes)
        self.flags = 0
        #: a lock every free into this cache takes, fast path included (None: none)
        self.free_lock: Lock | None = None
        #: discard a slab that becomes empty whatever min_partial says.  Linux 4.0 made
        #: the tests ``nr_partial >= min_partial`` so that min_partial 0 keeps no empty
        #: slab (d6e0b7fa1186); this era's tests are ``>``, so a dead cache that must
        #: keep none says so here.
        self.discard_empty = False
        #: a policy's replacement for discard_slab() on this cache (None: the core's);
        #: the seed's chained caches change what discard_slab() counts and uncharges
        self.discard: Callable[[KmemCache, Slab], None] | None = None
        #: SLAB_ACCOUNT with object cgroups (5.9+): every object is charged to the
        #: allocating memcg's objcg, obj_full_size() = size + the objcg pointer
        self.account = False
        self.dead = False                 # its memcg is offline
        self.destroyed = False
        self.parent_slab: KmemCache | None = None   # the seed's s->parent_slab
        # SLUB statistics (CONFIG_SLUB_STATS; the view is :attr:`stats`): the count of
        # each item of enum stat_item at its index, and every item counted, in the
        # order of its first count: an item of the enum with None (its count is in
        # _stat_count), any other (a policy's own, the seed's CPU_CHAINED_FREE) with
        # its count.  On the compiled core _stat_count is a C array, zeroed as the new
        # object's memory is (PyType_GenericAlloc()): only Python makes a list.
        if not cython.compiled:
            self._stat_count = [0] * NR_SLUB_STAT_ITEMS
        self._stat_seen: dict[str, int | None] = {}
        self.policy_data: dict = {}
        #: allocation slow paths in progress (one may be stopped at a lock): the
        #: memcg's offline waits for them, as rmdir waits for its tasks to exit
        self.allocating = 0

    @property
    def cpu_partial(self) -> int:
        """``s->cpu_partial``: the per-cpu partial list limit in objects (sysfs
        ``cpu_partial``); 0 keeps no cpu partial list."""
        return self._cpu_partial

    @cpu_partial.setter
    def cpu_partial(self, objects: int) -> None:
        """slub_set_cpu_partial() (6.x): the limit in objects also sets
        ``cpu_partial_slabs`` = DIV_ROUND_UP(objects * 2, objects per slab), the
        limit in slabs that 6.x applies (slabs assumed half full); 3.4 has no
        such field and bounds the list by free objects."""
        self._cpu_partial = objects
        self.cpu_partial_slabs = cpu_partial_slabs(objects, self.objects)

    @property
    def nr_slabs(self) -> int:
        """Slabs counted by inc/dec_slabs_node() over all nodes (what the kernel sees)."""
        return sum(n.nr_slabs for n in self.node)

    def slab_nr_pages(self) -> int:
        """The seed's slab_nr_pages(): pages by the slab counters."""
        return self.nr_slabs * self.pages

    def existing_slabs(self) -> int:
        """Slabs that really exist in this cache (the checker's ground truth)."""
        return sum(len(n.slabs) for n in self.node)

    def stat(self, item: str) -> None:
        """stat(s, ITEM): count a SLUB statistics event by its name, an item of enum
        stat_item or any other (the allocator's own paths call the module's
        :func:`stat` with the enum's index; this method is for policies)."""
        si = STAT_INDEX.get(item)
        if si is not None:
            stat(self, si)
            return
        seen = self._stat_seen
        seen[item] = seen.get(item, 0) + 1

    @property
    def stats(self) -> dict[str, int]:
        """Its SLUB statistics, {item: count}: every item counted at least once, in the
        order of its first count (the order the dict of counts had when it was one).
        A new dict each time: count with :meth:`stat`."""
        count = self._stat_count
        return {item: count[STAT_INDEX[item]] if n is None else n
                for item, n in self._stat_seen.items()}

    def __repr__(self) -> str:
        return f"<kmem_cache {self.name}{' dead' if self.dead else ''}>"


class Allocator:
    """SLUB over the machine's cpus and nodes, with per-memcg caches and a page allocator.

    ``now`` is the op clock: the simulated time inside the operation being run.
    Cost steps and lock waits advance it; the engine sets it when an operation
    starts and reads it when the operation ends.
    """

    def __init__(self, machine, kinds, memcgs: MemcgTree, costs: dict[str, int] | None = None,
                 locks: LockRegistry | None = None) -> None:
        self.machine = machine
        self.kinds = tuple(kinds)
        self.memcgs = memcgs
        self.locks = locks if locks is not None else LockRegistry()
        self.costs = dict(costs) if costs is not None else default_costs()
        self.now = 0
        #: the cpu of the operation running now (the lock statistics' ``lock->cpu``)
        self.cur_cpu = 0
        #: when each cpu's last operation ended (BUSY: one is stopped at a lock)
        self.cpu_free_at = [0] * machine.cpus
        #: operations waiting for a BUSY cpu, handed it in turn as operations end
        self.cpu_waiters: list[deque] = [deque() for _ in range(machine.cpus)]
        #: how many operations wait in cpu_waiters, over every cpu: the end of each
        #: operation tests this count before its cpu's deque, mostly 0 (compiled, a C
        #: comparison; a deque's truth is a call of PyObject_IsTrue, 28 instructions
        #: per end() on memory-pressure / scan-and-move)
        self._cpu_waiting = 0
        #: set by the engine: stops and continues operations at locks (None: a
        #: caller driving the allocator directly, processed in call order)
        self.turns = None
        self.node_of_cpu = [machine.node_of_cpu(c) for c in range(machine.cpus)]
        #: the SLUB era (machine.slub): "3.4" bounds a cpu partial list by its free
        #: objects and keeps an empty slab while nr_partial <= min_partial; "6.x"
        #: bounds it by slabs and keeps one while nr_partial < min_partial
        self.era = machine.slub
        self._counts_slabs = machine.slub == "6.x"
        self._min_partial_slack = 0 if self._counts_slabs else 1
        self.caches: list[KmemCache] = []          # every cache not destroyed
        self.dead_caches: set[KmemCache] = set()   # caches of offline memcgs, not destroyed
        self.total_pages = 0                       # pages the page allocator has handed out
        #: every slab new_slab() made and free_slab() has not freed, in the order they
        #: were made (the accounting checker's list of slabs; not a kernel structure)
        self.existing: dict[Slab, None] = {}
        #: caches whose slabs or slab counters changed since the accounting checker
        #: last counted them (it recounts only those between its full walks)
        self.changed_caches: set[KmemCache] = set()
        self.peak_pages = 0
        self.n_alloc_fast = self.n_alloc_slow = self.n_free_fast = self.n_free_slow = 0
        self.h_alloc_slow = Histogram()
        self.h_free_slow = Histogram()
        # fast paths that did more than the fast step (a free_lock, objcg charging)
        # are recorded; the plain ones all cost exactly their step and are counted
        self.h_alloc_fast_rec = Histogram()
        self.h_free_fast_rec = Histogram()
        self.memcg_stock = MemcgStock(machine.cpus, self.costs)
        self.objcgs = ObjcgAccounting(self, memcgs, machine.cpus, machine.page_size)
        # Set by the engine: the policy's slow-path free into a dead cache (None when no
        # plugin implements it), what to call when a dead cache's last slab goes, and
        # where accounting violations are reported.
        self.dead_cache_free: Callable[[KmemCache, Slab, int], bool | None] | None = None
        self.on_dead_cache_empty: Callable[[KmemCache], None] | None = None
        #: on_violation(message, crash=None): ``crash`` names the kernel function a
        #: real kernel would crash in (a use-after-free, a NULL dereference...);
        #: None is drift (wrong counters, a leak)
        self.on_violation: Callable[..., None] = _raise_violation
        #: SLUB statistics of caches already destroyed, summed
        self.retired_stats: dict[str, int] = {}
        # Set by the kernel model's reclaim and RCU (kernel/reclaim.py, kernel/rcu.py): the
        # limit check after a slow-path allocation (None: no limits), a SLAB_TYPESAFE_BY_RCU
        # cache's deferred page free.
        self.pressure: Callable[[MemCgroup, int, int], None] | None = None
        self.rcu_free_slab: Callable[[KmemCache, Slab, bool], None] | None = None
        self._next_slab_id = 0
        self._next_cache_id = 0
        self._bind_costs()
        #: per cache kind (by index), what kmem_cache_open() computes for a cache of it
        #: on this machine (:func:`_kmem_cache_open`): every per-memcg copy computes the
        #: same from the same size and flags, so it is computed once per kind, here
        self._kind_layout = [_kmem_cache_open(machine, kind) for kind in self.kinds]
        self.root_caches = [self._new_cache(kind, i, memcgs.root, None)
                            for i, kind in enumerate(self.kinds)]

    def _bind_costs(self) -> None:
        c = self.costs
        self.c_alloc_fast = c["alloc_fast"]
        self.c_free_fast = c["free_fast"]
        self.c_alloc_slow = c["alloc_slow"]
        self.c_free_slow = c["free_slow"]
        self.c_cmpxchg = c["cmpxchg"]
        self.c_lock = c["lock"]
        self.c_lock_bounce = c["lock_bounce"]
        self.c_line_transfer = c["line_transfer"]
        self.c_list_op = c["list_op"]
        # the per-object costs of RCU frees and of unused objects' eviction (rcu.py,
        # reclaim.py): read on every such object, so bound too
        self.c_call_rcu = c["call_rcu"]
        self.c_rcu_callback = c["rcu_callback"]
        self.c_object_evict = c["object_evict"]

    # -- caches ----------------------------------------------------------------------

    def _new_cache(self, kind, index: int, memcg: MemCgroup, root: KmemCache | None) -> KmemCache:
        name = kind.name if root is None else f"{kind.name}({memcg.id}:{memcg.name})"
        cache = KmemCache(self, self._next_cache_id, name, kind, index, memcg, root)
        self._next_cache_id += 1
        self.caches.append(cache)
        return cache

    def kmem_cache_dup(self, root: KmemCache, memcg: MemCgroup) -> KmemCache:
        """kmem_cache_dup(): a copy of a root cache whose pages are charged to ``memcg``.

        The cache holds a reference on its memcg until it is destroyed.  Creation is
        asynchronous in the kernel (memcg_create_cache_enqueue()), so it costs no
        allocation any latency here.
        """
        self.memcgs.get(memcg)
        cache = self._new_cache(root.kind, root.index, memcg, root)
        if memcg.state != "online":
            cache.dead = True
            self.dead_caches.add(cache)
        return cache

    def kmem_cache_destroy(self, s: KmemCache) -> None:
        """kmem_cache_destroy() of a per-memcg cache, then mem_cgroup_put() of its memcg.

        A cache destroyed while slabs still exist loses them: that is reported as an
        accounting violation (the kernel's "Objects remaining on kmem_cache_close()").
        """
        if s.destroyed:
            self.on_violation(f"{s.name}: destroyed twice", crash="kmem_cache_destroy()")
            return
        self.now += self.costs["cache_destroy"]
        left = s.existing_slabs()
        if left:
            objs = sum(sl.inuse for n in s.node for sl in n.slabs)
            # live objects in a freed kmem_cache: their frees are use-after-free
            self.on_violation(f"{s.name}: destroyed with {left} slabs ({objs} objects) left",
                              crash="kmem_cache_destroy()" if objs else None)
        s.destroyed = True
        self.changed_caches.add(s)
        for item, n in s.stats.items():
            self.retired_stats[item] = self.retired_stats.get(item, 0) + n
        _remove_cache(self.caches, s)
        self.dead_caches.discard(s)
        if s.root is not None:
            self.memcgs.put(s.memcg, self.now)

    def mark_dead(self, s: KmemCache) -> None:
        """The cache's memcg went offline: it is a dead cache from now on."""
        s.dead = True
        self.dead_caches.add(s)

    # -- counters --------------------------------------------------------------------

    def inc_slabs_node(self, s: KmemCache, node: int, objects: int) -> None:
        """inc_slabs_node(): count a slab in ``s`` on ``node``."""
        n = s.node[node]
        n.nr_slabs += 1
        n.total_objects += objects
        self.changed_caches.add(s)

    def dec_slabs_node(self, s: KmemCache | None, node: int, objects: int) -> None:
        """dec_slabs_node(): uncount a slab; a call on no cache (NULL) is a violation."""
        if s is None:
            self.on_violation("dec_slabs_node() on a NULL cache (parent_slab not set yet)",
                              crash="dec_slabs_node()")
            return
        n = s.node[node]
        n.nr_slabs -= 1
        n.total_objects -= objects
        self.changed_caches.add(s)

    def set_slab_cache(self, slab: Slab, s: KmemCache) -> None:
        """``page->slab = s``: the slab now belongs to ``s`` (moves no counter, no charge)."""
        slab.cache.node[slab.node].slabs.discard(slab)
        self.changed_caches.add(slab.cache)
        slab.cache = s
        s.node[slab.node].slabs.add(slab)
        self.existing[slab] = None
        self.changed_caches.add(s)

    # -- node lists --------------------------------------------------------------------

    # -- locks and cpus: an operation that must wait stops and continues later -------

    def lock(self, lock: Lock) -> None:
        """spin_lock_irqsave(): take ``lock`` in its turn, wait while it is held, pay
        the lock cost (more when the lock's line was last written by another cpu).

        Inside the engine's loop an operation reaching the lock while an earlier
        event is queued stops here and continues at its arrival time, so that the
        acquisitions of every lock are processed in arrival order and no two holds
        overlap (:mod:`slabpolicy.kernel.turns`).
        """
        arrived = self.now
        cpu = self.cur_cpu
        turns = self.turns
        if turns is not None and turns.must_wait(arrived):
            self.cpu_free_at[cpu] = BUSY
            turns.wait_until(arrived)
            self.now = arrived
            self.cur_cpu = cpu
        self._acquire(lock, arrived, cpu)

    def _acquire(self, lock: Lock, arrived: int, cpu: int) -> None:
        """The acquisition of ``lock`` by ``cpu`` in its turn (arrived at ``arrived``, no
        earlier event left): wait while it is held, pay the lock cost.  What lock()
        does once the turn has come, and what an operation stopped as a continuation
        before a lock (:meth:`_slab_free_continue`) does at its turn."""
        # a lock not held is taken when its last holder released it, or at the
        # arrival (Lock.take() with ``acquired`` None compares the two)
        acquired = self._queue_for(lock, arrived, cpu) if lock.held else None
        self.now = lock.take(arrived, acquired, cpu, self.c_lock, self.c_lock_bounce)
        # the holder: the running operation's greenlet (None outside a loop)
        turns = self.turns
        lock.owner = turns.running if turns is not None else getcurrent()

    def _must_stop(self, cpu: int) -> bool:
        """Whether the operation running on ``cpu``, arriving at a lock now, must wait
        for its turn there (as lock() would stop); if so, ``cpu`` is BUSY from now
        on, and the caller stops as a continuation (Turns.defer)."""
        turns = self.turns
        if turns is not None and turns.must_wait(self.now):
            self.cpu_free_at[cpu] = BUSY
            return True
        return False

    def _queue_for(self, lock: Lock, arrived: int, cpu: int) -> int:
        """Queue behind the stopped operation holding ``lock``; return when it is
        handed over (the release of the holder, or the arrival if later)."""
        me = self.turns.running if self.turns is not None else getcurrent()
        if lock.owner is me:
            raise RuntimeError(f"{lock.name or lock.cls.name}: taken again by its holder "
                               f"(a deadlock) at t={arrived}ns")
        if self.turns is None or not self.turns.can_stop():
            raise RuntimeError(f"{lock.name or lock.cls.name}: held by a stopped operation; "
                               f"run the queued events before operating on it directly")
        self.cpu_free_at[cpu] = BUSY
        if lock.waiters is None:
            lock.waiters = deque()
        lock.waiters.append((me, arrived))
        acquired = self.turns.suspend()
        self.cur_cpu = cpu
        return acquired

    def unlock(self, lock: Lock) -> None:
        """spin_unlock_irqrestore(); the first operation queued behind a stopped
        holder gets the lock handed over."""
        lock.release(self.now)
        if lock.waiters:
            g, arrived = lock.waiters.popleft()
            lock.held = True
            self.turns.wake(g, self.now if self.now > arrived else arrived)

    def wait_for_cpu(self, cpu: int, t: int) -> int:
        """An operation arriving at ``t`` on a BUSY cpu waits until the cpu's stopped
        operation has ended; returns when it can start."""
        turns = self.turns
        if turns is None or not turns.can_stop():
            raise RuntimeError(f"cpu {cpu} is busy with a stopped operation; run the "
                               f"queued events before operating on it directly")
        self.cpu_waiters[cpu].append(turns.running)
        self._cpu_waiting += 1
        start = turns.suspend()        # handed the cpu (it stays BUSY for this operation)
        return start if start > t else t

    def begin(self, cpu: int, t: int) -> int:
        """Start an operation (not an alloc or a free) on ``cpu`` arriving at ``t``:
        after the cpu's previous one.  Sets and returns the op clock."""
        start = self.cpu_free_at[cpu]
        # the cpu free before ``t`` first (the common case, one comparison), in C on the
        # compiled core (fast_int.pxd's time_lt()); BUSY is later than any arrival
        if time_lt(start, t) if cython.compiled else start < t:
            start = t
        elif start >= BUSY:
            start = self.wait_for_cpu(cpu, t)
        self.now = start
        self.cur_cpu = cpu
        return start

    def end(self, cpu: int) -> None:
        """The operation running on ``cpu`` ends now; operations waiting for the cpu
        continue."""
        self.cpu_free_at[cpu] = self.now
        if self._cpu_waiting and self.cpu_waiters[cpu]:
            self._wake_cpu(cpu)

    def _wake_cpu(self, cpu: int) -> None:
        """Hand the cpu to the first operation waiting for it, first come first served:
        the cpu stays BUSY until that one ends and hands it on in turn."""
        self.cpu_free_at[cpu] = BUSY
        self._cpu_waiting -= 1
        self.turns.wake(self.cpu_waiters[cpu].popleft(), self.now)

    def add_partial(self, n: KmemCacheNode, slab: Slab, tail: bool = DEACTIVATE_TO_TAIL) -> None:
        """add_partial(): put ``slab`` on ``n``'s partial list (list_lock held)."""
        self.now = time_add(self.now, self.c_list_op)
        n.partial.add(slab, tail)
        slab.where = PARTIAL

    def remove_partial(self, n: KmemCacheNode, slab: Slab) -> None:
        """remove_partial(): take ``slab`` off ``n``'s partial list (list_lock held)."""
        self.now = time_add(self.now, self.c_list_op)
        n.partial.remove(slab)
        slab.where = NOWHERE

    def add_full(self, s: KmemCache, n: KmemCacheNode, slab: Slab) -> None:
        """add_full(): only caches that keep a full list (SLAB_STORE_USER) do anything."""
        if not s.track_full:
            slab.where = NOWHERE
            return
        self.now = time_add(self.now, self.c_list_op)
        n.full.add(slab, DEACTIVATE_TO_TAIL)
        slab.where = FULL

    def remove_full(self, s: KmemCache, slab: Slab) -> None:
        """remove_full(): only caches that keep a full list do anything."""
        if not s.track_full or slab.lru is None:
            return
        self.now = time_add(self.now, self.c_list_op)
        slab.lru.remove(slab)
        slab.where = NOWHERE

    # -- page allocator ------------------------------------------------------------------

    def new_slab(self, s: KmemCache, node: int) -> Slab:
        """new_slab()/allocate_slab(): pages from the page allocator, charged to s->memcg."""
        cost = self.costs
        self.now += (cost["page_alloc"] + cost["page_order"] * s.order
                     + cost["slab_init_object"] * s.objects)
        if s.memcg is not None and not s.memcg.is_root:
            self.now += self.memcg_stock.charge(s.memcg, self.cur_cpu, s.pages)
        self.memcgs.charge(s.memcg, s.pages)
        slab = Slab(s, node, self._next_slab_id)
        self._next_slab_id += 1
        s.node[node].slabs.add(slab)
        self.existing[slab] = None
        self.inc_slabs_node(s, node, slab.objects)
        self.total_pages += s.pages
        if s.account:                   # account_slab(): the obj_cgroups vector
            self.objcgs.slab_created(slab)
        held = self.total_pages + self.objcgs.vector_pages
        if held > self.peak_pages:
            self.peak_pages = held
        return slab

    def free_slab(self, s: KmemCache, slab: Slab, uncharge: bool = True) -> None:
        """free_slab()/__free_slab(): return the pages; uncharge s->memcg unless told not to.

        ``uncharge=False`` is the seed patch's ``if (s->memcg && !(s->flags & SLAB_CHAINED))``.
        """
        if slab.freed:
            self.on_violation(f"slab {slab.id} of {slab.cache.name} freed twice",
                              crash="__free_slab()")
            return
        if slab.lru is not None:
            self.on_violation(f"slab {slab.id} freed while still on {slab.lru.name}",
                              crash="__free_slab()")
        if slab.inuse:
            self.on_violation(f"slab {slab.id} of {slab.cache.name} freed with "
                              f"{slab.inuse} live objects", crash="__free_slab()")
        slab.freed = True
        slab.cache.node[slab.node].slabs.discard(slab)
        self.existing.pop(slab, None)
        self.changed_caches.add(slab.cache)
        if s.rcu == "typesafe" and self.rcu_free_slab is not None:
            self.rcu_free_slab(s, slab, uncharge)     # call_rcu(rcu_free_slab)
            return
        self.free_pages(s, slab, uncharge)

    def free_pages(self, s: KmemCache, slab: Slab, uncharge: bool = True) -> None:
        """__free_slab(): the slab's pages back to the page allocator, s->memcg uncharged
        unless told not to."""
        cost = self.costs
        self.now += cost["page_free"] + cost["page_order"] * s.order
        self.total_pages -= slab.cache.pages
        if self.objcgs.vectors:
            self.objcgs.free_vector(slab)
        if uncharge:
            if not s.memcg.is_root:
                self.now += self.memcg_stock.uncharge(s.memcg, self.cur_cpu, s.pages)
            self.memcgs.uncharge(s.memcg, s.pages)

    def discard_slab(self, s: KmemCache, slab: Slab) -> None:
        """discard_slab(): uncount and free an empty slab.

        When that leaves a dead cache with no slab, the policy is told
        (``slabpolicy_dead_cache_empty``).  A cache whose ``discard`` a policy has
        replaced goes through the replacement instead.
        """
        if s.discard is not None:
            s.discard(s, slab)
            return
        self.dec_slabs_node(s, slab.node, slab.objects)
        self.free_slab(s, slab)
        if s.dead and self.on_dead_cache_empty is not None and not s.nr_slabs:
            self.on_dead_cache_empty(s)

    # -- the alloc path ------------------------------------------------------------------

    def slab_alloc(self, s: KmemCache, cpu: int, t: int, objcg: ObjCgroup | None = None) -> Slab:
        """slab_alloc(): an object from ``s`` on ``cpu``, arriving at time ``t``.

        The fast path takes one object off the cpu freelist; otherwise
        __slab_alloc().  With ``objcg`` (an accounted cache) the object is charged
        first (memcg_slab_pre_alloc_hook(), obj_cgroup_charge()).  The cpu runs one
        operation at a time: the operation starts when the cpu's previous one has
        finished.  Returns the slab (the object's handle).
        """
        start = self.cpu_free_at[cpu]
        if time_lt(start, t) if cython.compiled else start < t:     # as begin() compares
            start = t
        elif start >= BUSY:
            s.allocating += 1
            start = self.wait_for_cpu(cpu, t)
            s.allocating -= 1
            return self._slab_alloc_recorded(s, s.cpu[cpu], cpu, start, objcg)
        c = s.cpu[cpu]
        if c.freelist and objcg is None:
            c.freelist -= 1
            slab = c.slab
            slab.inuse += 1
            self.cpu_free_at[cpu] = time_add(start, self.c_alloc_fast)
            self.n_alloc_fast += 1
            return slab
        return self._slab_alloc_recorded(s, c, cpu, start, objcg)

    def _slab_alloc_recorded(self, s: KmemCache, c: KmemCacheCpu, cpu: int, start: int,
                             objcg: ObjCgroup | None) -> Slab:
        """The rest of slab_alloc(), whose latency is recorded: charging, a fast path
        after it, or __slab_alloc().  An allocation that waited for its cpu comes
        here whatever path it takes, so that it hands the cpu on when it ends."""
        self.now = start
        self.cur_cpu = cpu
        if objcg is not None:
            self.now = self.objcgs.charge(objcg, cpu, s.obj_full_size, self.now)
        if c.freelist:
            self.now = time_add(self.now, self.c_alloc_fast)
            c.freelist -= 1
            slab = c.slab
            slab.inuse += 1
            self.n_alloc_fast += 1
            hist = self.h_alloc_fast_rec
        else:
            self.now = time_add(self.now, self.c_alloc_slow)
            s.allocating += 1
            slab = self._slab_alloc_slow(s, c, cpu)
            s.allocating -= 1
            self.n_alloc_slow += 1
            hist = self.h_alloc_slow
        if objcg is not None and slab not in self.objcgs.vectors:
            self.objcgs.post_alloc(slab)   # memcg_slab_post_alloc_hook(): the slab's vector
        self.cpu_free_at[cpu] = self.now
        if self.pressure is not None:      # over a limit: reclaim before returning
            self.pressure(objcg.memcg if objcg is not None else s.memcg, cpu, start)
            self.now = self.cpu_free_at[cpu]
        if self._cpu_waiting and self.cpu_waiters[cpu]:
            self._wake_cpu(cpu)
        hist.record_span(start, self.now)
        return slab

    def _slab_alloc_slow(self, s: KmemCache, c: KmemCacheCpu, cpu: int) -> Slab:
        """__slab_alloc(): refill from the slab, the cpu partial list, the node, or a new slab."""
        slab = c.slab
        if slab is not None:
            # get_freelist(): take what other cpus freed to the cpu slab meanwhile
            self.now = time_add(self.now, self.c_cmpxchg)
            if slab.inuse < slab.objects:
                stat(s, ALLOC_REFILL)
                return _load_freelist(c, slab, cpu)
            # the cpu slab is full: unfreeze it off the cpu, onto no list
            c.slab = None
            stat(s, DEACTIVATE_FULL)
            if s.track_full:
                # onto the full list: list_lock first, then unfrozen (deactivate_slab()
                # takes the lock before the cmpxchg that unfreezes); frees arriving
                # meanwhile find it frozen and leave it alone
                n = s.node[slab.node]
                self.lock(n.list_lock)
                slab.frozen = False
                slab.cpu = -1
                if slab.inuse < slab.objects:        # freed into while it waited
                    self.add_partial(n, slab, DEACTIVATE_TO_TAIL)
                else:
                    self.add_full(s, n, slab)
                self.unlock(n.list_lock)
            else:
                slab.frozen = False
                slab.cpu = -1
                slab.where = NOWHERE
        if c.partial:
            slab = c.partial.pop()
            c.pobjects -= slab.pobj
            slab.where = CPU_SLAB
            c.slab = slab
            self.now = time_add(self.now, self.c_cmpxchg)
            stat(s, CPU_PARTIAL_ALLOC)
            return _load_freelist(c, slab, cpu)
        node = self.node_of_cpu[cpu]
        slab = self.get_partial_node(s, s.node[node], c, cpu)
        if slab is None and len(s.node) > 1:
            slab = self.get_any_partial(s, c, cpu, node)
        if slab is None:
            slab = self.new_slab(s, node)
            slab.frozen = True
            slab.where = CPU_SLAB
            slab.cpu = cpu
            c.slab = slab
            stat(s, ALLOC_SLAB)
        return _load_freelist(c, slab, cpu)

    def get_partial_node(self, s: KmemCache, n: KmemCacheNode, c: KmemCacheCpu,
                         cpu: int) -> Slab | None:
        """get_partial_node(): under list_lock, the first partial slab becomes the cpu slab
        and more are frozen onto the cpu partial list until, in 3.4, more than
        cpu_partial/2 objects are free there (``available > s->cpu_partial / 2``), or,
        in 6.x, more than cpu_partial_slabs/2 slabs were put there
        (``++partial_slabs > slub_get_cpu_partial(s) / 2``, v6.9; none at all when
        cpu_partial_slabs is 0)."""
        if not n.partial.length:      # checked without the lock, as the kernel does
            return None
        self.lock(n.list_lock)
        first = None
        partial_slabs = 0
        # list_for_each_entry_safe() from the head, as a walk of the links rather than
        # SlabList's iterator (a generator made per call, for what is mostly one slab)
        nxt = n.partial.head
        while nxt is not None:
            slab = nxt
            nxt = slab.next
            # acquire_slab(): off the partial list, frozen
            self.remove_partial(n, slab)
            self.now = time_add(self.now, self.c_cmpxchg)
            slab.frozen = True
            if first is None:
                first = slab
                slab.where = CPU_SLAB
                slab.cpu = cpu
                c.slab = slab
                available = 0       # acquire_slab(mode=1) hands the whole freelist over
                stat(s, ALLOC_FROM_PARTIAL)
            else:
                available = self.put_cpu_partial(s, slab, cpu, drain=False)
                partial_slabs += 1
                stat(s, CPU_PARTIAL_NODE)
            if s.track_full:
                break
            if self._counts_slabs:
                if partial_slabs > s.cpu_partial_slabs // 2 or not s.cpu_partial_slabs:
                    break
            elif available > s._cpu_partial // 2:
                break
        self.unlock(n.list_lock)
        return first

    def get_any_partial(self, s: KmemCache, c: KmemCacheCpu, cpu: int,
                        node: int) -> Slab | None:
        """get_any_partial() (3.4 and 6.x, CONFIG_NUMA): when ``node`` had no partial
        slab, ``if (!s->remote_node_defrag_ratio || get_cycles() % 1024 >
        s->remote_node_defrag_ratio) return NULL;``, else the other nodes in
        zonelist order (here: the next node first, wrapping round, as
        build_zonelists() orders nodes at equal distance) with more than
        min_partial partial slabs are tried with get_partial_node()."""
        ratio = s.remote_node_defrag_ratio
        if not ratio or self.get_cycles() % 1024 > ratio:
            return None
        nodes = len(s.node)
        for i in range(1, nodes):
            n = s.node[(node + i) % nodes]
            if n.partial.length > s.min_partial:
                slab = self.get_partial_node(s, n, c, cpu)
                if slab is not None:
                    return slab
        return None

    def get_cycles(self) -> int:
        """get_cycles(), the TSC, made deterministic: the op clock in nanoseconds, as
        a 1 GHz TSC would count; get_any_partial() uses its low ten bits as a
        pseudo-random draw, as the kernel does."""
        return self.now

    def discards_empty(self, s: KmemCache, n: KmemCacheNode) -> bool:
        """Whether an empty slab of ``s`` is discarded rather than kept on ``n``: 3.4's
        ``n->nr_partial > s->min_partial``, 6.x's ``n->nr_partial >= s->min_partial``
        (Linux 4.0, d6e0b7fa1186, so that min_partial 0 keeps none), or always for a
        cache that keeps no empty slab (``discard_empty``)."""
        return s.discard_empty or n.partial.length >= s.min_partial + self._min_partial_slack

    def put_cpu_partial(self, s: KmemCache, slab: Slab, cpu: int, drain: bool) -> int:
        """put_cpu_partial(): freeze ``slab`` onto ``cpu``'s partial list.

        With ``drain``, a full list is first unfrozen onto the node lists
        (CPU_PARTIAL_DRAIN): in 3.4 one holding more than cpu_partial free objects
        (``pobjects > s->cpu_partial``), in 6.x one already holding cpu_partial_slabs
        slabs (``oldslab->slabs >= s->cpu_partial_slabs``; 6.x drains after putting
        the new slab on a fresh list, the same lists in the end).  A cache whose
        cpu_partial is 0 keeps nothing there (the 4.0 change for dead caches,
        "slub: make dead caches discard free slabs immediately").  Returns the
        free objects now on the list (pobjects).
        """
        c = s.cpu[cpu]
        self.now = time_add(self.now, self.c_cmpxchg)
        if drain and c.partial and (len(c.partial) >= s.cpu_partial_slabs
                                    if self._counts_slabs else c.pobjects > s._cpu_partial):
            self.unfreeze_partials(s, c)
            stat(s, CPU_PARTIAL_DRAIN)
        slab.frozen = True
        slab.where = CPU_PARTIAL
        slab.cpu = cpu
        slab.pobj = slab.objects - slab.inuse
        c.pobjects += slab.pobj
        if c.partial:
            c.partial.append(slab)
        else:
            c.partial = [slab]
        pobjects = c.pobjects
        if not s._cpu_partial:
            self.unfreeze_partials(s, c)
        return pobjects

    def unfreeze_partials(self, s: KmemCache, c: KmemCacheCpu) -> None:
        """unfreeze_partials(): every slab of the cpu partial list goes to its node's
        partial list under that node's list_lock, or, if empty while the node has
        enough partial slabs (:meth:`discards_empty`), is discarded after the lock
        is dropped.

        3.4 decides before it takes a lock, against the node whose lock it holds:
        ``if (!new.inuse && (!n || n->nr_partial > s->min_partial)) m = M_FREE;``,
        so an empty slab met before any list_lock is held (``n`` still NULL) is
        discarded without the lock whatever min_partial says.  6.x
        (__unfreeze_partials(), v6.6; __put_partials() from v6.8) takes the slab's
        node lock first and tests ``n->nr_partial >= s->min_partial``.
        """
        held = None
        held_node = None
        discard = []
        # the list is taken off the cpu first (this_cpu_write(partial, NULL)), so that
        # a flush of this cpu while the walk waits for a list_lock finds it empty
        partial = c.partial
        c.partial = NO_PARTIAL
        c.pobjects = 0
        for slab in reversed(partial):            # from the list head: the latest put
            n = s.node[slab.node]
            if not slab.inuse and not self._counts_slabs and (
                    held_node is None or self.discards_empty(s, held_node)):
                self.now = time_add(self.now, self.c_cmpxchg)   # 3.4: M_FREE, no lock taken for it
                slab.frozen = False
                slab.cpu = -1
                slab.where = NOWHERE
                discard.append(slab)
                continue
            if n.list_lock is not held:
                if held is not None:
                    self.unlock(held)
                held = n.list_lock
                held_node = n
                self.lock(held)
            self.now = time_add(self.now, self.c_cmpxchg)
            slab.frozen = False
            slab.cpu = -1
            if not slab.inuse and self._counts_slabs and self.discards_empty(s, n):
                slab.where = NOWHERE
                discard.append(slab)
            else:
                self.add_partial(n, slab, DEACTIVATE_TO_TAIL)
        if held is not None:
            self.unlock(held)
        for slab in discard:
            stat(s, DEACTIVATE_EMPTY)
            self.discard_slab(s, slab)

    def deactivate_slab(self, s: KmemCache, c: KmemCacheCpu) -> None:
        """deactivate_slab(): the cpu slab goes back, unfrozen, to its node.

        Empty with more than min_partial partial slabs on the node: discarded.
        With free objects: the partial list (to the tail if other cpus freed to it,
        else the head).  Full: the full list if the cache keeps one, else no list.
        """
        slab = c.slab
        remote = slab.objects - slab.inuse - c.freelist   # objects on the slab's own freelist
        c.slab = None
        c.freelist = 0
        self.now = time_add(self.now, self.c_cmpxchg)
        n = s.node[slab.node]
        if not slab.inuse and self.discards_empty(s, n):
            slab.frozen = False
            slab.cpu = -1
            slab.where = NOWHERE
            stat(s, DEACTIVATE_EMPTY)
            self.discard_slab(s, slab)
        elif slab.inuse < slab.objects or s.track_full:
            # list_lock first, then unfrozen (as deactivate_slab() takes the lock before
            # its cmpxchg): frees arriving while it waits find the slab frozen
            self.lock(n.list_lock)
            slab.frozen = False
            slab.cpu = -1
            if slab.inuse < slab.objects:
                self.add_partial(n, slab, DEACTIVATE_TO_TAIL if remote else DEACTIVATE_TO_HEAD)
            else:
                self.add_full(s, n, slab)
            self.unlock(n.list_lock)
        else:
            slab.frozen = False
            slab.cpu = -1
            slab.where = NOWHERE

    def flush_all(self, s: KmemCache) -> None:
        """flush_all(): on every cpu that has a cpu slab or a cpu partial list (an IPI
        each: on_each_cpu_cond(has_cpu_slab), a8364d5555b2, Linux 3.3), deactivate the
        cpu slab and unfreeze the cpu partial list."""
        ipi = self.costs["flush_cpu"]
        for c in s.cpu:
            if c.slab is None and not c.partial:
                continue
            self.now += ipi
            if c.slab is not None:
                self.deactivate_slab(s, c)
            if c.partial:
                self.unfreeze_partials(s, c)

    def kmem_cache_shrink(self, s: KmemCache) -> int:
        """kmem_cache_shrink(): flush the cpu slabs, then, under each node's list_lock,
        take every empty slab off the partial list and sort the others by fullness,
        the fullest at the head, so that allocations fill them and the emptiest
        slabs get the chance to empty.  The empty slabs are discarded after the lock
        is dropped.  Returns the slabs discarded.

        3.4 sorts every slab by ``inuse`` (``slabs_by_inuse``); 4.0 and later
        promote only slabs with at most SHRINK_PROMOTE_MAX (32) free objects.  The
        two orders agree for caches of at most 32 objects a slab, and the sort is
        stable, as list_splice() of the per-count lists is.
        """
        self.flush_all(s)
        discarded = 0
        for n in s.node:
            self.lock(n.list_lock)
            slabs = list(n.partial)
            empty = [slab for slab in slabs if not slab.inuse]
            for slab in slabs:
                self.remove_partial(n, slab)
            for slab in sorted((sl for sl in slabs if sl.inuse), key=lambda sl: -sl.inuse):
                self.add_partial(n, slab, DEACTIVATE_TO_TAIL)
            self.unlock(n.list_lock)
            for slab in empty:
                self.discard_slab(s, slab)
            discarded += len(empty)
        return discarded

    # -- the free path -------------------------------------------------------------------

    def slab_free(self, s: KmemCache, slab: Slab, cpu: int, t: int,
                  objcg: ObjCgroup | None = None, can_defer: bool = False) -> tuple | None:
        """kmem_cache_free(s, x) on ``cpu`` at time ``t``; ``s`` is the cache the object
        was allocated from, as the 2012 API has the caller name it.

        Fast path: the slab is this cpu's cpu slab, the object goes on the cpu
        freelist.  Otherwise __slab_free() of the slab's own cache (page->slab, what
        cache_from_obj() returns), unless ``s`` is dead and the policy handles the
        free itself (``slabpolicy_dead_cache_free``).  A cache with a ``free_lock``
        takes it around every free, the fast path included; an accounted object is
        uncharged from its ``objcg`` first (memcg_slab_free_hook()).

        ``can_defer``: the caller is an operation whose rest can be queued as a call
        (an RCU batch, kernel/rcu.py).  A free that must then wait its turn at
        __slab_free()'s list_lock stops as a continuation rather than in its greenlet:
        it returns what is left of it, for :meth:`_slab_free_continue` at its turn,
        and the caller queues that with its own rest (Turns.defer).  Returns
        None when the free is done.
        """
        start = self.cpu_free_at[cpu]
        if time_lt(start, t) if cython.compiled else start < t:     # as begin() compares
            start = t
        elif start >= BUSY:
            start = self.wait_for_cpu(cpu, t)
            return self._slab_free_recorded(s, slab, cpu, start, objcg, can_defer, False)
        c = s.cpu[cpu]
        if c.slab is slab and s.free_lock is None and objcg is None:
            c.freelist += 1
            slab.inuse -= 1
            self.cpu_free_at[cpu] = time_add(start, self.c_free_fast)
            self.n_free_fast += 1
            return None
        return self._slab_free_recorded(s, slab, cpu, start, objcg, can_defer, False)

    def _slab_free_recorded(self, s: KmemCache, slab: Slab, cpu: int, start: int,
                            objcg: ObjCgroup | None, can_defer: bool,
                            in_turn: bool) -> tuple | None:
        """The rest of slab_free(), whose latency is recorded: the free_lock, the
        uncharge, a fast path after them, or __slab_free().  A free that waited for
        its cpu comes here whatever path it takes, so that it hands the cpu on.
        Returns what is left of a free stopped before list_lock (see slab_free()).

        ``in_turn``: the free arrives at its free_lock at ``start`` in its turn, with
        no earlier event queued (a stopped RCU batch's free at its turn,
        kernel/rcu.py): it takes the lock without asking (:meth:`_acquire`), as
        :meth:`_slab_free_continue` takes list_lock."""
        c = s.cpu[cpu]
        self.now = start
        self.cur_cpu = cpu
        free_lock = s.free_lock     # the lock this free takes, and so the one it releases
        if free_lock is not None:
            if in_turn:
                self._acquire(free_lock, start, cpu)
            else:
                self.lock(free_lock)
        if objcg is not None:
            self.now = self.objcgs.uncharge(objcg, cpu, s.obj_full_size, self.now)
        if c.slab is slab:
            self.now = time_add(self.now, self.c_free_fast)
            c.freelist += 1
            slab.inuse -= 1
            self.n_free_fast += 1
            hist = self.h_free_fast_rec
        else:
            self.now = time_add(self.now, self.c_free_slow)
            self.n_free_slow += 1
            hist = self.h_free_slow
            if slab.freed:
                self.on_violation(f"free of an object of slab {slab.id} ({s.name}), "
                                  f"which was already freed: object lost or freed twice",
                                  crash="__slab_free()")
            elif not (s.dead and self.dead_cache_free is not None
                      and self.dead_cache_free(s, slab, cpu)):
                n = self.slab_free_slowpath(slab.cache, slab, cpu, can_defer)
                if n is not None:       # stopped before list_lock: the rest at its turn
                    rest = (slab.cache, slab, cpu, n, free_lock, start)
                    if free_lock is not None:
                        # held by a stopped operation (the loop's greenlet runs on)
                        free_lock.owner = rest
                    return rest
        self._slab_free_end(free_lock, cpu, start, hist)
        return None

    def _slab_free_continue(self, rest: tuple, now: int) -> None:
        """The turn, at ``now``, of a free stopped before __slab_free()'s list_lock
        (``rest``, from slab_free() with ``can_defer``): what the free would do when
        continued in its greenlet: take list_lock, finish __slab_free(), release its
        free_lock, hand the cpu on, record its latency."""
        s, slab, cpu, n, free_lock, start = rest
        self.now = now
        self.cur_cpu = cpu
        self._acquire(n.list_lock, now, cpu)
        self._slab_free_commit(s, slab, cpu, n)
        self._slab_free_end(free_lock, cpu, start, self.h_free_slow)

    def _slab_free_end(self, free_lock: Lock | None, cpu: int, start: int,
                       hist: Histogram) -> None:
        """The end of a recorded free: the free_lock released, the cpu handed on, the
        latency since ``start`` recorded in ``hist``."""
        if free_lock is not None:
            self.unlock(free_lock)
        self.cpu_free_at[cpu] = self.now
        if self._cpu_waiting and self.cpu_waiters[cpu]:
            self._wake_cpu(cpu)
        hist.record_span(start, self.now)

    def slab_free_slowpath(self, s: KmemCache, slab: Slab, cpu: int,
                           can_defer: bool = False) -> KmemCacheNode | None:
        """__slab_free() of 3.3/3.4: a free into a slab that is not this cpu's cpu slab.

        * a frozen slab (a cpu slab or on a cpu partial list) just takes the object
          back (FREE_FROZEN), no lock;
        * a slab with objects left that had free objects before: no list move, no lock;
        * the first free into a full slab freezes it onto *this* cpu's partial list,
          no list_lock (unless the cache keeps a full list: then it moves from the
          full to the partial list under list_lock);
        * a slab that becomes empty while more than min_partial slabs sit on the node
          partial list is removed under list_lock and discarded; with fewer it stays.

        As in the kernel, list_lock is taken *before* the free is committed (the
        cmpxchg_double of __slab_free() runs under it when a list move may follow),
        and what to do is decided again once it is held: other cpus may have
        changed the slab while this one waited for the lock.

        The cmpxchg_double costs a line transfer when another cpu wrote the
        struct page last (a remote free, or the first free after another cpu's).

        With ``can_defer`` (see slab_free()), a free that must wait its turn at
        list_lock stops right before it, the cpu BUSY, and returns the node whose
        lock it waits for; the rest is :meth:`_slab_free_commit` at its turn.
        Otherwise returns None.
        """
        # the cmpxchg_double and, from a cpu other than the last writer, the line
        # transfer before it, as one step of the op clock (one int made, not two)
        step = self.c_cmpxchg
        if slab.last_cpu != cpu:
            if slab.last_cpu >= 0:
                step = step + self.c_line_transfer
            slab.last_cpu = cpu
        self.now = time_add(self.now, step)
        n = None
        if _free_takes_list_lock(s, slab):
            n = s.node[slab.node]
            if can_defer and self._must_stop(cpu):
                return n
            self.lock(n.list_lock)
        self._slab_free_commit(s, slab, cpu, n)
        return None

    def _slab_free_commit(self, s: KmemCache, slab: Slab, cpu: int,
                          n: KmemCacheNode | None) -> None:
        """__slab_free() from its cmpxchg_double on, with ``n``'s list_lock just taken
        (None: the free needs no list move).  What to do is decided again under the
        lock: other cpus may have changed the slab while this one waited for it."""
        if n is not None and not _free_takes_list_lock(s, slab):   # changed meanwhile
            self.unlock(n.list_lock)
            n = None
        prior = slab.inuse < slab.objects        # page->freelist was not NULL
        slab.inuse -= 1
        if slab.inuse < 0:
            slab.inuse = 0
            self.on_violation(f"slab {slab.id} of {s.name}: more frees than allocations",
                              crash="__slab_free()")
            return
        if slab.frozen:
            stat(s, FREE_FROZEN)
            return
        inuse = slab.inuse
        if inuse and prior:
            return
        if not prior and not s.track_full:
            stat(s, CPU_PARTIAL_FREE)
            slab.frozen = True          # frozen by the same cmpxchg that takes the object
            self.put_cpu_partial(s, slab, cpu, drain=True)
            return
        if not inuse and self.discards_empty(s, n):
            if prior:
                self.remove_partial(n, slab)
                stat(s, FREE_REMOVE_PARTIAL)
            else:
                self.remove_full(s, slab)
            self.unlock(n.list_lock)
            stat(s, FREE_SLAB)
            self.discard_slab(s, slab)
            return
        if not prior:
            self.remove_full(s, slab)
            self.add_partial(n, slab, DEACTIVATE_TO_TAIL)
            stat(s, FREE_ADD_PARTIAL)
        self.unlock(n.list_lock)

    def dismantle(self) -> None:
        """Once a run is over and its result made: break the reference cycles of the
        caches' per-cpu and per-node structures and of the slabs, so that reference
        counting frees them here, and the collection at the run's boundary
        (kernel/collector.py) walks the few thousand objects left instead of all of
        them first (many-small-cgroups: 36,000, 14,448 of them kmem_cache_cpus;
        kernel/collector.py gives the instructions saved).  The allocator is of no
        use after this."""
        for s in self.caches:
            s.cpu.clear()
            s.node.clear()
        for slab in self.existing:
            slab.cache = slab.lru = slab.prev = slab.next = None
        self.existing.clear()


def _kmem_cache_open(machine, kind) -> tuple:
    """kmem_cache_open() (mm/slub.c, 3.4) of a cache of ``kind`` on ``machine``: the
    geometry of calculate_sizes() and set_min_partial() (:func:`geometry`), and the
    default cpu_partial (none where kmem_cache_has_cpu_partial() is false: a debug
    cache, SLAB_STORE_USER).  A per-memcg copy runs it again with the root's size and
    flags (kmem_cache_dup() -> kmem_cache_create_memcg(), 3.8), so with the same result.

    What :class:`KmemCache` copies, in this order: ``size`` (the slot), ``object_size``,
    ``order``, ``pages`` and ``objects`` per slab, ``min_partial``, ``cpu_partial`` and
    the ``cpu_partial_slabs`` slub_set_cpu_partial() sets with it,
    ``remote_node_defrag_ratio`` (s->remote_node_defrag_ratio, 0..1000: get_any_partial()'s
    odds per 1024), ``track_full`` (keep full slabs on the node full list:
    kmem_cache_debug() with SLAB_STORE_USER; a policy may turn it on for a cache it must
    be able to scan), ``obj_full_size`` (size + the objcg pointer: obj_full_size() of
    SLAB_ACCOUNT caches, 5.9+), ``rcu`` (how its objects are freed: none, call_rcu,
    typesafe (SLAB_TYPESAFE_BY_RCU) or kfree_rcu: kernel/rcu.py; interned, so that
    Rcu.free()'s comparisons of it with those literals are identity tests), then the machine's
    cpus and nodes (the per-cpu and per-node structures to make).  One tuple per kind,
    computed once: each cache copying it field by field from the kind, the geometry and
    the machine (eleven attribute reads and the cpu_partial setter's call) was a sixth
    of the 14,500 instructions a cache cost to make, compiled, on many-small-cgroups."""
    geo = geometry(kind.slot_size, nr_cpus=machine.cpus, page_size=machine.page_size,
                   max_order=machine.slub_max_order, min_objects=machine.slub_min_objects,
                   min_order=machine.slub_min_order, era=machine.slub)
    cpu_partial = cpu_partial_for(kind.slot_size, machine.page_size,
                                  has_cpu_partial=not kind.store_user, era=machine.slub)
    return (kind.slot_size, kind.object_size, geo.order, geo.pages_per_slab,
            geo.objects_per_slab, geo.min_partial, cpu_partial,
            cpu_partial_slabs(cpu_partial, geo.objects_per_slab),
            machine.remote_node_defrag_ratio, kind.store_user,
            kind.slot_size + OBJ_POINTER_BYTES, sys.intern(kind.rcu), machine.cpus, machine.nodes)


def _per_cpu(ncpus: int) -> list[KmemCacheCpu]:
    """A new cache's ``s->cpu_slab``: a kmem_cache_cpu for each cpu."""
    cpus = []
    for cpu in range(ncpus):
        cpus.append(KmemCacheCpu())
    return cpus


def _per_node(locks: LockRegistry, name: str, nnodes: int) -> list[KmemCacheNode]:
    """A new cache's ``s->node[]``: a kmem_cache_node for each node, with its list_lock,
    each named ``<cache> node <n>``, as its lists are."""
    nodes = []
    for n in range(nnodes):
        where = f"{name} node {n}"
        nodes.append(KmemCacheNode(locks.new_lock("list_lock", where), n, where))
    return nodes


def stat(s: KmemCache, si: int) -> None:
    """stat(s, si) of mm/slub.c (CONFIG_SLUB_STATS; 3.4 and every later kernel): count
    the event ``si`` of enum stat_item in cache ``s``.  The kernel counts into the
    cpu's ``s->cpu_slab->stat[si]`` and sysfs shows the sum over cpus; the model keeps
    that sum.  On the compiled core a C function that adds one to a C array (a dict
    count was about 520 instructions, 9.5% of bench.yaml under objcg); the first
    count of an item also records its name in ``s._stat_seen``, so that
    :attr:`KmemCache.stats` lists the items in the order a dict of counts would."""
    count = s._stat_count
    if not count[si]:
        s._stat_seen[STAT_ITEMS[si]] = None
    count[si] += 1


def _load_freelist(c: KmemCacheCpu, slab: Slab, cpu: int) -> Slab:
    """__slab_alloc()'s load_freelist: all the slab's free objects become the cpu
    freelist; take one."""
    slab.last_cpu = cpu
    c.freelist = slab.objects - slab.inuse - 1
    slab.inuse += 1
    return slab


def _free_takes_list_lock(s: KmemCache, slab: Slab) -> bool:
    """Whether a free into unfrozen ``slab`` moves it between node lists: it empties a
    partial slab, or it is the first free into a full slab of a cache that keeps a
    full list."""
    if slab.frozen:
        return False
    if slab.inuse < slab.objects:
        return slab.inuse == 1
    return s.track_full


def _remove_cache(caches: list, s: KmemCache) -> None:
    """``caches.remove(s)``, the cache found by identity when compiled.

    list.remove() compares with ``==``; a cache defines no ``__eq__``, so each
    comparison with another cache is a rich comparison tried both ways and failed,
    some 90 instructions compiled, over half of the list on average: on
    many-small-cgroups (1,800 caches) that was 86,000 instructions a destroy, 20 M
    (4%) of a chaining run.  Compiled, this loop compares pointers.  The pure core
    keeps list.remove(), whose comparisons in C beat any Python loop."""
    if not cython.compiled:
        caches.remove(s)
        return
    for i in range(len(caches)):
        if caches[i] is s:
            del caches[i]
            return
    raise ValueError("list.remove(x): x not in list")


def _raise_violation(message: str, crash: str | None = None) -> None:
    raise AssertionError(f"accounting violation with no checker attached: {message}")
