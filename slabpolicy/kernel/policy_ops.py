"""Operations at the level of a policy, on the simulation: ``sim.move_slab()`` and friends.

A dead-cache policy thinks in slabs, caches and memcgs: "move this dead cache's
partial slabs to the nearest online ancestor", "destroy the cache if nothing is
left in it".  The allocator offers the kernel's own low-level steps
(``remove_partial()``, ``dec_slabs_node()``, ``page->slab = s``, ...), which a
move needs in one order only, under two locks, with the charge moved after them.
The methods here do each such job whole, the way the kernel code that does it
does: each charges its modelled cost to the op clock, takes its modelled locks,
keeps the counters the accounting checker compares, and tells the policy
(``slabpolicy_dead_cache_empty``) when a dead cache's last slab has left it.

:class:`PolicyOperations` is mixed into :class:`slabpolicy.kernel.engine.Simulation`,
so a policy calls them on ``sim``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from slabpolicy.kernel.memcg import OFFLINE, ONLINE, MemCgroup, MemcgTree
from slabpolicy.kernel.slub import DEACTIVATE_TO_TAIL, FULL, NOWHERE, PARTIAL, KmemCache, Slab

if TYPE_CHECKING:
    from slabpolicy.kernel.event_queue import EventQueue
    from slabpolicy.kernel.slub import Allocator


class PolicyOperations:
    """What a policy does to caches and memcgs, each in one call (mixed into Simulation).

    Relies on the simulation's ``slub`` (:class:`~slabpolicy.kernel.slub.Allocator`)
    and ``memcgs`` (:class:`~slabpolicy.kernel.memcg.MemcgTree`).
    """

    slub: Allocator
    memcgs: MemcgTree
    schedule: Callable[[int, Callable[[], Any]], None]
    _queue: EventQueue

    # -- timers ----------------------------------------------------------------------

    def schedule_every(self, interval_ns: int, fn: Callable[[], Any],
                       first_ns: int | None = None) -> Timer:
        """Run ``fn()`` every ``interval_ns`` from now (first after ``first_ns``, default
        one interval), until the returned :class:`Timer` is cancelled.

        A periodic delayed work (queue_delayed_work() re-armed by its own work
        function): each run is a kworker on cpu 0, as ``sim.schedule()``'s are,
        starting when cpu 0 is free; ``fn``'s work is charged to it, and ``fn`` may
        be a generator that yields waits.  Arming and firing cost nothing
        themselves (no published figure for queue_delayed_work()).  The runs keep
        to the grid ``now + first_ns + k * interval_ns`` whatever each one costs.
        """
        if interval_ns <= 0:
            raise ValueError(f"schedule_every: interval must be positive, got {interval_ns}")
        timer = Timer(self, int(interval_ns), fn)
        timer.arm(self.slub.now + int(interval_ns if first_ns is None else first_ns))
        return timer

    def queued_work_until(self) -> int | None:
        """The time of the last queued event that is not a periodic timer's run (None:
        none is queued): what a test waits for to see the work it started done."""
        last = None
        for t, _, _, a, _, _ in self._queue.queued():
            if not isinstance(getattr(a, "__self__", None), Timer) and (last is None or t > last):
                last = t
        return last

    # -- moving slabs ----------------------------------------------------------------

    def move_slab(self, slab: Slab, to: KmemCache) -> None:
        """Move one slab, with its objects, counters and charge, to cache ``to``.

        As :meth:`move_slabs` for a single slab.
        """
        self.move_slabs([slab], to)

    def move_partial_slabs(self, cache: KmemCache, to: KmemCache) -> int:
        """Move every slab on ``cache``'s node partial lists to ``to``; return how many.

        The seed patch's kmem_switch_slab() loop (3.3, "chained slab caches"),
        without its RCU wait and flush: slabs frozen on a cpu (cpu slabs, cpu
        partial lists) are not on the node lists and stay; ``sim.slub.flush_all(cache)``
        first puts them there.  Costs and locks as :meth:`move_slabs`.
        """
        slabs = [slab for n in cache.node for slab in n.partial]
        if slabs:
            self.move_slabs(slabs, to)
        return len(slabs)

    def move_slabs(self, slabs: Iterable[Slab], to: KmemCache) -> None:
        """Move slabs of one cache to cache ``to`` of the same kind, objects and all.

        What the seed's kmem_switch_slab() and move_previous_full() do per slab
        (mm/slub.c, "chained slab caches", 3.3), and the charge as its
        mem_cgroup_pre_destroy() moves it (res_counter_uncharge_until()):

        * node by node, under the old node's ``list_lock`` and then the new
          node's (``lock`` each): remove_partial() or remove_full() from the old
          cache, dec_slabs_node(old), ``page->slab = to``, inc_slabs_node(to),
          add_partial() to the tail of the new node's partial list (a partial
          slab) or add_full() (a full one: onto no list if ``to`` keeps no full
          list); ``list_op`` per list change;
        * then the pages' charge, once for the whole batch: uncharged from the old
          cache's memcg up to the nearest memcg it shares with ``to``'s
          (uncharge_until), and charged from ``to``'s memcg up to it: ``memcg_charge``
          for each of the two that touches a counter.  Moving to an ancestor's
          cache leaves the ancestor charged, as the seed does; to a memcg's own
          cache, or between two root caches, moves no charge;
        * if the old cache is dead and no slab is left in it,
          ``slabpolicy_dead_cache_empty`` fires.

        A slab frozen on a cpu (``slab.frozen``: a cpu slab or on a cpu partial
        list) cannot be moved: flush the cache first.  Raises ValueError for a
        frozen, freed or foreign slab, or a destroyed or different-kind ``to``.
        A slab that other cpus free, freeze or move while this waits for the
        locks is checked again under them and left alone.
        """
        slabs = list(slabs)
        if not slabs:
            return
        old = slabs[0].cache
        self._check_move(slabs, old, to)
        slub = self.slub
        by_node: dict[int, list[Slab]] = {}
        for slab in slabs:
            by_node.setdefault(slab.node, []).append(slab)
        moved = 0
        for node in sorted(by_node):
            nold, nnew = old.node[node], to.node[node]
            slub.lock(nold.list_lock)
            slub.lock(nnew.list_lock)
            for slab in by_node[node]:
                if slab.freed or slab.frozen or slab.cache is not old:
                    continue    # discarded, frozen or moved while this waited for the locks
                moved += 1
                full = slab.where != PARTIAL
                if full:
                    slub.remove_full(old, slab)
                else:
                    slub.remove_partial(nold, slab)
                slub.dec_slabs_node(old, node, slab.objects)
                slub.set_slab_cache(slab, to)
                slub.inc_slabs_node(to, node, slab.objects)
                if full:
                    slub.add_full(to, nnew, slab)
                else:
                    slub.add_partial(nnew, slab, DEACTIVATE_TO_TAIL)
            slub.unlock(nnew.list_lock)
            slub.unlock(nold.list_lock)
        self.move_charge(old.memcg, to.memcg, moved * old.pages)
        if old.dead and not old.destroyed and not old.nr_slabs \
                and slub.on_dead_cache_empty is not None:
            slub.on_dead_cache_empty(old)

    @staticmethod
    def _check_move(slabs: list[Slab], old: KmemCache, to: KmemCache) -> None:
        if to is old:
            raise ValueError(f"move_slabs: the slabs already belong to {to.name}")
        if to.destroyed:
            raise ValueError(f"move_slabs: {to.name} is destroyed")
        if (to.size, to.order, to.objects) != (old.size, old.order, old.objects):
            raise ValueError(f"move_slabs: {to.name} is not of {old.name}'s kind "
                             f"({to.size}-byte slots, order {to.order} vs "
                             f"{old.size}-byte slots, order {old.order})")
        for slab in slabs:
            if slab.cache is not old:
                raise ValueError(f"move_slabs: slab {slab.id} belongs to {slab.cache.name}, "
                                 f"not {old.name}: move one cache's slabs at a time")
            if slab.freed:
                raise ValueError(f"move_slabs: slab {slab.id} was freed")
            if slab.frozen:
                raise ValueError(f"move_slabs: slab {slab.id} of {old.name} is frozen on "
                                 f"cpu {slab.cpu}; flush_all() the cache first")
            if slab.where == NOWHERE and slab.inuse < slab.objects:
                raise ValueError(f"move_slabs: slab {slab.id} of {old.name} is on no list")

    def move_charge(self, src: MemCgroup, dst: MemCgroup, pages: int) -> None:
        """Move a charge of ``pages`` from ``src``'s counters to ``dst``'s.

        The counters the two share (their nearest common ancestor and above) keep
        it; below it, ``src`` and its ancestors are uncharged
        (res_counter_uncharge_until() of the seed, page_counter_uncharge() later)
        and ``dst`` and its ancestors charged: ``memcg_charge`` for each side that
        touches a counter.
        """
        if src is dst or not pages:
            return
        common = nearest_common_ancestor(src, dst)
        cost = self.slub.costs["memcg_charge"]
        if src is not common:
            self.slub.now += cost
            self.memcgs.uncharge_until(src, common, pages)
        if dst is not common:
            self.slub.now += cost
            self.memcgs.charge_until(dst, common, pages)

    # -- caches ----------------------------------------------------------------------

    def destroy_cache_if_empty(self, cache: KmemCache) -> bool:
        """kmem_cache_destroy() of a dead cache that holds no slab; True if destroyed.

        Nothing happens (False) to a cache already destroyed, or one in which a
        slab still exists (in a node list or frozen on a cpu): what the seed's
        __memcg_cache_destroy() tests before destroying.  Costs ``cache_destroy``
        and drops the cache's reference on its memcg, which may release it.
        """
        if not cache.dead:
            raise ValueError(f"destroy_cache_if_empty: {cache.name} is not dead: "
                             f"{'a root cache' if cache.root is None else 'its memcg is online'}")
        if cache.destroyed or cache.nr_slabs or cache.existing_slabs():
            return False
        self.slub.kmem_cache_destroy(cache)
        return True

    def dead_caches(self, memcg: MemCgroup | None = None) -> list[KmemCache]:
        """The dead caches not yet destroyed (of ``memcg`` only, if given), oldest first."""
        return sorted((c for c in self.slub.dead_caches if memcg is None or c.memcg is memcg),
                      key=lambda c: c.id)

    # -- memcgs ----------------------------------------------------------------------

    def dying_memcgs(self) -> list[MemCgroup]:
        """The memcgs offline but not released (what nr_dying_descendants counts), by id."""
        return [m for m in self.memcgs if m.state == OFFLINE]

    @staticmethod
    def online_ancestor(memcg: MemCgroup) -> MemCgroup:
        """The nearest ancestor of ``memcg`` that is online (the root always is).

        parent_mem_cgroup() walked while !mem_cgroup_online(): where a dying
        memcg's slabs or charge go when its parent has gone offline too.
        """
        for m in memcg.lineage[1:]:
            if m.state == ONLINE:
                return m
        return memcg.lineage[-1]


def nearest_common_ancestor(a: MemCgroup, b: MemCgroup) -> MemCgroup:
    """The deepest memcg that is ``a`` or an ancestor of it and ``b`` or one of ``b``'s."""
    theirs = set(map(id, b.lineage))
    for m in a.lineage:
        if id(m) in theirs:
            return m
    raise ValueError(f"memcgs {a.name!r} and {b.name!r} are in different trees")


class Timer:
    """A policy's periodic work (:meth:`PolicyOperations.schedule_every`)."""

    def __init__(self, sim: PolicyOperations, interval_ns: int, fn: Callable[[], Any]) -> None:
        self.sim = sim
        self.interval_ns = interval_ns
        self.fn = fn
        self.next_ns = 0           # when the next run is due
        self.runs = 0              # runs so far
        self.cancelled = False

    def arm(self, at_ns: int) -> None:
        self.next_ns = at_ns
        self.sim.schedule(at_ns - self.sim.slub.now, self._fire)

    def cancel(self) -> None:
        """No more runs (cancel_delayed_work()); a run in progress finishes."""
        self.cancelled = True

    def _fire(self) -> Any:
        if self.cancelled:
            return None
        self.runs += 1
        self.arm(self.next_ns + self.interval_ns)
        return self.fn()
