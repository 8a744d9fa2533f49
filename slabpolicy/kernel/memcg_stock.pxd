# Cython declarations for memcg_stock.py, used only when the core is compiled
# (setup.py): the per-cpu memcg stock becomes a C type whose charge() and uncharge()
# the objcg and SLUB charge paths call directly.  ``cpu`` indexes the per-cpu lists, so
# it fits a Py_ssize_t; the counts and costs stay Python objects.  The fields are
# exactly MemcgStock's __slots__ (tests/test_compiled_core.py checks it).

cdef class MemcgStock:
    cdef public list cached, nr_pages
    cdef public object c_stock, c_counter, batch

    cpdef charge(self, object memcg, Py_ssize_t cpu, object pages)
    cpdef uncharge(self, object memcg, Py_ssize_t cpu, object pages)
