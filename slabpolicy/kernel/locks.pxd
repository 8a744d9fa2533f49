# Cython declarations for locks.py, used only when the core is compiled (setup.py):
# LockClass and Lock become C types, so that the allocator's lock()/unlock() (slub.pxd)
# call take()/release() and the histograms' record() as C calls.  The fields are
# exactly __slots__ (tests/test_compiled_core.py checks it).  Times and counters stay
# Python objects (a time may be BUSY = 1 << 100; a sum of waits has no bound); `held`
# is a bint because it is only ever True or False (read back as a Python bool).

cimport cython

from slabpolicy.kernel.histogram cimport Histogram

cdef class LockClass:
    cdef public object name, acquisitions, contentions, wait_ns_total, wait_ns_max
    cdef public object hold_ns_total, hold_ns_max, con_bounces, acq_bounces
    cdef public Histogram wait_hist, hold_hist

cdef class Lock:
    cdef public LockClass cls
    cdef public object name, acquisitions, owner, free_at, held_since, cpu, waiters, trace
    cdef public bint held

    @cython.locals(cls=LockClass, bounce=bint)
    cpdef take(self, object arrived, object acquired, object cpu, object cost,
               object cost_bounce)
    @cython.locals(cls=LockClass)
    cpdef release(self, object now)
