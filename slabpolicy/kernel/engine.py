"""The engine: simulated nanoseconds on N cpus, driven by a workload.

Events ``(time, seq, kind, a, b, c)`` are processed in ``(time, seq)`` order,
SimPy's way: the increasing ``seq`` breaks ties, so a run is deterministic.
They are queued in an :class:`~slabpolicy.kernel.event_queue.EventQueue` (mostly
frees of live objects, and each allocation stream's next allocation), in exactly
the order one heap of them all would give.  Every random draw comes from one
``random.Random(seed)`` and depends only on the workload's own events (cgroup
arrivals and lifetimes, allocation times, cpus, object lifetimes), never on the
policy: the same seed gives every policy the same event stream, which is what
makes comparisons paired.

An operation runs on one cpu after the previous one on that cpu has finished;
its latency is the cost of the steps it took plus its lock waits.  An operation
that reaches a lock stops there and continues as an event at the time it
arrives at it (:mod:`slabpolicy.kernel.turns`), so that a lock is held by one
operation at a time; fast paths take no lock and stay single events.  Policy
work that waits (an RCU grace period) is a generator resumed by a later event,
so the cpus go on meanwhile.  Hooks are called at rare events only; the alloc
and free paths are plain method calls.
"""
from __future__ import annotations

import functools
import random
from types import GeneratorType
from typing import Any, Callable

from slabpolicy.api.hook_calls import direct_caller
from slabpolicy.kernel import collector
from slabpolicy.kernel.accounting import AccountingChecker
from slabpolicy.kernel.costs import rcu_grace_period
from slabpolicy.kernel.event_queue import EventQueue
from slabpolicy.kernel.histogram import Histogram
from slabpolicy.kernel.list_lru import lru_item
from slabpolicy.kernel.locks import LockRegistry
from slabpolicy.kernel.memcg import ONLINE, MemCgroup, MemcgTree
from slabpolicy.kernel.policy_ops import PolicyOperations
from slabpolicy.kernel.rcu import Rcu
from slabpolicy.kernel.reclaim import Reclaim
from slabpolicy.kernel.slub import Allocator, KmemCache
from slabpolicy.workloads import draws
from slabpolicy.workloads.distributions import as_sampler
from slabpolicy.workloads.placement import Placement
from slabpolicy.kernel.turns import Turns
from slabpolicy.kernel.event_kinds import (ALLOC, ARRIVE, CALL, EXPIRE, FREE, FREE_ACCOUNTED,
                                           KERNEL, MIGRATE, OFFLINE, RCU_BATCH, RCU_FREE,
                                           RESUME, SAMPLE, TURN, UNUSED)

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

#: how long an rmdir waits before looking again whether its memcg's last
#: allocations, stopped at a lock, have finished
OFFLINE_RETRY_NS = 1000

#: the memory figures sampled at every ``sample_interval`` (docs/model.md)
MEMORY_FIGURES = ("slab_pages", "dead_cache_pages", "dead_caches", "dying_memcgs",
                  "live_objects", "utilization")


class _Stream:
    """One allocation stream of one cgroup."""

    __slots__ = ("memcg", "index", "cache", "objcg", "per_ns", "life", "remote_free", "cpus",
                 "unused_life", "defer")

    def __init__(self, memcg: MemCgroup, index: int, rate_per_s: float,
                 life: Callable[[], int | None], remote_free: float, cpus: list[int],
                 unused_life: Callable[[], int | None] | None = None) -> None:
        self.memcg = memcg
        self.cpus = cpus            # the cgroup's cpus (workloads.placement), shared
        self.index = index
        self.cache: KmemCache | None = None
        self.objcg = None           # the memcg's objcg when the cache is accounted
        self.per_ns = rate_per_s / 1e9
        self.life = as_sampler(life)     # a Sampler: the loop calls its draw()
        self.remote_free = remote_free
        # objects become unused on a list_lru instead of freed
        self.unused_life = None if unused_life is None else as_sampler(unused_life)
        #: what the end of an object's lifetime is when not a plain free: the object going
        #: unused, or a free through RCU (the event kind UNUSED or RCU_FREE); None: FREE
        self.defer: int | None = None


