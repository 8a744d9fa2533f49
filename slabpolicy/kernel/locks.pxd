# Cython declarations for locks.py, used only when the core is compiled (setup.py):
# LockClass and Lock become C types, so that the allocator's lock()/unlock() (slub.pxd)
# call take()/release() and the histograms' record() as C calls.  The fields are
# exactly __slots__ (tests/test_compiled_core.py checks it).  Times and sums of times
# stay Python objects (a time may be BUSY = 1 << 100; a sum of waits has no bound).  C
# integers only where the value provably fits: `held` is only ever True or False (read
# back as a Python bool); `cpu` is a cpu index or -1; the counts of acquisitions,
# contentions and bounces are at most one per lock operation the event loop runs, and
# no run makes 2**63 of them (centuries at a billion a second).

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_FromLongLong
from libc.stdint cimport int64_t

from slabpolicy.kernel.histogram cimport Histogram

cdef class LockClass:
    cdef public object name, wait_ns_total, wait_ns_max, hold_ns_total, hold_ns_max
    cdef public int64_t acquisitions, contentions, con_bounces, acq_bounces
    cdef public Histogram wait_hist, hold_hist

cdef class Lock:
    cdef public LockClass cls
    cdef public object name, owner, free_at, held_since, waiters, trace
    cdef public int64_t acquisitions
    cdef public Py_ssize_t cpu
    cdef public bint held

    @cython.locals(cls=LockClass, bounce=bint)
    cpdef take(self, object arrived, object acquired, Py_ssize_t cpu, object cost,
               object cost_bounce)
    @cython.locals(cls=LockClass)
    cpdef release(self, object now)

# C integers where they provably fit: `a` and `b` only once PyLong_AsLongLongAndOverflow()
# says the time fits an int64, and their difference only when both are >= 0
@cython.locals(overflow=cython.int, a=int64_t, b=int64_t)
cdef object _elapsed(object since, object now)
