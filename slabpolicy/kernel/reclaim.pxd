# Cython declarations for reclaim.py, used only when the core is compiled (setup.py):
# the per-object paths (an object going unused onto its list_lru, its expiry, its
# eviction) read their fields as C structure members and call list_lru.pxd's and
# rcu.pxd's methods as C functions, and add a cost to the op clock with fast_int's
# time_add(); an expiry is compared with the run's end by fast_int's time_lt().  Every
# value stays a Python object but the cpu of an event (an index) and the count of
# expired objects, said next to them; `__dict__` keeps any other attribute settable,
# as on the pure-Python class.  Reclaim is final
# (nothing subclasses it): its cpdef methods are then called without the lookup of an
# override on the instance that a class with a `__dict__` makes.
cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.event_queue cimport EventQueue
from slabpolicy.kernel.fast_int cimport time_add, time_lt
from slabpolicy.kernel.list_lru cimport ListLru, LruItem, charged_memcg
from slabpolicy.kernel.rcu cimport Rcu
from slabpolicy.kernel.slub cimport Allocator, KmemCache, Slab


@cython.final
cdef class Reclaim:
    cdef dict __dict__
    cdef public Allocator slub
    cdef public Rcu rcu
    cdef public dict lrus
    cdef public list lru_of_kind
    cdef public object sim, vfs_cache_pressure, small_cache_pressure, memcg_aware
    cdef public object memory_pages, wmark, kswapd_cpu, kswapd_active, kswapd_failures
    cdef public object scanned, freed, slabs_scanned, drained, pages, time_ns
    # the objects expired: one per EXPIRE event at most, and no run handles 2**63 events
    cdef public int64_t expired
    cdef public object kswapd_runs, stalls, events, end_ns
    cdef public EventQueue queue

    # kind: a cache kind's index, below the workload's number of kinds
    # cpu: an index below the machine's cpu count, as in slub.pxd
    @cython.locals(slub=Allocator, lru=ListLru, kind=Py_ssize_t)
    cpdef unused_event(self, object t, LruItem item, object unused_life, Py_ssize_t cpu)
    @cython.locals(slub=Allocator, lru=ListLru, kind=Py_ssize_t)
    cpdef _expire_event(self, object t, LruItem item, Py_ssize_t cpu)
    @cython.locals(slub=Allocator)
    cpdef _evict(self, LruItem item, Py_ssize_t cpu, object t)
