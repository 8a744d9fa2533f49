# Cython declarations for histogram.py, used only when the core is compiled (setup.py):
# Histogram becomes a C type, so that record() (on every recorded operation and every
# lock hold) is a C call from the typed callers (locks.pxd, slub.pxd), and the counts
# of the values below 2048 ns a C array indexed by the value.  A count is a C integer:
# it is at most the observations recorded, one per operation or lock hold the event
# loop runs, or an operation count (runs/runner.py's fast paths), and no run makes
# 2**63 of them (centuries at a billion a second).  A value is a Python int of any
# size: record() makes it a C int64 (fast_int.pxd) only where it fits one, and
# compares it with `max_int64`, the largest of those (or INT64_MIN, below every one);
# any other value is compared with `max_big`, a Python object.  The fields are exactly
# __slots__ (tests/test_compiled_declarations.py).

cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.fast_int cimport time_as_int64

# the values counted exactly (histogram.py): a C constant, so that record_int64()
# compares in C; `exact` below is an array of that length
cdef Py_ssize_t EXACT_BELOW
cdef int64_t INT64_MIN

cdef class Histogram:
    cdef int64_t exact[2048]       # EXACT_BELOW: histogram.py makes it a list of that length
    cdef public dict rest
    cdef public int64_t count, max_int64
    cdef public object max_big

    # `v` is a C integer only once time_as_int64() says the value fits an int64
    @cython.locals(overflow=cython.int, v=int64_t)
    cpdef record(self, object value, int64_t n=*)
    # `a` and `b` are C integers only once time_as_int64() says each time fits an
    # int64; both are then >= 0, so that b - a fits one too
    @cython.locals(overflow=cython.int, a=int64_t, b=int64_t)
    cpdef record_span(self, object start, object end)
    # `v`: a value as a C int64 (record(), record_span(), locks.pxd's release())
    cdef record_int64(self, int64_t v, int64_t n)
    cdef _record_rest(self, object value, int64_t n)
