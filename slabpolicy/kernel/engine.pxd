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
# stay Python ints (unbounded).  A field added to _Stream's __slots__ is added here too
# (tests/test_compiled_declarations.py checks that).
cimport cython
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

@cython.locals(event=tuple, kind=Py_ssize_t, st=_Stream, memcg=MemCgroup, cache=KmemCache,
               slab=Slab, cpus=list, cpu=Py_ssize_t, fcpu=Py_ssize_t, ncpus=Py_ssize_t,
               pick=Py_ssize_t, turns=Turns, queue=EventQueue, slub=Allocator,
               reclaim=Reclaim, rcu=Rcu, u=cython.double, freed=bint)
cdef bint _event_loop(object sim, tuple env, object me)
