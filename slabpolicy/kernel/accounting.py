"""The accounting checker (docs/model.md section 7): always on, cheap, strict on request.

At every sample and at the end of a run it compares what the counters say with
what exists (docs/model.md section 7 says which checks walk every cache, and how
often):

* the root's hierarchical kmem counter (every charge reaches it), less the pages
  charged through object cgroups, equals the pages of the slabs that exist (and
  of the SLAB_TYPESAFE_BY_RCU slabs waiting for their grace period): the sum of
  live charges equals the pages;
* the pages charged through object cgroups hold exactly the bytes of the live
  accounted objects, the per-cpu stocks and the bytes parked in the objcgs;
* no memcg counter is negative and no released memcg is still charged;
* each online memcg's counter below the root holds the pages of its subtree
  (the slabs of the caches charged to it or a descendant, and the pages of
  their object cgroups), as hierarchical page counters do: a counter written by
  hand shows here.  A dying memcg is left out: the seed hands its charge to the
  parent at offline (res_counter_uncharge_until()) ahead of its slabs;
* each kmem_cache_node's slab counter (inc/dec_slabs_node) equals the slabs of
  that cache on that node that exist;
* the live objects (allocations minus frees) equal the objects the slabs hold;
* every slab can be found again: a frozen slab is some cpu's cpu slab or on its
  partial list, and an unfrozen slab on no list is full.

Between full walks (every ``FULL_WALK_EVERY``-th check and the end) only the
caches the allocator marked as changed (``Allocator.changed_caches``) are
recounted, those whose memcg pointer was moved included (re-parenting,
:func:`~slabpolicy.kernel.memcg_kmem.reparent_kmem_cache`, marks them; a pointer
written by hand is found by the next full walk, as a counter written by hand is);
the slabs themselves are looked at one by one at every check, in the order they
were made (``Allocator.existing``), and so is every counter of the list above.

The allocator also reports, as they happen, frees into a slab already freed (an
object lost or freed twice), unused objects that reclaim or expiry would free a
second time, slabs freed with live objects or while on a list,
and caches destroyed with slabs left.  A violation is counted once per distinct
problem (a cache's slab counter, the global charge, a given slab...), with the
first time and the first words it was seen with; ``drift_pages_max`` is the largest gap
seen between charged pages and existing pages.  Under ``strict`` the first
violation raises :class:`AccountingError` saying what, where and when.

Violations come in two classes.  A **crash** is what a real kernel would oops
on or corrupt memory with: a use-after-free (a slab freed while still on a
list, or with live objects; a free into a slab already freed), a double
destroy or double free, ``dec_slabs_node(NULL)``, a frozen slab on a partial
list.  Every other violation is **drift**: counters that disagree with what
exists, charges left behind, slabs leaked (a frozen slab no cpu holds, a
slab on no list with free objects): wrong figures, no crash.  The first crash
is kept as ``crashed`` ({t_ns, what, where}: the time, the message, the kernel
function that would crash), which a run's result carries at its top level.
"""
from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

from slabpolicy.errors import AccountingError
from slabpolicy.kernel.memcg import ONLINE
from slabpolicy.workloads.limits import MAX_SIZE
from slabpolicy.kernel.slub import CPU_PARTIAL, CPU_SLAB, NOWHERE, PARTIAL, WHERE

if TYPE_CHECKING:
    from slabpolicy.kernel.engine import Simulation
    from slabpolicy.kernel.memcg import MemCgroup
    from slabpolicy.kernel.objcg import ObjCgroup
    from slabpolicy.kernel.slub import KmemCache

#: every this many judged checks (and at the end of the run) the checker walks every
#: cache; the others recount only the caches the allocator marked as changed
#: (docs/model.md section 7 says why 10)
FULL_WALK_EVERY = 10

#: check_slabs() adds the bytes it has summed in a C integer to its Python total
#: once they reach this (2**62: a slab's bytes added to it stay under 2**63)
_FLUSH_BYTES = 1 << 62


