"""RCU-deferred frees: call_rcu() batches, SLAB_TYPESAFE_BY_RCU slab pages, kfree_rcu().

A dentry is not freed by dput() or by the shrinker: __dentry_kill() ends in
dentry_free(), which calls ``call_rcu(&dentry->d_u.d_rcu, __d_free)``
(fs/dcache.c), and an inode goes the same way through ``i_callback``
(fs/inode.c, destroy_inode()).  The object is freed when a grace period has
passed, by rcu_do_batch() in softirq on the cpu that queued the callback, with
every other callback of that cpu that was waiting for the same grace period: a
burst of kmem_cache_free() calls, each taking ``list_lock`` when its slab
needs a list move.  What is modelled (kernel/rcu/tree.c, Tree RCU):

* each cpu has its callbacks in two segments: those waiting for the grace
  period in progress (or about to start), and those queued during it, which
  need the next one (a callback needs a whole grace period that started after
  call_rcu());
* a call_rcu() with no grace period in progress wakes the grace-period kthread
  (rcu_gp_kthread), which starts one as its own event: callbacks queued before
  it runs, the rest of the same operation included, share that grace period;
  grace periods run one after another while callbacks wait; each lasts the
  cost model's grace period (``rcu_grace_period``, or
  ``rcu_grace_period_many`` above 16 cpus);
* when one ends, each cpu's ready segment is one batch, run in softirq on that
  cpu as soon as the cpu is free: ``rcu_callback`` per callback plus what the
  callback does.  rcu_do_batch() runs at most ``blimit`` (10) callbacks per
  softirq pass and raises the softirq again for the rest; the passes follow
  each other on the cpu, so the batch is modelled as one.  Every cpu's batch
  starts at the same grace-period end, so the batches' frees reach their locks
  interleaved; a free whose cache has a ``free_lock`` (scan-and-move) takes it
  before anything else, and where it must wait its turn there the batch stops
  before that free, holding no lock, and goes on from it as a plain call at its
  turn (kernel/turns.py, ``Turns.defer``).  A free that must then wait
  its turn at __slab_free()'s list_lock (a full slab of a cache that keeps a
  full list) stops the same way, holding its free_lock: its turn finishes the
  free (Allocator._slab_free_continue()), then the rest of the batch.

A cache's ``rcu`` mode (its kind's ``rcu`` field) says how its objects go:

* ``call_rcu``: each free is a call_rcu() callback, as __d_free and i_callback;
* ``typesafe``: SLAB_TYPESAFE_BY_RCU (SLAB_DESTROY_BY_RCU before 4.12): objects
  are freed at once and may be reused at once, but a slab that becomes empty
  is discarded through ``call_rcu(&page->rcu_head, rcu_free_slab)``
  (mm/slub.c free_slab()): its pages stay allocated and charged until the
  grace period ends, and kmem_cache_destroy() waits for them (rcu_barrier()),
  so they hold the cache's memcg;
* ``kfree_rcu``: kfree_rcu() batching (Linux 5.5, kernel/rcu/tree.c
  kfree_call_rcu()): a cpu's objects collect for ``kfree_rcu_drain``
  (KFREE_DRAIN_JIFFIES), then one call_rcu() for the whole batch; after the
  grace period the batch is freed in bulk on that cpu (kfree_rcu_work()).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from slabpolicy.kernel.costs import rcu_grace_period
from slabpolicy.kernel.event_kinds import KERNEL, RCU_BATCH
from slabpolicy.kernel.fast_int import time_add
from slabpolicy.kernel.histogram import Histogram
from slabpolicy.kernel.slub import BUSY
from slabpolicy.kernel.turns import Continuation

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

if TYPE_CHECKING:
    from slabpolicy.kernel.engine import Simulation
    from slabpolicy.kernel.slub import Allocator, KmemCache, Slab

#: the values of a cache's ``rcu`` field
RCU_MODES = ("none", "call_rcu", "typesafe", "kfree_rcu")
#: the grace-period machine: none wanted, one asked for (the kthread is woken), one running
IDLE, REQUESTED, RUNNING = range(3)


def kmem_cache_free(slub: Allocator, cache: KmemCache, slab: Slab, objcg, cpu: int,
                    t: int, can_defer: bool = False) -> tuple | None:
    """kmem_cache_free() inside an operation already running on ``cpu``: the free's own
    cost and locks follow on the op clock.  An accounted object is freed to its slab's
    (shared) cache and uncharged from its objcg, as the engine's frees are.  With
    ``can_defer``, returns what is left of a free stopped before list_lock, as
    Allocator.slab_free() does (the op clock is then the arrival at the lock)."""
    slub.cpu_free_at[cpu] = slub.now
    rest = slub.slab_free(slab.cache if objcg is not None else cache, slab, cpu, t, objcg,
                          can_defer)
    if rest is None:
        slub.now = slub.cpu_free_at[cpu]
    return rest


def _free_in_turn(slub: Allocator, s: KmemCache, slab: Slab, objcg, cpu: int) -> tuple | None:
    """kmem_cache_free() into ``s``, a cache with a free_lock, by an RCU batch's free
    that reaches it in its turn (no earlier event queued, the cpu the batch's):
    what slab_free() makes of it (no fast path before the free_lock; the op clock
    is the start), the free_lock taken without asking again whether it must wait
    (Allocator._slab_free_recorded()'s ``in_turn``).  Returns what is left of a
    free stopped before list_lock, as kmem_cache_free() with ``can_defer``."""
    now = slub.now
    slub.cpu_free_at[cpu] = now
    rest = slub._slab_free_recorded(s, slab, cpu, now, objcg, True, True)
    if rest is None:
        slub.now = slub.cpu_free_at[cpu]
    return rest


class Rcu:
    """The RCU callback machinery of one run, and its figures (the result's ``rcu``)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.slub = slub = sim.slub
        #: the run's event queue: grace periods and batches are queued on it directly,
        #: as Simulation.kernel_event() queues kernel work, without a call to it
        self.queue = sim._queue
        ncpus = slub.machine.cpus
        #: each cpu's callbacks, laid flat as ``fn, arg, fn, arg, ...`` (a tuple per
        #: callback would be an allocation per call_rcu()): those waiting for the
        #: grace period in progress, and those queued during it
        self.wait: list[list] = [[] for _ in range(ncpus)]
        self.next: list[list] = [[] for _ in range(ncpus)]
        self.gp_state = IDLE
        #: how long a grace period lasts: the cost model's, fixed for the run as the
        #: allocator's step costs are (Allocator.c_call_rcu, ...), not looked up again
        #: at each grace period
        self.grace_period = rcu_grace_period(slub.costs, ncpus)
        self.gp_end = 0              # when the grace period in progress ends
        self.grace_periods = 0
        self.callbacks = 0          # call_rcu() calls
        self.invoked = 0            # callbacks run
        self.batch_sizes = Histogram()
        #: pages of SLAB_TYPESAFE_BY_RCU slabs discarded, waiting for their grace period
        self.pending_pages = 0
        #: cache -> pages of its slabs waiting for rcu_free_slab() that are still charged
        #: to the cache's memcg (the accounting checker's per-memcg sums)
        self.pending_charged: dict[KmemCache, int] = {}
        self.typesafe_slabs = 0
        self.kfree: list[list] = [[] for _ in range(ncpus)]  # kfree_rcu() objects not yet queued
        self.kfree_objects = 0
        self.kfree_batches = 0
        slub.rcu_free_slab = self.rcu_free_slab
        #: the callbacks as bound once (a bound method made per call_rcu() costs an
        #: allocation); _do_batch() knows the free callback by identity
        self._free_cb = self._d_free
        self._gp_done_cb = self._gp_done

    # -- call_rcu() and grace periods ---------------------------------------------------

    def call_rcu(self, cpu: int, fn: Callable[[Any, int, int], None], arg: Any) -> None:
        """call_rcu() on ``cpu`` inside a running operation: ``fn(arg, cpu, t)`` runs in
        softirq on ``cpu`` after a whole grace period.

        Every object of memory-pressure comes here.  On the compiled core the clock's
        sum is made in C (fast_int.time_add) and the count and the grace-period state
        are C integers (rcu.pxd), where they made up to three Python ints a call:
        with :meth:`free_event` passing its tuple on, memory-pressure at 12.8 s
        simulated runs 21 M instructions fewer (callgrind: reparent 671.2 M to
        650.2 M, scan-and-move 845.1 M to 823.2 M)."""
        slub = self.slub
        slub.now = (time_add(slub.now, slub.c_call_rcu) if cython.compiled
                    else slub.now + slub.c_call_rcu)
        self.callbacks += 1
        segment = self.next[cpu] if self.gp_state == RUNNING else self.wait[cpu]
        segment.append(fn)
        segment.append(arg)
        if self.gp_state == IDLE:
            self.gp_state = REQUESTED
            self.queue.push(slub.now, KERNEL, self._gp_start, None, None)

    def _gp_start(self, t: int, _a=None, _b=None) -> None:
        """rcu_gp_init(): the grace period starts; it ends ``rcu_grace_period`` later."""
        self.gp_state = RUNNING
        self.gp_end = t + self.grace_period
        self.grace_periods += 1
        self.queue.push(self.gp_end, KERNEL, self._gp_done_cb, None, None)

    def _gp_done(self, t: int, _a, _b) -> None:
        """The grace period ends: each cpu's ready callbacks become a batch on that cpu;
        the next grace period starts at once if callbacks wait for it."""
        ready, self.wait = self.wait, self.next
        self.next = [[] for _ in ready]
        self.gp_state = IDLE
        for cpu, batch in enumerate(ready):
            if batch:
                self.queue.push(t, RCU_BATCH, batch, None, cpu)     # the loop: _do_batch()
        for segment in self.wait:
            if segment:             # callbacks wait: the next grace period starts now
                self._gp_start(t)
                break

    def _do_batch(self, t: int, batch: list, cpu: int) -> None:
        """rcu_do_batch(): run one cpu's ready callbacks in softirq, one after another
        (an RCU_BATCH event).  The object frees (most callbacks) are made here, not
        through a call each."""
        slub = self.slub
        slub.begin(cpu, t)
        self.batch_sizes.record(len(batch) // 2)
        self._run_batch(batch, 0, cpu, t, None)

    def _run_batch(self, batch: list, i: int, cpu: int, t: int, turn: BatchTurn | None) -> None:
        """The callbacks of ``batch`` (started at ``t`` on ``cpu``) from the one whose
        function is ``batch[i]`` on (its argument ``batch[i + 1]``);
        ``turn`` is the batch's :class:`BatchTurn` if it has stopped before (None).

        A free into a cache with a ``free_lock`` takes that lock first
        (Allocator.slab_free()); where that acquisition must wait its turn
        (Turns.must_wait()), the batch stops right before the free, as the free
        would stop at the lock: the same time, the same place in the event order,
        nothing held, so it continues as a call (:meth:`_resume_batch`) rather than
        in a greenlet of its own.  Where it need not, the free is made at once and
        takes the lock without lock()'s asking the same question again
        (:func:`_free_in_turn`).  (A free that finds the cpu handed to another
        operation, the clock at BUSY, waits for the cpu in slab_free() as before.)
        A free that stops before list_lock returns what is left of it
        (kmem_cache_free() with ``can_defer``): the batch stops there too, and
        continues the same way."""
        slub = self.slub
        turns = slub.turns
        step = slub.c_rcu_callback
        free_cb = self._free_cb
        n = len(batch)
        while i < n:
            fn = batch[i]
            arg = batch[i + 1]
            # compiled, the sum made in C (fast_int.time_add); a call of it would cost
            # the pure core more than the addition
            slub.now = time_add(slub.now, step) if cython.compiled else slub.now + step
            if fn is free_cb:
                cache, slab, objcg = arg
                s = slab.cache if objcg is not None else cache      # as kmem_cache_free()
                if s.free_lock is not None and turns is not None and slub.now < BUSY:
                    if turns.must_wait(slub.now):
                        slub.cpu_free_at[cpu] = BUSY
                        self._stop(turn, batch, i, cpu, t, None)
                        return
                    # its turn: nothing has run since the question, lock() would
                    # ask it again
                    rest = _free_in_turn(slub, s, slab, objcg, cpu)
                else:
                    rest = kmem_cache_free(slub, cache, slab, objcg, cpu, t, True)
                if rest is not None:
                    self._stop(turn, batch, i, cpu, t, rest)
                    return
            else:
                fn(arg, cpu, t)
            i += 2
        self.invoked += n // 2
        slub.end(cpu)

    def _stop(self, turn: BatchTurn | None, batch: list, i: int, cpu: int, t: int,
              rest: tuple | None) -> None:
        """Stop the batch at its callback at ``batch[i]``, a free (Turns.defer): before it
        (``rest`` None), or inside it, before list_lock (``rest``); the turn is at the
        op clock.  A batch has one :class:`BatchTurn` however often it stops (most of
        its frees do on memory-pressure / scan-and-move): ``turn``, its fields moved
        on, or, at its first stop, one made as ``__new__`` and field stores (a C
        allocation on the compiled core, not a call that parses its arguments)."""
        if turn is None:
            turn = BatchTurn.__new__(BatchTurn)
            turn.rcu = self
            turn.batch = batch
            turn.cpu = cpu
            turn.t = t
        turn.i = i
        turn.rest = rest
        self.slub.turns.defer(self.slub.now, turn)

    def _resume_batch(self, now: int, turn: BatchTurn) -> None:
        """The turn of a batch stopped by :meth:`_run_batch`: the free it stopped in is
        finished (Allocator._slab_free_continue()), or the one it stopped before is
        made, then the rest of the batch.  Were the cache's ``free_lock`` dropped
        meanwhile (scan-and-move's ``during-scan`` flag), a free made now takes none:
        it tests the flag when it arrives.

        The free made now takes its free_lock at ``now`` without asking whether it
        must wait (Turns.must_wait(), in Allocator.lock()): it could not.  Its turn
        is the TURN event at ``now`` the loop has just taken, the earliest by
        ``(t, seq)``, so every event still queued is at ``now`` or later; from that
        pop to the acquisition run only Turns.resume(), BatchTurn.run(), this and
        Allocator._slab_free_recorded() up to the lock, which queue no event (the
        cpu is the batch's own, BUSY for it since it stopped: no wait for the cpu)
        and do not move the clock (the arrival is ``now``).  No event earlier than
        the arrival is queued: lock() would take the lock at once, as this does."""
        batch = turn.batch
        i = turn.i
        cpu = turn.cpu
        t = turn.t
        slub = self.slub
        if turn.rest is not None:
            slub._slab_free_continue(turn.rest, now)
            slub.now = slub.cpu_free_at[cpu]        # as kmem_cache_free() ends
        else:
            slub.now = now
            slub.cur_cpu = cpu
            cache, slab, objcg = batch[i + 1]
            s = slab.cache if objcg is not None else cache      # as kmem_cache_free()
            if s.free_lock is None:
                rest = kmem_cache_free(slub, cache, slab, objcg, cpu, t, True)
            else:
                rest = _free_in_turn(slub, s, slab, objcg, cpu)
            if rest is not None:
                self._stop(turn, batch, i, cpu, t, rest)
                return
        self._run_batch(batch, i + 2, cpu, t, turn)

    # -- what a cache's rcu mode does with a free ------------------------------------------

    def free(self, obj: tuple, cpu: int, t: int) -> None:
        """Free one object, ``(cache, slab, objcg)``, inside an operation on ``cpu``, the
        way its cache frees: call_rcu() or kfree_rcu() with the tuple as the callback's
        argument as it is, or kmem_cache_free() at once.  Its callers are a stream's free
        (:meth:`free_event`, the tuple its event's) and reclaim's eviction.

        ``cache.rcu`` is one of the strings of :data:`RCU_MODES`, interned when the
        cache is made (slub._kmem_cache_open()), so each comparison with a mode here is
        an identity test (a full string comparison, about 95 instructions, where the
        mode is the YAML's own string)."""
        cache = obj[0]
        mode = cache.rcu
        if mode == "call_rcu":
            self.call_rcu(cpu, self._free_cb, obj)
        elif mode == "kfree_rcu":
            self._kfree_rcu(cpu, obj)
        else:
            kmem_cache_free(self.slub, cache, obj[1], obj[2], cpu, t)

    def free_event(self, t: int, obj: tuple, cpu: int) -> None:
        """The end of an object's lifetime as an event on ``cpu`` (a stream's free of an
        object of an RCU cache, an RCU_FREE event): call_rcu() or kfree_rcu() instead
        of the free."""
        slub = self.slub
        slub.begin(cpu, t)
        self.free(obj, cpu, t)
        slub.end(cpu)

    def _d_free(self, obj: tuple, cpu: int, t: int) -> None:
        """__d_free() / i_callback(): the deferred kmem_cache_free() (``_free_cb``;
        :meth:`_do_batch` makes it without this call)."""
        kmem_cache_free(self.slub, obj[0], obj[1], obj[2], cpu, t)

    def _kfree_rcu(self, cpu: int, obj: tuple) -> None:
        """kfree_call_rcu(): the object joins this cpu's batch; the first one arms the
        drain (kfree_rcu_monitor() after KFREE_DRAIN_JIFFIES)."""
        slub = self.slub
        slub.now += slub.c_list_op
        pending = self.kfree[cpu]
        if not pending:
            self.queue.push(slub.now + slub.costs["kfree_rcu_drain"], KERNEL, self._kfree_drain,
                            None, cpu)
        pending.append(obj)
        self.kfree_objects += 1

    def _kfree_drain(self, t: int, _a, cpu: int) -> None:
        """kfree_rcu_monitor(): the cpu's batch waits for one grace period as a whole."""
        slub = self.slub
        slub.begin(cpu, t)
        batch, self.kfree[cpu] = self.kfree[cpu], []
        self.kfree_batches += 1
        self.call_rcu(cpu, self._kfree_bulk, batch)
        slub.end(cpu)

    def _kfree_bulk(self, batch: list, cpu: int, t: int) -> None:
        """kfree_rcu_work(): free the batch's objects one after another on ``cpu``."""
        for cache, slab, objcg in batch:
            kmem_cache_free(self.slub, cache, slab, objcg, cpu, t)

    # -- SLAB_TYPESAFE_BY_RCU ------------------------------------------------------------

    def rcu_free_slab(self, s: KmemCache, slab: Slab, uncharge: bool) -> None:
        """free_slab() of a SLAB_TYPESAFE_BY_RCU cache: call_rcu(rcu_free_slab); the pages
        stay allocated and charged, and hold the memcg, until the grace period ends.
        The callback is queued on the cpu of the operation that last took a slow path
        or a kernel-model event (``slub.cur_cpu``): a policy's offline work discarding a
        slab runs on a cpu the allocator is not told of."""
        slub = self.slub
        self.sim.memcgs.get(s.memcg)
        self.pending_pages += s.pages
        if uncharge:
            self.pending_charged[s] = self.pending_charged.get(s, 0) + s.pages
        self.typesafe_slabs += 1
        self.call_rcu(slub.cur_cpu, self._free_slab_cb, (s, slab, uncharge))

    def _free_slab_cb(self, arg: tuple, cpu: int, t: int) -> None:
        s, slab, uncharge = arg
        self.pending_pages -= s.pages
        if uncharge:
            left = self.pending_charged.pop(s) - s.pages
            if left:
                self.pending_charged[s] = left
        self.slub.free_pages(s, slab, uncharge)
        self.sim.memcgs.put(s.memcg, self.slub.now)

    # -- figures -------------------------------------------------------------------------

    def summary(self) -> dict:
        """The result document's ``rcu`` object."""
        return {
            "callbacks": self.callbacks,
            "invoked": self.invoked,
            "pending": self.callbacks - self.invoked,
            "grace_periods": self.grace_periods,
            "batches": self.batch_sizes.count,
            "batch_size": self.batch_sizes.summary(),
            "batch_size_hist": self.batch_sizes.buckets(),
            "typesafe_slabs": self.typesafe_slabs,
            "typesafe_pages_pending": self.pending_pages,
            "kfree_rcu": {"objects": self.kfree_objects, "batches": self.kfree_batches},
        }


class BatchTurn(Continuation):
    """What is left of an RCU batch stopped at its callback at ``batch[i]``, a free
    (Rcu._run_batch()): before that free (``rest`` None), or inside it, before
    __slab_free()'s list_lock (``rest``: what is left of the free)."""

    __slots__ = ("rcu", "batch", "i", "cpu", "t", "rest")

    def run(self, t: int) -> None:
        self.rcu._resume_batch(t, self)
