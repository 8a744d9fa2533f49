# Cython declarations for slub.py, used only when the core is compiled (setup.py):
# the classes of the allocation and free paths become C types whose fields are read
# without a dictionary lookup, and the paths' methods (fast and slow, the node lists,
# the lock path, with the turn test of turns.pxd) become cpdef methods with typed
# locals, called as C functions from each other.  A cpdef method stays a Python
# method: a plugin calls it, and a Python subclass may override it, as before.
# The classes with __slots__ (Slab, KmemCacheCpu, KmemCache) have no `__dict__`, as
# in pure Python: a slab or a per-cpu structure costs no dictionary of its own;
# `Allocator` keeps one, so that any other attribute stays settable.
#
# Times stay Python objects (a time may be BUSY = 1 << 100, far past any C integer),
# so their arithmetic is Python's; the paths add a cost step to the op clock with
# fast_int's time_add(), Python's sum made in C where both fit (fast_int.py).
# A field is a C integer only where its value provably fits, said next to it:
#   * counts within one slab or one cpu's lists (inuse, objects, pobj, freelist,
#     pobjects): at most the objects of one slab (geometry.MAX_OBJS_PER_PAGE, 32767)
#     times the slabs on one list, each of which is a Python object in this process;
#   * the slabs on a node list (SlabList.length), each a Python object too: add()
#     and remove() count it in C, where a Python int's += was a call of the addition;
#   * cpus, nodes and the slab's `where` (cpu, node, last_cpu, where, cur_cpu): an
#     index into the machine's cpus or nodes, -1 for none, or one of five constants;
#   * the operation counters (n_alloc_fast, ...) and a cache's SLUB statistics
#     (_stat_count): at most one per operation the event loop runs, and no run makes
#     2**63 of them (centuries at a billion a second).
# Reading such a field from Python gives a Python int of the same value, so every
# result is unchanged.  A field added to a class's __slots__ in slub.py is added here
# too (tests/test_compiled_core.py checks that the two agree).
cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.fast_int cimport time_add, time_lt
from slabpolicy.kernel.histogram cimport Histogram
from slabpolicy.kernel.locks cimport Lock, LockRegistry
from slabpolicy.kernel.turns cimport Turns
from slabpolicy.kernel.memcg_stock cimport MemcgStock
from slabpolicy.kernel.objcg cimport ObjcgAccounting

# enum stat_item of include/linux/slub_def.h (v3.4): the index of a SLUB statistics
# counter, as slub.py's STAT_ITEMS lists them (tests/test_compiled_declarations.py
# checks that the two agree).  Items 15 and 16, DEACTIVATE_TO_HEAD and _TAIL, have no
# constant here: slub.py's names of those are add_partial()'s `tail` flag.
cdef enum stat_item:
    ALLOC_FASTPATH = 0
    ALLOC_SLOWPATH = 1
    FREE_FASTPATH = 2
    FREE_SLOWPATH = 3
    FREE_FROZEN = 4
    FREE_ADD_PARTIAL = 5
    FREE_REMOVE_PARTIAL = 6
    ALLOC_FROM_PARTIAL = 7
    ALLOC_SLAB = 8
    ALLOC_REFILL = 9
    ALLOC_NODE_MISMATCH = 10
    FREE_SLAB = 11
    CPUSLAB_FLUSH = 12
    DEACTIVATE_FULL = 13
    DEACTIVATE_EMPTY = 14
    DEACTIVATE_REMOTE_FREES = 17
    DEACTIVATE_BYPASS = 18
    ORDER_FALLBACK = 19
    CMPXCHG_DOUBLE_CPU_FAIL = 20
    CMPXCHG_DOUBLE_FAIL = 21
    CPU_PARTIAL_ALLOC = 22
    CPU_PARTIAL_FREE = 23
    CPU_PARTIAL_NODE = 24
    CPU_PARTIAL_DRAIN = 25
    NR_SLUB_STAT_ITEMS = 26

# where a slab is (slub.py's NOWHERE ... CPU_PARTIAL, the values of Slab.where): C
# constants that the module also exports as Python ints (cpdef), as the pure core has
cpdef enum:
    NOWHERE = 0
    PARTIAL = 1
    FULL = 2
    CPU_SLAB = 3
    CPU_PARTIAL = 4

