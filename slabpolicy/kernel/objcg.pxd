# Cython declarations for objcg.py, used only when the core is compiled (setup.py):
# the object cgroups, the per-cpu object stocks and the accounting that charges every
# accounted object become C types, and the charge path's steps (consume_obj_stock(),
# refill_obj_stock(), drain_obj_stock(), the page uncharge) C calls between them.
# Byte and page counts stay Python objects (Python's integers, as in slub.pxd); ``cpu``
# indexes the per-cpu stocks, so it fits a Py_ssize_t; ``killed`` and
# ``allow_uncharge`` are only ever True or False.  A class's fields are exactly its
# __slots__, or what its methods set (tests/test_compiled_core.py checks it).
cimport cython
from slabpolicy.kernel.memcg cimport MemCgroup
from slabpolicy.kernel.memcg_stock cimport MemcgStock

cdef class ObjCgroup:
    cdef public object id, nr_charged_bytes, live_bytes, pages
    cdef public MemCgroup memcg
    cdef public bint killed

cdef class ObjStock:
    cdef public ObjCgroup cached
    cdef public object nr_bytes

cdef class ObjcgAccounting:
    cdef public object alloc, memcgs, page_size, pages, vector_bytes, vector_pages, c_obj, lock
    cdef public list stocks, all
    cdef public dict by_memcg, lists, vectors
    cdef public MemcgStock memcg_stock

    cpdef _uncharge_pages(self, ObjCgroup objcg, object pages)
    cpdef uncharge_cost(self, ObjCgroup objcg, object pages)
    @cython.locals(stock=ObjStock, memcg=MemCgroup)
    cpdef charge(self, ObjCgroup objcg, Py_ssize_t cpu, object size)
    cpdef uncharge(self, ObjCgroup objcg, Py_ssize_t cpu, object size)
    @cython.locals(stock=ObjStock)
    cpdef refill(self, ObjCgroup objcg, Py_ssize_t cpu, object nr_bytes, bint allow_uncharge)
    @cython.locals(old=ObjCgroup)
    cpdef drain(self, ObjStock stock)
    cpdef slab_created(self, object slab)
    cpdef post_alloc(self, object slab)
    cpdef alloc_vector(self, object slab)
    cpdef free_vector(self, object slab)
