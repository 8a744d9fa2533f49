# Cython declarations for locks.py, used only when the core is compiled (setup.py):
# LockClass and Lock become C types, so that the allocator's lock()/unlock() (slub.pxd)
# call take()/release() and the histograms' record() as C calls.  The fields are
# exactly __slots__ (tests/test_compiled_core.py checks it).  Times and sums of times
# stay Python objects (a time may be BUSY = 1 << 100; a sum of waits has no bound),
# except `hold_ns_small`, the part of the sum of holds release() adds in C: it only
# adds a hold h >= 0 while hold_ns_small <= INT64_MAX - h, so it stays in [0, 2**63);
# and `hold_ns_max_int64`, the largest of those C holds (INT64_MIN before one).  C
# integers only where the value provably fits: `held` is only ever True or False (read
# back as a Python bool); `cpu` is a cpu index or -1; the counts of acquisitions,
# contentions and bounces are at most one per lock operation the event loop runs, and
# no run makes 2**63 of them (centuries at a billion a second).

cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.fast_int cimport time_add, time_as_int64, time_lt
from slabpolicy.kernel.histogram cimport Histogram

cdef class LockClass:
    cdef public object name, wait_ns_total, wait_ns_max, hold_ns_big, hold_ns_max_big
    cdef public int64_t acquisitions, contentions, con_bounces, acq_bounces, hold_ns_small
    cdef public int64_t hold_ns_max_int64
    cdef public Histogram wait_hist, hold_hist

cdef class Lock:
    cdef public LockClass cls
    cdef public object name, owner, free_at, held_since, waiters, trace
    cdef public int64_t acquisitions
    cdef public Py_ssize_t cpu
    cdef public bint held

    @cython.locals(cls=LockClass, bounce=bint, contended=bint)
    cpdef take(self, object arrived, object acquired, Py_ssize_t cpu, object cost,
               object cost_bounce)
    # `h`: _hold_ns()'s C hold, or -1
    @cython.locals(cls=LockClass, h=int64_t)
    cpdef release(self, object now)

# `trace` is only ever a flag (Simulation's trace_locks: True or False); `cls` the
# class of the new lock, made by LockClass() or found in `classes`
cdef class LockRegistry:
    cdef public dict classes
    cdef public bint trace
    cdef public list locks

    @cython.locals(cls=LockClass, lock=Lock)
    cpdef Lock new_lock(self, object class_name, object name=*)

# (locks.py) the bound of hold_ns_small, the start of hold_ns_max_int64
cdef int64_t INT64_MAX, INT64_MIN

# C integers where they provably fit: `a` and `b` only once time_as_int64()
# says the time fits an int64, and their difference only when 0 <= a <= b
@cython.locals(overflow=cython.int, a=int64_t, b=int64_t)
cdef int64_t _hold_ns(object since, object now) except? -2
