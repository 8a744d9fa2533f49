# Cython declarations for memcg.py, used only when the core is compiled (setup.py):
# MemCgroup becomes a C type, so that the page counter walks of the charge paths
# (objcg's above all) read and write its counters without a dictionary lookup.  The
# fields are exactly MemCgroup's __slots__ (tests/test_compiled_core.py checks it).
#
# The page counters (``usage``, ``max_usage``) are C integers, because a page count
# provably fits an int64.  Every page counted is a page of a slab this process holds
# (at most 2**MAX_PAGE_ORDER = 2**10 pages a slab), or a page charged through an object
# cgroup (kernel/objcg.py), whose pages hold exactly the bytes of its live objects, of
# the per-cpu stocks and of its parked remainders.  A slab's live objects charge at
# most twice its bytes (each object's slot, of at least 8 bytes, plus an 8-byte
# pointer): 2**11 pages a slab.  An objcg parks under a page per cpu: 2**13 pages for
# MAX_CPUS = 2**13 cpus.  The stocks hold under 2**29 bytes a cpu: 2**32 pages of at
# least 1 KiB in all.  A slab takes 144 bytes of this process (128 and the garbage
# collector's header), an objcg 80: under 103 counted pages per byte either way, in a
# user address space of at most 2**56 bytes (x86-64 with 5-level paging; arm64 has
# 2**52).  So a count stays under 103 * 2**56 + 2**32 < 2**63.  Read from Python such
# a field is a Python int of the same value, so every result is unchanged.  Every
# other field stays a Python object.
cimport cython
from libc.stdint cimport int64_t

cdef class MemCgroup:
    cdef public object id, name, parent, children, state, refs, caches
    cdef public int64_t usage, max_usage
    cdef public tuple lineage
    cdef public object nr_dying_descendants, group, online_ns, rmdir_ns, offline_ns
    cdef public object released_ns, policy_data, high, max

# ``memcg`` a MemCgroup, so that its ``lineage`` is read as a C field; ``pages`` a page
# count (above)
@cython.locals(m=MemCgroup)
cpdef page_counter_charge(MemCgroup memcg, int64_t pages)
@cython.locals(m=MemCgroup)
cpdef page_counter_uncharge(MemCgroup memcg, int64_t pages)