class AccountingChecker:
    def __init__(self, sim: Simulation, strict: bool = False) -> None:
        self.sim = sim
        self.strict = strict
        #: problem -> (first time seen in ns, the message then)
        self.seen: dict[str | tuple, tuple[int, str]] = {}
        self.drift_pages_max = 0
        #: the first crash-class violation: {t_ns, what, where}, or None
        self.crashed: dict | None = None
        self.crashes = 0
        #: judged checks so far (every FULL_WALK_EVERY-th walks every cache)
        self.judged = 0
        #: per cache, the memcg and the pages it was last counted with (recount_caches):
        #: two dicts, not one of (memcg, pages) tuples, which would be 1,800 more objects
        #: for the garbage collector to walk and free at the end of a run
        self._counted_memcg: dict[KmemCache, MemCgroup] = {}
        self._counted_pages: dict[KmemCache, int] = {}
        #: memcg id -> pages of the counted caches of its subtree; their total
        self._below: dict[int, int] = {}
        self._pages = 0

    def violation(self, message: str, crash: str | None = None) -> None:
        """Record a violation the allocator found now (the op clock's time); ``crash``
        names the kernel function that would crash on it (None: drift)."""
        self._record(message, message, self.sim.slub.now, crash)

    def _record(self, key: str, message: str, now: int, crash: str | None = None) -> None:
        if key in self.seen:
            return
        self.seen[key] = (now, message)
        if crash is not None:
            self.crashes += 1
            if self.crashed is None:
                self.crashed = {"t_ns": now, "what": message, "where": crash}
        if self.strict:
            raise AccountingError(f"accounting violation at t={now}ns "
                                  f"(policy {self.sim.policy_label}, seed {self.sim.seed}): {message}")

    def check(self, now: int, judge: bool = True) -> int:
        """Compare counters with what exists; return the live object bytes (for utilisation).

        Every ``FULL_WALK_EVERY``-th judged check, and at the end of the run, counts
        every cache's slabs afresh (:meth:`_walk_caches`); the others recount only
        the caches the allocator marked as changed (:meth:`_recount_changed`).  The
        rest is the same at every check.  ``judge=False`` only counts: operations
        stopped half-way at a lock leave counters and slabs out of step until they
        finish (the engine checks again then).
        """
        record = self._record if judge else _ignore
        sim = self.sim
        slub = sim.slub
        if now >= sim.end_ns or (judge and self.judged % FULL_WALK_EVERY == 0):
            self._walk_caches(record, now)
        else:
            self._recount_changed(record, now)
        if judge:
            self.judged += 1
            slub.changed_caches.clear()
        objects, live_bytes = self._check_slabs(record, now)
        pages = self._pages + sim.rcu.pending_pages     # and typesafe slabs not yet freed
        if pages != slub.total_pages:
            record("page allocator", f"slabs hold {pages} pages but the page allocator "
                         f"handed out {slub.total_pages}", now)
        charged = sim.memcgs.root.usage - slub.objcgs.pages
        drift = abs(charged - pages)
        if drift:
            record("charge", f"{charged} pages charged but {pages} pages exist", now)
            if judge:
                self.drift_pages_max = max(self.drift_pages_max, drift)
        unaccounted = slub.objcgs.unaccounted_bytes()
        if unaccounted:
            record("objcg", f"objcg charges hold {unaccounted} bytes more than the live "
                         f"objects, the stocks and the parked bytes", now)
        below = self._below                  # memcg id -> pages of the slabs of its subtree
        extra: dict[int, int] = {}           # ... and of its objcgs and typesafe slabs
        count_objcgs(slub.objcgs.all, extra)
        for cache, held in sim.rcu.pending_charged.items():   # typesafe slabs in a grace period
            if not cache.memcg.is_root:
                for m in cache.memcg.lineage:
                    extra[m.id] = extra.get(m.id, 0) + held
        check_memcg_counters(sim.memcgs, below, extra, record, now)
        for memcg in sim.memcgs.released:
            if memcg.usage:
                record(f"released {memcg.id}", f"memcg {memcg.name} released with "
                             f"{memcg.usage} pages still charged", now)
        live = (slub.n_alloc_fast + slub.n_alloc_slow) - (slub.n_free_fast + slub.n_free_slow)
        if live != objects:
            record("objects", f"{live} objects are live but slabs hold {objects}", now)
        return live_bytes

    # -- the slabs each cache holds: all of them, or those of the caches that changed ----

    def _walk_caches(self, record, now: int) -> None:
        """The full walk: every cache's slab counters against the slabs it holds, and
        its pages and memcg against those it was last counted with.  This also finds
        what the allocator could not mark (a counter or a cache's memcg written by
        hand), and brings what :meth:`_recount_changed` keeps up to date in line.

        The walk moves only the figures of the caches that differ (:func:`recount_caches`):
        the pages per memcg subtree are then exactly those a count from nothing gives
        (sums of the same integers, a memcg's lineage never changes), without writing
        every cache's and memcg's entries anew (that was two thirds of the walk: 3.9 M
        instructions a walk on many-small-cgroups' 1,800 caches, now 1.2 M).
        Those of caches destroyed since the last judged check go first (kmem_cache_destroy()
        marks them); then, should some left the list of caches unmarked, those of caches
        no longer there (a set of the 1,800 caches, made at every walk, was a fifth of
        the walk when it was the way every destroyed cache went)."""
        slub = self.sim.slub
        caches = slub.caches
        counted_memcg, counted_pages = self._counted_memcg, self._counted_pages
        self._pages -= uncount_caches([cache for cache in slub.changed_caches if cache.destroyed],
                                      counted_memcg, counted_pages, self._below)
        self._pages += recount_caches(caches, record, now, counted_memcg, counted_pages,
                                      self._below)
        if len(counted_memcg) > len(caches):      # caches gone from the list unmarked
            current = set(caches)
            self._pages -= uncount_caches([cache for cache in counted_memcg
                                           if cache not in current],
                                          counted_memcg, counted_pages, self._below)

    def _recount_changed(self, record, now: int) -> None:
        """Recount only the caches whose slabs, slab counters or memcg changed since
        the last judged check (the allocator and re-parenting mark them): the others'
        figures are those counted then, and a mismatch they had then was recorded then.
        A new cache is counted once it has a slab (new_slab() marks it); a destroyed
        one is taken out."""
        caches = sorted(self.sim.slub.changed_caches, key=_cache_id)     # as they were made
        self._pages -= uncount_caches([cache for cache in caches if cache.destroyed],
                                      self._counted_memcg, self._counted_pages, self._below)
        self._pages += recount_caches([cache for cache in caches if not cache.destroyed],
                                      record, now, self._counted_memcg, self._counted_pages,
                                      self._below)

    def _check_slabs(self, record, now: int) -> tuple[int, int]:
        """Every slab that exists, in the order they were made: return the live objects
        and their bytes, and record frozen slabs no cpu holds and lost slabs."""
        return check_slabs(self.sim.slub.existing, record, now, self.seen)

    def messages(self) -> list[str]:
        """The first message of each distinct violation, sorted."""
        return sorted(message for _, message in self.seen.values())

    def summary(self) -> dict:
        first = min(self.seen.values()) if self.seen else (None, None)
        return {"violations": len(self.seen), "crashes": self.crashes,
                "drift_pages_max": self.drift_pages_max,
                "first_violation_ns": first[0], "first_violation": first[1]}