cdef class SlabList

cdef class Slab:
    cdef public object cache, frozen, freed, id
    cdef public Py_ssize_t node, objects, inuse, where, cpu, pobj, last_cpu
    cdef public SlabList lru
    cdef public Slab prev, next

cdef class SlabList:
    cdef public Slab head, tail
    cdef public Py_ssize_t length
    cdef public object name

    cpdef add(self, Slab slab, object tail)
    cpdef remove(self, Slab slab)

cdef class KmemCacheCpu:
    cdef public Slab slab
    # partial: a list, or slub.NO_PARTIAL (an empty tuple) while the cpu has none
    cdef public object partial
    cdef public Py_ssize_t freelist, pobjects

cdef class KmemCacheNode:
    cdef public Lock list_lock
    cdef public SlabList partial, full
    cdef public object nr_slabs, total_objects, slabs, node

cdef class KmemCache:
    cdef public list cpu, node
    cdef public object id, name, kind, index, memcg, size, object_size, order, pages, objects
    cdef public object min_partial, _cpu_partial, cpu_partial_slabs, remote_node_defrag_ratio
    cdef public object flags, track_full, free_lock, discard_empty, discard, account
    cdef public object obj_full_size, dead, destroyed, parent_slab, root, policy_data
    cdef int64_t _stat_count[NR_SLUB_STAT_ITEMS]
    cdef public dict _stat_seen
    # allocating: the allocations in its slow path now, at most the operations stopped
    # at once; counted in C (a Python int's += and -= were 2 calls of the addition
    # and 2 ints made per slow allocation)
    cdef public Py_ssize_t allocating
    cdef public object rcu

    cpdef stat(self, object item)

