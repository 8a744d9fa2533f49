# Cython declarations for list_lru.py, used only when the core is compiled (setup.py):
# an unused object's item is a C structure (its cache and slab C types, the list it is
# on and its neighbours there C types too), made by lru_item() as a C allocation;
# list_lru_add()/list_lru_del() link and unlink it with C stores, and charged_memcg()
# reads its fields as C structure members (an objcg's memcg too: on the objcg policy the
# attribute lookup of `item.objcg.memcg` was about 6.5 M of memory-pressure's 829 M
# instructions at 12.8 s).  LruItem is final and keeps a freelist (list_lru.py).
# Every other value stays a Python object, but the counts of items (nr_items), at most
# the objects that exist in this process.
# LruItem and ListLruOne declare exactly their __slots__; ListLru keeps a `__dict__`, as
# the pure-Python class has.  ListLru and ListLruOne are final (nothing subclasses
# them), so that calls of their cpdef methods skip the lookup of an override on the
# instance, which a class with a `__dict__` otherwise makes at each call whenever two
# lists alternate.
cimport cython

from slabpolicy.kernel.fast_int cimport time_add
from slabpolicy.kernel.locks cimport Lock
from slabpolicy.kernel.memcg cimport MemCgroup
from slabpolicy.kernel.objcg cimport ObjCgroup
from slabpolicy.kernel.slub cimport Allocator, KmemCache, Slab


cdef class ListLruOne

@cython.final
cdef class LruItem:
    cdef public KmemCache cache
    cdef public Slab slab
    # a node index, as Slab.node (slub.pxd)
    cdef public Py_ssize_t node
    cdef public object objcg, since, freed
    cdef public ListLruOne lru
    cdef public LruItem prev, next

@cython.final
cdef class ListLruOne:
    cdef public LruItem head, tail
    cdef public Py_ssize_t nr_items

    @cython.locals(tail=LruItem)
    cpdef add_tail(self, LruItem item)
    @cython.locals(prev=LruItem, nxt=LruItem)
    cpdef remove(self, LruItem item)
    @cython.locals(item=LruItem)
    cpdef splice_init(self, ListLruOne dst)

@cython.locals(cache=KmemCache, objcg=ObjCgroup)
cpdef MemCgroup charged_memcg(LruItem item)
@cython.locals(item=LruItem)
cpdef LruItem lru_item(KmemCache cache, Slab slab, object objcg, object since)

@cython.final
cdef class ListLru:
    cdef dict __dict__
    cdef public Allocator slub
    cdef public dict lists
    cdef public list lists_by_id
    cdef public list locks
    cdef public object name
    # memcg_aware: a bool the constructor is given (spec.py's memcg_aware_lru)
    cdef public bint memcg_aware
    cdef public Py_ssize_t nr_items

    @cython.locals(lists=list)
    cpdef list_one(self, MemCgroup memcg, Py_ssize_t node)
    @cython.locals(lists=list, by_id=list)
    cpdef list memcg_lists(self, MemCgroup memcg)
    # mid: a memcg's id, below the number of memcgs created in this process (each a
    # Python object), which indexes lists_by_id
    @cython.locals(slub=Allocator, lst=ListLruOne, lock=Lock, node=Py_ssize_t, lists=list,
                   by_id=list, owner=MemCgroup, mid=Py_ssize_t)
    cpdef add(self, LruItem item, MemCgroup memcg)
    @cython.locals(slub=Allocator, lock=Lock, lst=ListLruOne, removed=bint)
    cpdef bint delete(self, LruItem item) except -1
