# Cython declarations for histogram.py, used only when the core is compiled (setup.py):
# Histogram becomes a C type, so that record() (on every recorded operation and every
# lock hold) is a C call from the typed callers (locks.pxd, slub.pxd).  The fields stay
# Python objects: a latency is a Python int of any size, and the counts may grow past
# any C integer in principle.  The fields are exactly __slots__ (tests/test_compiled_core.py).

cdef class Histogram:
    cdef public dict counts
    cdef public object count, max

    cpdef record(self, object value, object n=*)
