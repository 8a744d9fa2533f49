# Cython declarations for memcg_stock.py, used only when the core is compiled
# (setup.py): the per-cpu memcg stock becomes a C type whose charge() and uncharge()
# the objcg and SLUB charge paths call directly.  ``cpu`` indexes the per-cpu lists, so
# it fits a Py_ssize_t; ``pages``, ``held`` and ``stocked`` are page counts and
# ``batch`` is MEMCG_CHARGE_BATCH (32 or 64): C integers, as memcg.pxd says a page
# count fits an int64.  The lists of each cpu's memcg and pages, and the costs, stay
# Python objects.  The fields are exactly MemcgStock's __slots__
# (tests/test_compiled_core.py checks it).
cimport cython
from libc.stdint cimport int64_t

cdef class MemcgStock:
    cdef public list cached, nr_pages
    cdef public object c_stock, c_counter
    cdef public int64_t batch

    @cython.locals(left=int64_t)
    cpdef charge(self, object memcg, Py_ssize_t cpu, int64_t pages)
    @cython.locals(held=int64_t, stocked=int64_t)
    cpdef uncharge(self, object memcg, Py_ssize_t cpu, int64_t pages)
