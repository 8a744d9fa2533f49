# Cython declarations for slub.py, used only when the core is compiled (setup.py):
# the classes of the allocation and free fast paths become C types whose fields are
# read without a dictionary lookup.  Every field stays a Python object (a time may be
# BUSY = 1 << 100, far past any C integer), so the arithmetic is Python's; `__dict__`
# keeps any other attribute settable, as on the pure-Python classes.  A field added
# to a class's __slots__ in slub.py is added here too (tests/test_compiled_core.py
# checks that the two agree).
cimport cython

cdef class Slab:
    cdef dict __dict__
    cdef public object cache, node, objects, inuse, frozen, where, cpu, pobj, lru, prev, next
    cdef public object freed, id, last_cpu

cdef class KmemCacheCpu:
    cdef dict __dict__
    cdef public object slab, freelist, partial, pobjects

cdef class KmemCache:
    cdef dict __dict__
    cdef public list cpu, node
    cdef public object id, name, kind, index, memcg, size, object_size, order, pages, objects
    cdef public object min_partial, _cpu_partial, cpu_partial_slabs, remote_node_defrag_ratio
    cdef public object flags, track_full, free_lock, discard_empty, discard, account
    cdef public object obj_full_size, dead, destroyed, parent_slab, root, stats, policy_data
    cdef public object allocating, rcu

cdef class Allocator:
    cdef dict __dict__
    cdef public list cpu_free_at, cpu_waiters
    cdef public object machine, kinds, memcgs, locks, costs, now, cur_cpu, turns, node_of_cpu
    cdef public object caches, dead_caches, total_pages, peak_pages
    cdef public object n_alloc_fast, n_alloc_slow, n_free_fast, n_free_slow
    cdef public object h_alloc_slow, h_free_slow, h_alloc_fast_rec, h_free_fast_rec
    cdef public object memcg_stock, objcgs, dead_cache_free, on_dead_cache_empty, on_violation
    cdef public object retired_stats, pressure, rcu_free_slab, root_caches, era
    cdef public object c_alloc_fast, c_free_fast, c_alloc_slow, c_free_slow, c_cmpxchg
    cdef public object c_lock, c_lock_bounce, c_line_transfer, c_list_op

    @cython.locals(c=KmemCacheCpu, slab=Slab)
    cpdef slab_alloc(self, KmemCache s, Py_ssize_t cpu, object t, object objcg=*)
    @cython.locals(slab=Slab)
    cpdef _slab_alloc_recorded(self, KmemCache s, KmemCacheCpu c, Py_ssize_t cpu, object start,
                               object objcg)
    @cython.locals(c=KmemCacheCpu)
    cpdef slab_free(self, KmemCache s, Slab slab, Py_ssize_t cpu, object t, object objcg=*)
    @cython.locals(c=KmemCacheCpu)
    cpdef _slab_free_recorded(self, KmemCache s, Slab slab, Py_ssize_t cpu, object start,
                              object objcg)
