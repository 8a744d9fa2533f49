"""The accounting checker (docs/model.md section 7): always on, cheap, strict on request.

At every sample and at the end of a run it compares what the counters say with
what exists:

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

from typing import TYPE_CHECKING

from slabpolicy.errors import AccountingError
from slabpolicy.kernel.memcg import ONLINE
from slabpolicy.kernel.slub import CPU_PARTIAL, CPU_SLAB, NOWHERE, PARTIAL, WHERE

if TYPE_CHECKING:
    from slabpolicy.kernel.engine import Simulation


class AccountingChecker:
    def __init__(self, sim: Simulation, strict: bool = False) -> None:
        self.sim = sim
        self.strict = strict
        #: problem -> (first time seen in ns, the message then)
        self.seen: dict[str, tuple[int, str]] = {}
        self.drift_pages_max = 0
        #: the first crash-class violation: {t_ns, what, where}, or None
        self.crashed: dict | None = None
        self.crashes = 0

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

        ``judge=False`` only counts: operations stopped half-way at a lock leave
        counters and slabs out of step until they finish (the engine checks again then).
        """
        record = self._record if judge else _ignore
        slub = self.sim.slub
        pages = 0
        objects = 0
        live_bytes = 0
        below: dict[int, int] = {}        # memcg id -> pages of slabs and objcgs of its subtree
        for cache in slub.caches:
            cache_objects = 0
            for n in cache.node:
                existing = len(n.slabs)
                if existing and not cache.memcg.is_root:
                    for m in cache.memcg.lineage:
                        below[m.id] = below.get(m.id, 0) + existing * cache.pages
                if existing != n.nr_slabs:
                    record(f"nr_slabs {cache.name} {n.node}",
                                 f"{cache.name} node {n.node}: nr_slabs counts {n.nr_slabs} "
                                 f"slabs but {existing} exist", now)
                pages += existing * cache.pages
                for slab in n.slabs:
                    cache_objects += slab.inuse
                    if slab.frozen:
                        if slab.where == PARTIAL:
                            # acquire_slab() freezes it again: two cpus own one freelist
                            record(f"frozen {slab.id}", f"{cache.name}: slab {slab.id} is frozen on "
                                         f"a node partial list, not on a cpu", now,
                                         crash="get_partial_node()")
                        elif slab.where != CPU_SLAB and slab.where != CPU_PARTIAL:
                            record(f"frozen {slab.id}", f"{cache.name}: slab {slab.id} is frozen on "
                                         f"{WHERE[slab.where]}, not on a cpu: orphaned, never "
                                         f"unfrozen or discarded", now)
                    elif slab.where == NOWHERE and slab.inuse < slab.objects:
                        record(f"lost {slab.id}", f"{cache.name}: slab {slab.id} has free objects but is "
                                     f"on no list and no cpu: lost to allocation", now)
            objects += cache_objects
            live_bytes += cache_objects * cache.object_size
        pages += self.sim.rcu.pending_pages     # SLAB_TYPESAFE_BY_RCU slabs not yet freed
        if pages != slub.total_pages:
            record("page allocator", f"slabs hold {pages} pages but the page allocator "
                         f"handed out {slub.total_pages}", now)
        charged = self.sim.memcgs.root.usage - slub.objcgs.pages
        drift = abs(charged - pages)
        if drift:
            record("charge", f"{charged} pages charged but {pages} pages exist", now)
            if judge:
                self.drift_pages_max = max(self.drift_pages_max, drift)
        unaccounted = slub.objcgs.unaccounted_bytes()
        if unaccounted:
            record("objcg", f"objcg charges hold {unaccounted} bytes more than the live "
                         f"objects, the stocks and the parked bytes", now)
        for objcg in slub.objcgs.all:
            if objcg.pages and not objcg.memcg.is_root:
                for m in objcg.memcg.lineage:
                    below[m.id] = below.get(m.id, 0) + objcg.pages
        for cache, held in self.sim.rcu.pending_charged.items():   # typesafe slabs in a grace period
            if not cache.memcg.is_root:
                for m in cache.memcg.lineage:
                    below[m.id] = below.get(m.id, 0) + held
        for memcg in self.sim.memcgs:
            if memcg.usage < 0:
                record(f"negative {memcg.id}",
                             f"memcg {memcg.name}: kmem counter is negative", now)
            # an online memcg's counter holds its subtree's pages (a dying one may have
            # handed its charge up ahead of its slabs: the seed's uncharge_until);
            # the root's is the global check above
            if memcg.state == ONLINE and not memcg.is_root \
                    and memcg.usage != below.get(memcg.id, 0):
                self._record(f"usage {memcg.id}",
                             f"memcg {memcg.name}: kmem counter is {memcg.usage} pages but "
                             f"its caches and those below it hold {below.get(memcg.id, 0)}", now)
        for memcg in self.sim.memcgs.released:
            if memcg.usage:
                record(f"released {memcg.id}", f"memcg {memcg.name} released with "
                             f"{memcg.usage} pages still charged", now)
        live = (slub.n_alloc_fast + slub.n_alloc_slow) - (slub.n_free_fast + slub.n_free_slow)
        if live != objects:
            record("objects", f"{live} objects are live but slabs hold {objects}", now)
        return live_bytes

    def messages(self) -> list[str]:
        """The first message of each distinct violation, sorted."""
        return sorted(message for _, message in self.seen.values())

    def summary(self) -> dict:
        first = min(self.seen.values()) if self.seen else (None, None)
        return {"violations": len(self.seen), "crashes": self.crashes,
                "drift_pages_max": self.drift_pages_max,
                "first_violation_ns": first[0], "first_violation": first[1]}


def _ignore(key: str, message: str, now: int, crash: str | None = None) -> None:
    """What a check that only counts does with a discrepancy."""
