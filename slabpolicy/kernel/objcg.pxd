# Cython declarations for objcg.py, used only when the core is compiled (setup.py):
# the object cgroups, the per-cpu object stocks and the accounting that charges every
# accounted object become C types, and the charge path's steps (consume_obj_stock(),
# refill_obj_stock(), drain_obj_stock(), the page uncharge) C calls between them.
# The live bytes of an objcg, the clock ``now`` the charge path carries and what the
# path has ``spent`` stay Python objects (Python's integers, as in slub.pxd): an
# objcg's live objects may fill more slabs than 2**63 bytes, a time may pass 2**63 - 1,
# and so may a sum of cost steps (each up to 2**63 - 1 ns); the clock after a charge
# or an uncharge is made with fast_int's time_add() (slub.pxd).  ``cpu`` indexes the per-cpu
# stocks, so it fits a Py_ssize_t; ``killed`` and ``allow_uncharge`` are only ever True
# or False.  Page counts (an objcg's ``pages``, the accounting's total ``pages``, a
# page charge or uncharge) are C integers: memcg.pxd says why a page count fits an
# int64.  The byte counts of one object, one stock and one objcg's parked bytes are C
# integers, because they provably fit:
#   * an object's size (obj_full_size, the ``size`` of a charge) is its slot plus a
#     pointer, and a slot fits in one slab: at most 2**MAX_PAGE_ORDER (10) pages of at
#     most MAX_PAGE_SIZE (256 KiB, workloads/limits.py) bytes, 2**28 bytes in all (the
#     workload loader refuses a cache SLUB cannot lay out); ``page_size`` is at most
#     2**18;
#   * a stock holds less than one object's size plus a page (a charge refills it only
#     when it held less than the object; a free or an objcg switch leaves at most a
#     page), so ``nr_bytes`` < 2**29;
#   * an objcg's parked bytes are drain remainders, each under a page, at most one per
#     cpu before a stock takes them back: under MAX_CPUS (8192) pages, 2**31 bytes.
# Read from Python, such a field is a Python int of the same value, so every result
# is unchanged.  A class's fields are exactly its __slots__, or what its methods set
# (tests/test_compiled_core.py checks it).
cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.fast_int cimport time_add
from slabpolicy.kernel.memcg cimport MemCgroup, page_counter_charge, page_counter_uncharge
from slabpolicy.kernel.memcg_stock cimport MemcgStock

cdef class ObjCgroup:
    cdef public object id, live_bytes
    cdef public int64_t pages, nr_charged_bytes
    cdef public MemCgroup memcg
    cdef public bint killed

cdef class ObjStock:
    cdef public ObjCgroup cached
    cdef public int64_t nr_bytes

cdef class ObjcgAccounting:
    cdef public int64_t page_size, pages
    cdef public object alloc, memcgs, vector_bytes, vector_pages, c_obj, lock
    cdef public list stocks, all
    cdef public dict by_memcg, lists
    cdef public MemcgStock memcg_stock

    cpdef _uncharge_pages(self, ObjCgroup objcg, Py_ssize_t cpu, int64_t pages, object spent)
    cpdef uncharge_cost(self, ObjCgroup objcg, Py_ssize_t cpu, int64_t pages)
    # an object's ``size`` stays the caller's Python int (the cache's obj_full_size), which
    # is added to the objcg's live bytes as it is: a C integer there was a new Python int
    # per charge and uncharge (callgrind, bench.yaml objcg 300ms: 339.55 M -> 336.50 M;
    # memory-pressure objcg 9600ms: 529.75 M -> 523.97 M); ``nbytes`` is
    # its C copy for the stock's arithmetic
    @cython.locals(stock=ObjStock, memcg=MemCgroup, page_size=int64_t, pages=int64_t,
                   nbytes=int64_t)
    cpdef charge(self, ObjCgroup objcg, Py_ssize_t cpu, object size, object now)
    cpdef uncharge(self, ObjCgroup objcg, Py_ssize_t cpu, object size, object now)
    @cython.locals(stock=ObjStock, stocked=int64_t, pages=int64_t)
    cpdef refill(self, ObjCgroup objcg, Py_ssize_t cpu, int64_t nr_bytes, bint allow_uncharge,
                 object now, object spent)
    @cython.locals(old=ObjCgroup, pages=int64_t, nr_bytes=int64_t)
    cpdef drain(self, ObjStock stock, Py_ssize_t cpu, object now, object spent)
    cpdef slab_created(self, object slab)
    cpdef post_alloc(self, object slab)
    cpdef alloc_vector(self, object slab)
    cpdef free_vector(self, object slab)
    # a loop of C field reads; ``pages`` a Python int, as pages times page_size may
    # pass 2**63 (a page count fits an int64, its bytes may not)
    @cython.locals(objcg=ObjCgroup, stock=ObjStock, pages=object)
    cpdef unaccounted_bytes(self)
