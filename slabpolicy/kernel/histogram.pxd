# Cython declarations for histogram.py, used only when the core is compiled (setup.py):
# Histogram becomes a C type, so that record() (on every recorded operation and every
# lock hold) is a C call from the typed callers (locks.pxd, slub.pxd), and the counts
# of the values below 2048 ns a C array indexed by the value.  A count is a C integer:
# it is at most the observations recorded, one per operation or lock hold the event
# loop runs, or an operation count (runs/runner.py's fast paths), and no run makes
# 2**63 of them (centuries at a billion a second).  A value and ``max`` stay Python
# objects: a latency is a Python int of any size.  The fields are exactly __slots__
# (tests/test_compiled_declarations.py).

cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport int64_t

# the values counted exactly (histogram.py): a C constant, so that _exact_slot()
# compares in C; `exact` below is an array of that length
cdef Py_ssize_t EXACT_BELOW

cdef class Histogram:
    cdef int64_t exact[2048]       # EXACT_BELOW: histogram.py makes it a list of that length
    cdef public dict rest
    cdef public int64_t count
    cdef public object max

    cpdef record(self, object value, int64_t n=*)
    # `v`: the value as a C integer >= 0 (locks.pxd's release())
    cdef record_held(self, object value, int64_t v)

# `v` is a C integer only once PyLong_AsLongLongAndOverflow() says the value fits one
@cython.locals(overflow=cython.int, v=int64_t)
cdef Py_ssize_t _exact_slot(object value) except? -2
