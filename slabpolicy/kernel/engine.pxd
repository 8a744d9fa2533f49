# Cython declarations for engine.py, used only when the core is compiled (setup.py):
# a stream is a C type and the event loop's locals have C types, so that the loop reads
# a stream's and its memcg's fields and calls the allocator (Allocator.slab_alloc and
# slab_free, cpdef in slub.pxd), the queue (push and pop_due, cpdef in
# event_queue.pxd) and the handlers of the per-object kernel-model events (Reclaim's
# and Rcu's, cpdef in reclaim.pxd and rcu.pxd) without a dictionary lookup or a
# Python call.  A stream's samplers
# are distributions.pxd's Sampler, whose draw() is a C call, and the time to its next
# allocation is computed with draws.pxd's log and trunc (C functions that give
# math.log's and int()'s values); random() is drawn with draws.pxd's uniform (the C
# function of rng.random called directly).
#
# C numbers only where the value is one already: a rate per ns, a probability and a
# draw from random() are Python floats, that is C doubles (the arithmetic on them is
# the same IEEE double arithmetic, and int() of a double is Python's), and a cpu number
# is below the machine's cpu count: so is `pick`, int(u * n) for a draw 0 <= u < 1 and
# n cpus, which Cython converts from the double in C, truncating as int() does.  Times
# stay Python ints (unbounded), except the times an allocation queues, computed as C
# int64s where they provably fit (below).  A field added to _Stream's __slots__ is
# added here too (tests/test_compiled_declarations.py checks that).
cimport cython
from slabpolicy.kernel.fast_int cimport time_as_int64
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t
from slabpolicy.workloads cimport draws
from slabpolicy.workloads.distributions cimport Sampler
from slabpolicy.kernel.event_queue cimport EventQueue
from slabpolicy.kernel.list_lru cimport lru_item
from slabpolicy.kernel.memcg cimport MemCgroup
from slabpolicy.kernel.rcu cimport Rcu
from slabpolicy.kernel.reclaim cimport Reclaim
from slabpolicy.kernel.slub cimport Allocator, KmemCache, Slab
from slabpolicy.kernel.turns cimport Turns

# The event kinds (event_kinds.py) as C constants of this module, and an event's kind
# a C integer in the loop: its chain of tests compares C integers, not Python ints
# (a kind is one of the small constants of event_kinds.py)
cdef Py_ssize_t ALLOC, FREE, FREE_ACCOUNTED, ARRIVE, OFFLINE, RESUME, CALL, SAMPLE
cdef Py_ssize_t TURN, MIGRATE, KERNEL, UNUSED, EXPIRE, RCU_FREE, RCU_BATCH

cdef class _Stream:
    cdef public object memcg, index, cache, objcg, defer
    cdef public Sampler life, unused_life
    cdef public list cpus
    cdef public double per_ns, remote_free

# The times an allocation queues (engine.py, _event_loop): when its object is freed, ft,
# and the stream's next allocation, nt, are C int64s (ft_c, nt_c) where every term and
# the sum fit one: the popped event's time where it does (EventQueue.popped_t, a C heap
# entry's), a lifetime that is an int the conversion gives without overflow, a draw
# int(x) for a double -2**63 < x < 2**63 (the C cast truncates towards zero as int()
# does, exactly, and the value fits); _time_after and _time_after_draw check that the
# sum fits before they add, and say whether it did (else the loop adds Python ints, as
# the pure core always does).  `end`, the run's end, is end_t where end_overflow is 0,
# beyond every int64 the other way round by its sign (fast_int.pxd's time_as_int64).
@cython.locals(event=tuple, kind=Py_ssize_t, st=_Stream, memcg=MemCgroup, cache=KmemCache,
               slab=Slab, cpus=list, cpu=Py_ssize_t, fcpu=Py_ssize_t, ncpus=Py_ssize_t,
               pick=Py_ssize_t, turns=Turns, queue=EventQueue, slub=Allocator,
               reclaim=Reclaim, rcu=Rcu, u=cython.double, freed=bint, x=cython.double,
               in_c=bint, ft_in_c=bint, ft_c=int64_t, nt_c=int64_t, end_t=int64_t,
               end_overflow=cython.int, free_kind=Py_ssize_t,
               queued_as_itself=bint)
cdef bint _event_loop(object sim, tuple env, object me)
cdef _turns_done(object sim, object t)
@cython.locals(d=int64_t, overflow=cython.int)
cdef inline bint _time_after(int64_t t, object dt, int64_t *out) except -1
@cython.locals(d=int64_t)
cdef inline bint _time_after_draw(int64_t t, double x, int64_t *out) noexcept
cdef inline bint _sum_fits(int64_t t, int64_t d) noexcept
cdef inline bint _due(int64_t t, int64_t end_t, int end_overflow) noexcept