class _Group:
    """The cgroups of one workload group: how many came, which are online."""

    __slots__ = ("spec", "spawned", "online", "life", "streams")

    def __init__(self, spec, rng: random.Random) -> None:
        self.spec = spec
        self.spawned = 0
        self.online: list[MemCgroup] = []
        self.life = spec.lifetime.make_sampler(rng)
        self.streams = [(s, s.lifetime.make_sampler(rng),
                         s.unused_lifetime.make_sampler(rng) if s.unused_lifetime else None)
                        for s in spec.streams]


class _Op:
    """Policy work in progress on one cpu (a memcg offline, a scheduled call)."""

    __slots__ = ("gens", "cpu", "start", "memcg")

    def __init__(self, gens: list, cpu: int, start: int, memcg: MemCgroup | None) -> None:
        self.gens = gens
        self.cpu = cpu
        self.start = start
        self.memcg = memcg


class Simulation(PolicyOperations):
    """One run: a workload under one policy with one seed.

    What policies use: ``slub`` (the allocator and its operations), ``memcgs``
    (the memcg tree), ``now``, ``synchronize_rcu()``, ``schedule()``,
    ``memcg_cache()``, ``workload``, ``seed``, and the policy-level operations of
    :class:`~slabpolicy.kernel.policy_ops.PolicyOperations` (``move_slab()``, ...).
    """

    def __init__(self, workload, *, seed: int, hook, policy_label: str = "",
                 strict: bool = False, trace_locks: bool = False) -> None:
        self.workload = workload
        self.seed = seed
        self.hook = hook
        self.policy_label = policy_label
        self.memcgs = MemcgTree()
        self.locks = LockRegistry(trace=trace_locks)
        self.slub = Allocator(workload.machine, workload.caches, self.memcgs,
                              workload.costs, self.locks)
        self.checker = AccountingChecker(self, strict)
        self.slub.on_violation = self.checker.violation
        self.rng = random.Random(seed)
        self.end_ns = workload.duration_ns
        self.h_offline = Histogram()
        self.rcu_waits = 0
        self.series: dict[str, list] = {"t_ns": [], **{f: [] for f in MEMORY_FIGURES}}
        self._queue = EventQueue()
        self.turns = self.slub.turns = Turns(self._queue)
        self._end = self.end_ns
        #: a sample came while operations were stopped mid-way: check at the next
        #: moment none is (their half-done state is not a violation)
        self._check_pending = False
        #: the sample at the end came while operations were stopped mid-way (an RCU
        #: batch, a reclaim pass): it is taken when they have finished, in the drain
        self._final_sample_due = False
        self._groups = {g.name: _Group(g, self.rng) for g in workload.groups}
        self._offline_cpu: dict[int, int] = {}
        self._placement = Placement(workload.machine.cpus)
        self._pending_offline: set[MemCgroup] = set()   # rmdir'ed, waiting for children
        self._offlining: set[MemCgroup] = set()          # offline work in progress
        if hook.slabpolicy_dead_cache_free.get_hookimpls():
            # called on every slow-path free into a dead cache: the implementation
            # itself where pluggy would only pass the call on (api/hook_calls.py)
            self.slub.dead_cache_free = functools.partial(direct_caller(
                hook.slabpolicy_dead_cache_free, ("sim", "cache", "slab", "cpu")), self)
        self.slub.on_dead_cache_empty = self._dead_cache_empty
        self._has_tick = bool(hook.slabpolicy_tick.get_hookimpls())
        #: slabpolicy_memcg_cache(sim, memcg, kind, root_cache), None when no plugin
        #: answers it: memcg_cache() then makes the kmem_cache_dup() copy without a hook
        #: call (a pluggy call that finds no implementation takes 2-4 us, 4% of
        #: many-small-cgroups' 1,800 caches); one that answers is called directly where
        #: pluggy would only pass the call on (api/hook_calls.py)
        self._memcg_cache_hook = (direct_caller(hook.slabpolicy_memcg_cache,
                                                ("sim", "memcg", "kind", "root_cache"))
                                  if hook.slabpolicy_memcg_cache.get_hookimpls() else None)
        self._kind_index = {k.name: i for i, k in enumerate(workload.caches)}
        #: the replay of the workload's trace, if it has one (slabpolicy.traces.replay)
        self.replay = None
        # reclaimable objects, memory limits and RCU frees (kernel/reclaim.py, kernel/rcu.py)
        self.rcu = Rcu(self)
        opts = workload.reclaim
        self.reclaim = Reclaim(self, memory_bytes=workload.machine.memory,
                               vfs_cache_pressure=opts.vfs_cache_pressure,
                               small_cache_pressure=opts.small_cache_pressure,
                               memcg_aware=opts.memcg_aware_lru)

    # -- what policies call --------------------------------------------------------------

    @property
    def now(self) -> int:
        """The op clock: simulated ns inside the operation being run."""
        return self.slub.now

    def synchronize_rcu(self) -> int:
        """synchronize_rcu(): the grace period to ``yield`` from an offline generator."""
        self.rcu_waits += 1
        return rcu_grace_period(self.slub.costs, self.workload.machine.cpus)

    def schedule(self, delay_ns: int, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` (a kworker on cpu 0) ``delay_ns`` from now; it may be a generator."""
        self._push(self.slub.now + max(0, int(delay_ns)), CALL, fn)

    def memcg_cache(self, memcg: MemCgroup, index: int) -> KmemCache:
        """The cache ``memcg`` allocates kind ``index`` from, asking the policy once."""
        cache = memcg.caches.get(index)
        if cache is None:
            root_cache = self.slub.root_caches[index]
            if memcg.is_root:
                cache = root_cache
            else:
                cache = None
                if self._memcg_cache_hook is not None:
                    cache = self._memcg_cache_hook(self, memcg, root_cache.kind, root_cache)
                if cache is None:
                    cache = self.slub.kmem_cache_dup(root_cache, memcg)
            memcg.caches[index] = cache
        return cache

    # -- the run -------------------------------------------------------------------------

    def queue_free(self, cache: KmemCache, slab, cpu: int, t: int, objcg=None) -> None:
        """Queue kmem_cache_free() of an object of ``slab`` on ``cpu`` at ``t`` as an event,
        as a workload's frees are (an accounted one with its ``objcg``)."""
        if objcg is None:
            self._push(t, FREE, cache, slab, cpu)
        else:
            self._push(t, FREE_ACCOUNTED, objcg, slab, cpu)

    def _push(self, t: int, kind: int, a=None, b=None, c=None) -> None:
        self._queue.push(t, kind, a, b, c)

    def kernel_event(self, t: int, fn: Callable[[int, Any, Any], None], a=None, b=None) -> None:
        """Queue ``fn(t, a, b)`` at time ``t``: kernel-model work (an RCU batch, kswapd)."""
        self._push(t, KERNEL, fn, a, b)

    def _deferred_free(self, stream: _Stream, cache: KmemCache) -> int | None:
        """What ends a stream's object's lifetime: going unused, an RCU free (the kind of
        the event), or a free (None)."""
        if stream.unused_life is not None:
            return UNUSED
        if cache.rcu in ("call_rcu", "kfree_rcu"):
            return RCU_FREE
        return None

    def run(self) -> None:
        """Run the workload to its end (``duration``), sampling as it goes, with
        Python's garbage collector run at samples (:mod:`slabpolicy.kernel.collector`)."""
        with collector.paused():
            self._run()

    def _run(self) -> None:
        self.hook.slabpolicy_run_start(sim=self)
        for group in self._groups.values():
            arrival = group.spec.arrival
            if group.spec.count and arrival.start_ns <= self.end_ns:
                self._push(arrival.start_ns, ARRIVE, group)
        self._push(0, SAMPLE)
        self.start_ticks()
        if self.workload.trace is not None:
            # events from a recorded trace instead of generated streams
            from slabpolicy.traces.replay import replay
            replay(self, self.workload.trace)
        else:
            self.run_events()

    def run_events(self, until: int | None = None) -> None:
        """Process queued events in time order up to ``until`` (default: the end of
        the run); later events stay queued.  Operations stopped at a lock then are
        finished, even past ``until``, so that no operation is left half done."""
        self._end = self.end_ns if until is None else min(until, self.end_ns)
        #: what the loop reads, gathered once here rather than by each greenlet that
        #: takes the loop over (every operation stopped at a lock hands it on)
        self._loop_env = (self.turns, self._queue, self.slub, self._end,
                          self.workload.machine.cpus, self.rng.random, self.reclaim,
                          self.rcu)
        self.turns.run(self._loop)

    def _loop(self) -> None:
        """The event loop (it runs in a greenlet: see :mod:`slabpolicy.kernel.turns`).
        It returns when the events are done or another greenlet has taken it over."""
        env = self._loop_env
        if _event_loop(self, env, env[0].loop):
            self._drain()

    def _event(self, kind: int, t: int, a, b, c) -> None:
        """Process an event of the big heap other than those the loop does itself
        (allocations, frees, kernel-model work, the turns of stopped operations)."""
        if kind == SAMPLE:
            turns = self.turns
            if t >= self.end_ns and turns.stopped:
                self._final_sample_due = True
            else:
                self._sample(t)
            nt = t + self.workload.sample_interval_ns
            self._push(min(nt, self._end) if t < self._end else nt, SAMPLE)
        elif kind == ARRIVE:
            self._arrive(a, t)
        elif kind == OFFLINE:
            self.memcg_offline(a, t)
        elif kind == RESUME:
            self.slub.begin(a.cpu, t)
            self._continue(a)
        elif kind == CALL:
            self._call(a, t)
        elif kind == MIGRATE:
            self._migrate(a, b, t)

    def _drain(self) -> None:
        """Finish the operations stopped at a lock: their continuations only, in time
        order; the other events past the end are held out of the queue's order and
        queued again at their places.  The end's sample, if it came while operations
        were stopped, is taken when they are done."""
        turns = self.turns
        me = turns.loop
        queue = self._queue
        while turns.stopped and turns.loop is me:
            event = queue.head()
            if event is None:
                break
            if event[1] == TURN:
                queue.pop()
                turns.resume(event[2], event[0])
            else:
                queue.hold()
        if turns.loop is me:
            queue.release()
            if self._final_sample_due and not turns.stopped:
                # the run's last figures are those of its final state, as ops counts are
                self._final_sample_due = self._check_pending = False
                self._sample(self.end_ns)
            elif self._check_pending and not turns.stopped:
                self._check_pending = False
                self.checker.check(self.slub.now)

    def _sample(self, t: int) -> None:
        collector.collect_if_grown()
        slub = self.slub
        judge = not self.turns.stopped
        live_bytes = self.checker.check(t, judge)
        if not judge:
            self._check_pending = True
        dead_pages = 0          # KmemCache.existing_slabs() * pages, without a call per cache
        for cache in slub.dead_caches:
            for n in cache.node:
                dead_pages += len(n.slabs) * cache.pages
        live = (slub.n_alloc_fast + slub.n_alloc_slow) - (slub.n_free_fast + slub.n_free_slow)
        # the kmalloc pages of objcg's obj_cgroups vectors are slab memory too
        slab_pages = slub.total_pages + slub.objcgs.vector_pages
        slab_bytes = slab_pages * self.workload.machine.page_size
        sample = {
            "slab_pages": slab_pages,
            "dead_cache_pages": dead_pages,
            "dead_caches": len(slub.dead_caches),
            "dying_memcgs": self.memcgs.nr_dying,
            "live_objects": live,
            "utilization": live_bytes / slab_bytes if slab_bytes else 0.0,
        }
        self.hook.slabpolicy_sample(sim=self, now_ns=t, sample=sample)
        series = self.series
        series["t_ns"].append(t)
        for key, value in sample.items():
            column = series.get(key)
            if column is None:    # a figure an observer added
                column = series[key] = [None] * (len(series["t_ns"]) - 1)
            column.append(value)

    # -- cgroups -------------------------------------------------------------------------

    def _arrive(self, group: _Group, t: int) -> None:
        spec = group.spec
        rng = self.rng
        parent = self.memcgs.root
        if spec.is_root:                       # the root cgroup's own tasks
            memcg = self.memcgs.root
            group.spawned += 1
        else:
            if spec.parent != "root":
                candidates = [m for m in self._groups[spec.parent].online if m.rmdir_ns is None]
                if candidates:
                    parent = candidates[int(rng.random() * len(candidates))]
            memcg = self.memcgs.create(f"{spec.name}-{group.spawned}", parent, spec.name, t)
            if spec.memory_high is not None or spec.memory_max is not None:
                self.reclaim.set_limits(memcg, spec.memory_high, spec.memory_max)
            group.spawned += 1
            group.online.append(memcg)
            self._offline_cpu[memcg.id] = int(rng.random() * self.workload.machine.cpus)
            life = group.life()
            if life is not None and t + life <= self.end_ns:
                self._push(t + life, OFFLINE, memcg)
        cpus = self._placement.place(spec.cpus)
        if spec.migration_per_s:
            self._push(t + int(rng.expovariate(spec.migration_per_s / 1e9)), MIGRATE,
                       memcg, (cpus, spec.migration_per_s / 1e9))
        if self.workload.cache_creation == "eager":
            for index in range(len(self.slub.root_caches)):
                self.memcg_cache(memcg, index)
        for stream, life_sampler, unused_sampler in group.streams:
            st = _Stream(memcg, self._kind_index[stream.cache], stream.rate_per_s, life_sampler,
                         stream.remote_free, cpus, unused_sampler)
            nt = t + int(rng.expovariate(st.per_ns))
            if nt <= self.end_ns:
                self._push(nt, ALLOC, st)
        if group.spawned < spec.count:
            arrival = spec.arrival
            if arrival.process == "poisson":
                nt = t + int(rng.expovariate(arrival.rate_per_s / 1e9))
            elif arrival.process == "fixed":
                nt = t + arrival.interval_ns
            else:                                # at_start: all at once
                nt = t
            if nt <= self.end_ns:
                self._push(nt, ARRIVE, group)

    def _migrate(self, memcg: MemCgroup, placed: tuple[list[int], float], t: int) -> None:
        """A task of ``memcg`` moves to a cpu it did not run on; the next move is drawn."""
        if memcg.rmdir_ns is not None:
            return
        cpus, per_ns = placed
        self._placement.migrate(cpus, self.rng.random)
        nt = t + int(self.rng.expovariate(per_ns))
        if nt <= self.end_ns:
            self._push(nt, MIGRATE, memcg, placed)

    def memcg_offline(self, memcg: MemCgroup, t: int, cpu: int | None = None) -> None:
        """rmdir at time ``t`` on ``cpu`` (default: the cpu drawn when it arrived).

        From ``t`` on the cgroup's tasks are gone and it allocates no more.  Then it
        goes offline, its caches become dead, and the policy's offline work starts
        (``slabpolicy_memcg_offline``); work that waits resumes from later events.
        A cgroup whose children are online or still going offline waits for them,
        as rmdir of a parent can only follow its children's: its offline starts
        when the last child's offline work is done.
        """
        if memcg.rmdir_ns is None:
            memcg.rmdir_ns = t
        if self._children_busy(memcg):
            self._pending_offline.add(memcg)
            return
        if any(c.allocating for c in memcg.caches.values() if c.memcg is memcg):
            # an allocation of its last task is stopped at a lock: it finishes first
            self._push(t + OFFLINE_RETRY_NS, OFFLINE, memcg)
            return
        if cpu is None:
            cpu = self._offline_cpu[memcg.id]
        slub = self.slub
        start = slub.begin(cpu, t)
        self.memcgs.offline(memcg, start)
        self.reclaim.memcg_offline(memcg)
        if memcg.group in self._groups:
            self._groups[memcg.group].online.remove(memcg)
        for cache in memcg.caches.values():
            if cache.memcg is memcg and not cache.destroyed:
                slub.mark_dead(cache)
        self._offlining.add(memcg)
        results = self.hook.slabpolicy_memcg_offline(sim=self, memcg=memcg)
        self._continue(_Op([r for r in results if isinstance(r, GeneratorType)],
                           cpu, start, memcg))

    def _children_busy(self, memcg: MemCgroup) -> bool:
        return any(child.state == ONLINE or child in self._offlining
                   for child in memcg.children)

    def _continue(self, op: _Op) -> None:
        """Run policy work until it waits (a yielded delay) or is done."""
        slub = self.slub
        while op.gens:
            try:
                wait = next(op.gens[0])
            except StopIteration:
                op.gens.pop(0)
                continue
            slub.end(op.cpu)
            self._push(slub.now + int(wait), RESUME, op)
            return
        slub.end(op.cpu)
        memcg = op.memcg
        if memcg is None:
            return
        self._offlining.discard(memcg)
        self.h_offline.record_span(op.start, slub.now)
        parent = memcg.parent
        self.memcgs.try_release(memcg, slub.now)
        if parent in self._pending_offline and not self._children_busy(parent):
            self._pending_offline.discard(parent)
            self._push(slub.now, OFFLINE, parent)

    def _call(self, fn: Callable[[], Any], t: int) -> None:
        slub = self.slub
        start = slub.begin(0, t)
        result = fn()
        self._continue(_Op([result] if isinstance(result, GeneratorType) else [], 0, start, None))

    def start_ticks(self) -> None:
        """Fire ``slabpolicy_tick`` every ``tick_interval`` from now, if a plugin
        implements it (a periodic timer, :meth:`schedule_every`)."""
        if self._has_tick:
            self.schedule_every(self.workload.tick_interval_ns, self._tick)

    def _tick(self) -> None:
        self.hook.slabpolicy_tick(sim=self, now_ns=self.slub.now)

    # -- hooks the allocator calls -------------------------------------------------------

    def _dead_cache_empty(self, cache: KmemCache) -> None:
        self.hook.slabpolicy_dead_cache_empty(sim=self, cache=cache)

    def finish(self) -> None:
        """Take the final sample at the end of the run if the loop has not."""
        if not self.series["t_ns"] or self.series["t_ns"][-1] != self.end_ns:
            self._sample(self.end_ns)


def _event_loop(sim: Simulation, env: tuple, me) -> bool:
    """:meth:`Simulation._loop`'s loop, a function so that the compiled core can give
    its locals C types (``engine.pxd``) and call the queue's methods as C functions.
    ``env`` is ``Simulation._loop_env``.  Returns whether this greenlet still runs the
    loop (it is then up to it to drain)."""
    turns, queue, slub, end, ncpus, rnd, reclaim, rcu = env
    # compiled, an allocation's times are C integers where they fit (engine.pxd)
    ctimes = cython.compiled and type(end) is int
    if ctimes:
        end_overflow = 0
        end_t = time_as_int64(end, cython.address(end_overflow))
    # compiled, the queue gives a continuation queued by Turns.defer() as itself
    queued_as_itself = cython.compiled
    # `while True` and not `while turns.loop is me`: CPython 3.11 specialises a
    # function's code after a few unconditional backward jumps, and a loop whose
    # every pass ends in its own test has none (unspecialised, it runs 25% slower)
    while True:
        if turns.loop is not me:
            break
        popped = queue.pop_due(end)
        if popped is None:
            break
        if queued_as_itself and type(popped) is not tuple:
            # compiled: a stopped operation's continuation, queued as itself
            # (EventQueue.push_turn): the turn of an RCU batch (kernel/rcu.py)
            turns.run_turn(popped)
            if not turns.stopped:
                _turns_done(sim, popped.at)
            continue
        event = popped
        t, kind, a, b, c = event
        if kind == ALLOC:
            st = a
            memcg = st.memcg
            if memcg.rmdir_ns is not None:
                continue                  # rmdir'ed cgroups allocate no more
            cache = st.cache
            if cache is None:
                # the first allocation asks the policy for the cache
                cache = st.cache = sim.memcg_cache(memcg, st.index)
                if cache.account and not memcg.is_root:
                    st.objcg = slub.objcgs.objcg_of(memcg)
                st.defer = sim._deferred_free(st, cache)
            # every draw and the stream's next event come before the allocation,
            # which may stop at a lock while other events are processed
            cpus = st.cpus
            u = draws.uniform(rnd) if cython.compiled else rnd()    # rng.random()
            pick = int(u * len(cpus))
            cpu = cpus[pick]
            life = st.life.draw()
            # when the object is freed, ft; compiled, in C where it fits (ft_c): from
            # the popped event's C time, read before anything can run the loop elsewhere
            in_c = ctimes and queue.popped_fits
            ft_in_c = in_c and life is not None and _time_after(queue.popped_t, life,
                                                                cython.address(ft_c))
            if ft_in_c:
                freed = _due(ft_c, end_t, end_overflow)
            else:
                ft = None if life is None else t + life
                freed = ft is not None and ft <= end
            fcpu = cpu
            if freed and st.remote_free:
                u = draws.uniform(rnd) if cython.compiled else rnd()
                if u < st.remote_free:
                    u = draws.uniform(rnd) if cython.compiled else rnd()
                    pick = int(u * (ncpus - 1))
                    fcpu = (cpu + 1 + pick) % ncpus
            unused = st.unused_life.draw() if freed and st.unused_life is not None else None
            u = draws.uniform(rnd) if cython.compiled else rnd()
            x = -draws.log(1.0 - u) / st.per_ns     # rng.expovariate(per_ns)
            if in_c and _time_after_draw(queue.popped_t, x, cython.address(nt_c)):
                if _due(nt_c, end_t, end_overflow):
                    queue.push_at(nt_c, ALLOC, st, None, None)
            else:
                nt = t + draws.trunc(x)             # int(rng.expovariate(per_ns))
                if nt <= end:
                    queue.push(nt, ALLOC, st)
            objcg = st.objcg
            slab = slub.slab_alloc(cache, cpu, t, objcg)
            if freed:
                defer = st.defer
                if defer == UNUSED:
                    # the object's list item, made now: its handle until it is freed
                    free_kind, a, b = UNUSED, lru_item(cache, slab, objcg, None), unused
                elif defer is not None:         # RCU_FREE
                    free_kind, a, b = RCU_FREE, (cache, slab, objcg), None
                elif objcg is None:
                    free_kind, a, b = FREE, cache, slab
                else:
                    free_kind, a, b = FREE_ACCOUNTED, objcg, slab
                if ft_in_c:
                    queue.push_at(ft_c, free_kind, a, b, fcpu)
                else:
                    queue.push(ft, free_kind, a, b, fcpu)
        elif kind == FREE:
            slub.slab_free(a, b, c, t)
        elif kind == FREE_ACCOUNTED:
            slab = b
            slub.slab_free(slab.cache, slab, c, t, a)    # a shared cache: the slab's own
        elif kind == UNUSED:
            reclaim.unused_event(t, a, b, c)   # on memory-pressure, most of the events
        elif kind == RCU_BATCH:
            rcu._do_batch(t, a, c)
        elif kind == EXPIRE:
            reclaim._expire_event(t, a, c)
        elif kind == RCU_FREE:
            rcu.free_event(t, a, c)
        elif kind == KERNEL:
            a(t, b, c)                       # other kernel-model work
        elif kind == TURN:
            turns.resume(a, t)            # a stopped operation's turn
            if not turns.stopped:
                _turns_done(sim, t)
        else:
            sim._event(kind, t, a, b, c)
    return turns.loop is me


def _turns_done(sim: Simulation, t: int) -> None:
    """After the turn at ``t`` of a stopped operation, none is stopped any more: the
    accounting check a sample could not judge meanwhile, if one could not."""
    if sim._check_pending:
        sim._check_pending = False
        sim.checker.check(t)


def _time_after(t: int, dt, out) -> bool:
    """Compiled core: whether ``t + dt`` (``t`` an int64, ``dt`` a Python object) is an
    int64: then it is in ``*out``; else (``dt`` not an int, or the sum too large) the
    caller adds them as Python objects."""
    if type(dt) is not int:
        return False
    overflow = 0
    d = time_as_int64(dt, cython.address(overflow))
    if overflow or not _sum_fits(t, d):
        return False
    out[0] = t + d
    return True


def _time_after_draw(t: int, x: float, out) -> bool:
    """Compiled core: whether ``t + int(x)`` (``t`` an int64, ``x`` a double) is an
    int64: then it is in ``*out``; else (``x`` NaN, infinite, or the sum too large) the
    caller adds Python ints."""
    if not -9223372036854775808.0 < x < 9223372036854775808.0:    # +-2**63, exactly
        return False
    d = cython.cast(int64_t, x)       # towards zero, as int(x): exact, and it fits
    if not _sum_fits(t, d):
        return False
    out[0] = t + d
    return True


def _sum_fits(t: int, d: int) -> bool:
    """Compiled core: whether ``t + d`` of two int64s is one (checked without adding)."""
    return (t <= INT64_MAX - d) if d > 0 else (t >= INT64_MIN - d)


def _due(t: int, end_t: int, end_overflow: int) -> bool:
    """Compiled core: whether C time ``t`` is at or before the run's end (``end_t``, or
    past every int64 by ``end_overflow``'s sign)."""
    return end_overflow > 0 or (end_overflow == 0 and t <= end_t)