#: a cache's id, the order caches were made in (attrgetter: read in C, where a Python
#: function as the sort key was a call per cache)
_cache_id = attrgetter("id")


# The walks over everything that exists, as functions of their own: compiled, they
# read the slabs', nodes' and caches' fields as C structure members (accounting.pxd).

def count_slabs(cache: KmemCache, record, now: int) -> int:
    """Compare each node's slab counter of ``cache`` with the slabs it holds there;
    return the pages of those slabs."""
    pages = 0
    for n in cache.node:
        existing = len(n.slabs)
        if existing != n.nr_slabs:
            record(f"nr_slabs {cache.name} {n.node}", f"{cache.name} node {n.node}: nr_slabs "
                   f"counts {n.nr_slabs} slabs but {existing} exist", now)
        pages += existing * cache.pages
    return pages


def recount_caches(caches: list[KmemCache], record, now: int, counted_memcg: dict,
                   counted_pages: dict, below: dict) -> int:
    """Count each of ``caches`` in turn (:func:`count_slabs`); where its memcg or its pages
    are not those it was last counted with (``counted_memcg``, ``counted_pages``), move
    its pages in ``below`` from the old memcg's subtree to the new one's
    (:func:`move_below`) and remember them; return by how many pages the total of the
    counted caches changed."""
    change = 0
    for cache in caches:
        pages = count_slabs(cache, record, now)
        memcg = cache.memcg
        old_memcg = counted_memcg.get(cache)
        if old_memcg is not None:
            old_pages = counted_pages[cache]
            if old_memcg is memcg and old_pages == pages:
                continue
            change -= old_pages
            move_below(old_memcg, -old_pages, below)
        counted_memcg[cache] = memcg
        counted_pages[cache] = pages
        change += pages
        move_below(memcg, pages, below)
    return change


def uncount_caches(caches: list[KmemCache], counted_memcg: dict, counted_pages: dict,
                   below: dict) -> int:
    """Take back out what :func:`recount_caches` counted for each of ``caches`` (those
    never counted add nothing); return their pages."""
    total = 0
    for cache in caches:
        memcg = counted_memcg.pop(cache, None)
        if memcg is not None:
            pages = counted_pages.pop(cache)
            total += pages
            move_below(memcg, -pages, below)
    return total


def move_below(memcg: MemCgroup, pages: int, below: dict) -> None:
    """Add ``pages`` (fewer if negative) to ``below`` of every memcg of ``memcg``'s lineage,
    as page_counter_charge() charges them, the root's aside (its counter is the global
    check's)."""
    if pages:
        for m in memcg.lineage:
            if m.parent is None:                       # the root
                break
            below[m.id] = below.get(m.id, 0) + pages


