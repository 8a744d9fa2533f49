# Cython declarations for list_lru.py, used only when the core is compiled (setup.py):
# an unused object's item is a C structure (the list it is on a dict), and
# list_lru_add()/list_lru_del() and charged_memcg() read their fields as C structure
# members.  Every value stays a Python object.
# LruItem declares exactly its __slots__; ListLru keeps a `__dict__`, as the
# pure-Python class has.
cimport cython

from slabpolicy.kernel.locks cimport Lock
from slabpolicy.kernel.memcg cimport MemCgroup
from slabpolicy.kernel.slub cimport Allocator, Slab


cdef class LruItem:
    cdef public object cache, slab, objcg, node, since, freed
    cdef public dict lru

cpdef object charged_memcg(LruItem item)
@cython.locals(item=LruItem)
cpdef LruItem lru_item(object cache, Slab slab, object objcg, object since)

@cython.final
cdef class ListLru:
    cdef dict __dict__
    cdef public Allocator slub
    cdef public dict lists
    cdef public list locks
    cdef public object name, memcg_aware, nr_items

    @cython.locals(lists=list)
    cpdef list_one(self, MemCgroup memcg, Py_ssize_t node)
    @cython.locals(slub=Allocator, lst=dict, lists=list, lock=Lock)
    cpdef add(self, LruItem item, MemCgroup memcg)
    @cython.locals(slub=Allocator, lock=Lock)
    cpdef delete(self, LruItem item)
