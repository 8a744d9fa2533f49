# Cython declarations for rcu.py, used only when the core is compiled (setup.py): the
# per-object paths (call_rcu(), the batch of a grace period, the deferred free) read
# their fields as C structure members and call the allocator's free path
# (Allocator.slab_free, a cpdef method of slub.pxd) as a C function.  Every value stays
# a Python object, so the arithmetic is Python's; `__dict__` keeps any other attribute
# settable, as on the pure-Python class.  Rcu is final (nothing subclasses it): its
# cpdef methods are then called without the lookup of an override on the instance that
# a class with a `__dict__` makes.
cimport cython

from slabpolicy.kernel.event_queue cimport EventQueue
from slabpolicy.kernel.fast_int cimport time_add
from slabpolicy.kernel.histogram cimport Histogram
from slabpolicy.kernel.slub cimport Allocator, KmemCache, Slab
from slabpolicy.kernel.turns cimport Continuation, Turns


# A cpu is a C integer where it indexes the per-cpu lists (cpu_free_at, the callback
# segments): an index below the machine's cpu count, as in slub.pxd.
cpdef kmem_cache_free(Allocator slub, object cache, Slab slab, object objcg, Py_ssize_t cpu,
                      object t, bint can_defer=*)

@cython.locals(rest=tuple)
cdef tuple _free_in_turn(Allocator slub, KmemCache s, Slab slab, object objcg, Py_ssize_t cpu)

cdef class Rcu

# The grace-period machine's states (rcu.py's IDLE, REQUESTED, RUNNING = range(3)) as C
# constants, and an Rcu's state a C integer: call_rcu() tests it twice per callback
cdef Py_ssize_t IDLE, REQUESTED, RUNNING
# slub.BUSY read from a C variable of this module, not looked up by name per callback
cdef object BUSY

# The turn of a stopped batch: a C type, whose run() Turns.resume() calls through the
# C method table.  `i` indexes the batch (a list: fn, arg, fn, arg, ...), `cpu` the
# per-cpu lists.
cdef class BatchTurn(Continuation):
    cdef public Rcu rcu
    cdef public list batch
    cdef public Py_ssize_t i, cpu
    cdef public object t
    cdef public tuple rest

    cpdef run(self, t)

@cython.final
cdef class Rcu:
    cdef dict __dict__
    cdef public Allocator slub
    cdef public EventQueue queue
    cdef public list wait, next, kfree
    cdef public object sim, grace_period, gp_end, grace_periods
    # the grace-period machine's state (IDLE, REQUESTED or RUNNING), and counts of
    # call_rcu() calls and of callbacks run: far below 2**63
    cdef public Py_ssize_t gp_state, callbacks, invoked
    cdef public Histogram batch_sizes
    cdef public object pending_pages, pending_charged, typesafe_slabs, kfree_objects
    cdef public object kfree_batches, _free_cb, _gp_done_cb

    @cython.locals(slub=Allocator, segment=list)
    cpdef call_rcu(self, Py_ssize_t cpu, object fn, object arg)
    cpdef _gp_start(self, object t, object _a=*, object _b=*)
    @cython.locals(ready=list, batch=list, cpu=Py_ssize_t, segment=list)
    cpdef _gp_done(self, object t, object _a, object _b)
    @cython.locals(slub=Allocator)
    cpdef _do_batch(self, object t, list batch, object cpu)
    @cython.locals(slub=Allocator, turns=Turns, slab=Slab, s=KmemCache, n=Py_ssize_t)
    cpdef _run_batch(self, list batch, Py_ssize_t i, Py_ssize_t cpu, object t, BatchTurn turn)
    cpdef _stop(self, BatchTurn turn, list batch, Py_ssize_t i, Py_ssize_t cpu, object t,
                tuple rest)
    @cython.locals(slub=Allocator, i=Py_ssize_t, cpu=Py_ssize_t, slab=Slab, s=KmemCache)
    cpdef _resume_batch(self, object now, BatchTurn turn)
    @cython.locals(cache=KmemCache, mode=str)
    cpdef free(self, tuple obj, Py_ssize_t cpu, object t)
    @cython.locals(slub=Allocator)
    cpdef free_event(self, object t, tuple obj, object cpu)