def check_memcg_counters(memcgs, below: dict, extra: dict, record, now: int) -> None:
    """Record each memcg whose kmem counter is negative, and each online memcg below the
    root whose counter is not the pages of its subtree: ``below`` and ``extra`` of its
    id (:func:`recount_caches`, :func:`count_objcgs`)."""
    for memcg in memcgs:
        if memcg.usage < 0:
            record(f"negative {memcg.id}",
                   f"memcg {memcg.name}: kmem counter is negative", now)
        # an online memcg's counter holds its subtree's pages (a dying one may have
        # handed its charge up ahead of its slabs: the seed's uncharge_until);
        # the root's is the global check
        if memcg.state == ONLINE and memcg.parent is not None:     # not the root
            held = below.get(memcg.id, 0)
            if extra:                                  # objcgs, typesafe slabs
                held += extra.get(memcg.id, 0)
            if memcg.usage != held:
                record(f"usage {memcg.id}",
                       f"memcg {memcg.name}: kmem counter is {memcg.usage} pages but "
                       f"its caches and those below it hold {held}", now)


def count_objcgs(objcgs: list[ObjCgroup], extra: dict) -> None:
    """Add the pages charged through each of ``objcgs`` to its memcg's subtree in
    ``extra``: every memcg of the lineage, as page_counter_charge() charges them, the
    root's aside (its counter is the global check's)."""
    for objcg in objcgs:
        pages = objcg.pages
        if pages:
            for m in objcg.memcg.lineage:
                if m.parent is None:                   # the root
                    break
                extra[m.id] = extra.get(m.id, 0) + pages


def check_slabs(existing: dict, record, now: int, seen: dict) -> tuple[int, int]:
    """Look at every slab of ``existing`` in turn: return the live objects and their
    bytes (a destroyed cache's slabs are counted with it), and record frozen slabs no
    cpu holds and lost slabs.

    A slab's problem is recorded once, with its first message (``seen``: the
    checker's violations so far), so one seen before is not recorded again: its
    message is not even formatted.  A slab left frozen or lost stays so, and is met
    at every check after (the seed patch as posted leaves dozens on
    memory-pressure: formatting their messages again was two fifths of its
    checks' instructions).  Its key is a tuple, which costs no formatting either.

    The bytes are summed in ``pending`` (a C integer compiled: accounting.pxd) and
    added to ``live_bytes`` (a Python int) whenever ``pending`` reaches
    :data:`_FLUSH_BYTES`; a slab's bytes, ``inuse * size``, are under
    MAX_OBJS_PER_PAGE * MAX_SIZE < 2**55 (a size past MAX_SIZE, which no checked
    workload has, is added to ``live_bytes`` directly), so ``pending`` stays under
    2**62 + 2**55 < 2**63, and the sum is exact."""
    objects = 0
    live_bytes = 0
    pending = 0
    flush = _FLUSH_BYTES                # the bounds and places as C integers, compiled
    max_size = MAX_SIZE
    partial, cpu_slab, cpu_partial, nowhere = PARTIAL, CPU_SLAB, CPU_PARTIAL, NOWHERE
    for slab in existing:
        cache = slab.cache
        if cache.destroyed:             # left in a destroyed cache: counted there
            continue
        inuse = slab.inuse
        objects += inuse
        size = cache.object_size
        if size <= max_size:
            pending += inuse * size
            if pending >= flush:
                live_bytes += pending
                pending = 0
        else:
            live_bytes += inuse * size
        if slab.frozen:
            where = slab.where
            if where == cpu_slab or where == cpu_partial:
                continue
            key = ("frozen", slab.id)
            if key in seen:
                continue
            if where == partial:
                # acquire_slab() freezes it again: two cpus own one freelist
                record(key, f"{cache.name}: slab {slab.id} is frozen on a node partial "
                       f"list, not on a cpu", now, crash="get_partial_node()")
            else:
                record(key, f"{cache.name}: slab {slab.id} is frozen on {WHERE[where]}, "
                       f"not on a cpu: orphaned, never unfrozen or discarded", now)
        elif inuse < slab.objects and slab.where == nowhere:
            key = ("lost", slab.id)
            if key not in seen:
                record(key, f"{cache.name}: slab {slab.id} has free objects but is on no "
                       f"list and no cpu: lost to allocation", now)
    return objects, live_bytes + pending


def _ignore(key: str, message: str, now: int, crash: str | None = None) -> None:
    """What a check that only counts does with a discrepancy."""
