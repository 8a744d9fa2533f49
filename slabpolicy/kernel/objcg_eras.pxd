# Cython declarations for objcg_eras.py, used only when the core is compiled (setup.py):
# 5.9's accounting is a C subclass of the 6.x one (objcg.pxd), its era's steps C
# overrides of the same methods (objcg.pxd says why its byte counts fit C integers).
cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.objcg cimport ObjCgroup, ObjcgAccounting, ObjStock

cdef class ObjcgAccounting59(ObjcgAccounting):
    cpdef uncharge_cost(self, ObjCgroup objcg, Py_ssize_t cpu, int64_t pages)
    @cython.locals(stock=ObjStock)
    cpdef refill(self, ObjCgroup objcg, Py_ssize_t cpu, int64_t nr_bytes, bint allow_uncharge,
                 object now, object spent)
    cpdef slab_created(self, object slab)