cdef class Allocator:
    cdef dict __dict__
    cdef public list cpu_free_at, cpu_waiters
    cdef public object machine, kinds, memcgs, locks, now, node_of_cpu
    cdef public Turns turns
    cdef public dict costs
    cdef public Py_ssize_t cur_cpu
    cdef public object caches, dead_caches, total_pages, peak_pages
    cdef public int64_t n_alloc_fast, n_alloc_slow, n_free_fast, n_free_slow
    cdef public Histogram h_alloc_slow, h_free_slow, h_alloc_fast_rec, h_free_fast_rec
    cdef public MemcgStock memcg_stock
    cdef public ObjcgAccounting objcgs
    cdef public object dead_cache_free, on_dead_cache_empty, on_violation
    cdef public object retired_stats, pressure, rcu_free_slab, root_caches, era
    cdef public object c_alloc_fast, c_free_fast, c_alloc_slow, c_free_slow, c_cmpxchg
    cdef public object c_lock, c_lock_bounce, c_line_transfer, c_list_op
    cdef public object c_call_rcu, c_rcu_callback, c_object_evict
    cdef public object existing, changed_caches, _min_partial_slack
    cdef public object _next_slab_id, _next_cache_id
    cdef public list _kind_layout
    cdef public bint _counts_slabs
    # operations waiting for a busy cpu: at most the operations stopped at once
    cdef public Py_ssize_t _cpu_waiting

    # -- the lock path
    @cython.locals(turns=Turns)
    cpdef lock(self, Lock lock)
    # the helpers of the lock and free paths that only slub.py calls (_acquire,
    # _must_stop, _slab_free_end, _slab_free_commit) are C methods (cdef): C calls
    # without the check for a Python override a cpdef call makes on a class with a
    # `__dict__`
    @cython.locals(turns=Turns)
    cdef _acquire(self, Lock lock, object arrived, Py_ssize_t cpu)
    @cython.locals(turns=Turns)
    cdef bint _must_stop(self, Py_ssize_t cpu) except -1
    cpdef unlock(self, Lock lock)
    @cython.locals(turns=Turns)
    cpdef wait_for_cpu(self, Py_ssize_t cpu, object t)
    cpdef begin(self, Py_ssize_t cpu, object t)
    cpdef end(self, Py_ssize_t cpu)
    # -- the node lists
    cpdef add_partial(self, KmemCacheNode n, Slab slab, object tail=*)
    cpdef remove_partial(self, KmemCacheNode n, Slab slab)
    cpdef add_full(self, KmemCache s, KmemCacheNode n, Slab slab)
    cpdef remove_full(self, KmemCache s, Slab slab)
    cpdef discards_empty(self, KmemCache s, KmemCacheNode n)
    # -- slab counters and the page allocator
    cpdef inc_slabs_node(self, KmemCache s, Py_ssize_t node, object objects)
    cpdef dec_slabs_node(self, KmemCache s, Py_ssize_t node, object objects)
    @cython.locals(slab=Slab)
    cpdef new_slab(self, KmemCache s, Py_ssize_t node)
    cpdef free_slab(self, KmemCache s, Slab slab, object uncharge=*)
    cpdef free_pages(self, KmemCache s, Slab slab, object uncharge=*)
    cpdef discard_slab(self, KmemCache s, Slab slab)
    # -- the alloc path
    @cython.locals(c=KmemCacheCpu, slab=Slab)
    cpdef slab_alloc(self, KmemCache s, Py_ssize_t cpu, object t, object objcg=*)
    @cython.locals(slab=Slab, hist=Histogram)
    cpdef _slab_alloc_recorded(self, KmemCache s, KmemCacheCpu c, Py_ssize_t cpu, object start,
                               object objcg)
    @cython.locals(slab=Slab, n=KmemCacheNode)
    cpdef _slab_alloc_slow(self, KmemCache s, KmemCacheCpu c, Py_ssize_t cpu)
    @cython.locals(slab=Slab, first=Slab, nxt=Slab)
    cpdef get_partial_node(self, KmemCache s, KmemCacheNode n, KmemCacheCpu c, Py_ssize_t cpu)
    @cython.locals(c=KmemCacheCpu)
    cpdef put_cpu_partial(self, KmemCache s, Slab slab, Py_ssize_t cpu, object drain)
    @cython.locals(slab=Slab, n=KmemCacheNode, held_node=KmemCacheNode, discard=list)
    cpdef unfreeze_partials(self, KmemCache s, KmemCacheCpu c)
    @cython.locals(slab=Slab, n=KmemCacheNode)
    cpdef deactivate_slab(self, KmemCache s, KmemCacheCpu c)
    # -- the free path
    @cython.locals(c=KmemCacheCpu)
    cpdef slab_free(self, KmemCache s, Slab slab, Py_ssize_t cpu, object t, object objcg=*,
                    bint can_defer=*)
    @cython.locals(c=KmemCacheCpu, hist=Histogram, free_lock=Lock, n=KmemCacheNode)
    cpdef _slab_free_recorded(self, KmemCache s, Slab slab, Py_ssize_t cpu, object start,
                              object objcg, bint can_defer, bint in_turn)
    @cython.locals(s=KmemCache, slab=Slab, cpu=Py_ssize_t, n=KmemCacheNode, free_lock=Lock)
    cpdef _slab_free_continue(self, tuple rest, object now)
    cdef _slab_free_end(self, Lock free_lock, Py_ssize_t cpu, object start, Histogram hist)
    @cython.locals(n=KmemCacheNode)
    cpdef slab_free_slowpath(self, KmemCache s, Slab slab, Py_ssize_t cpu, bint can_defer=*)
    @cython.locals(prior=bint)
    cdef _slab_free_commit(self, KmemCache s, Slab slab, Py_ssize_t cpu, KmemCacheNode n)
    # -- after the run
    @cython.locals(s=KmemCache, slab=Slab)
    cpdef dismantle(self)

# stat(s, si) as a module function, as in mm/slub.c: a C call from the paths, which adds
# one to a C array (si is an index below NR_SLUB_STAT_ITEMS: a constant of the enum)
cdef int stat(KmemCache s, Py_ssize_t si) except -1
cpdef _load_freelist(KmemCacheCpu c, Slab slab, Py_ssize_t cpu)
cdef bint _free_takes_list_lock(KmemCache s, Slab slab) except -1
@cython.locals(i=Py_ssize_t)
cdef _remove_cache(list caches, KmemCache s)
# a new cache's per-cpu and per-node structures: counts and indexes of the machine's
# cpus and nodes
@cython.locals(cpu=Py_ssize_t, cpus=list)
cdef list _per_cpu(Py_ssize_t ncpus)
@cython.locals(n=Py_ssize_t, nodes=list)
cdef list _per_node(LockRegistry locks, object name, Py_ssize_t nnodes)
