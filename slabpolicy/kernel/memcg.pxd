# Cython declarations for memcg.py, used only when the core is compiled (setup.py):
# MemCgroup becomes a C type, so that the page counter walks of the charge paths
# (objcg's above all) read and write its counters without a dictionary lookup.  Every
# field stays a Python object, as in slub.pxd: page counts are Python's integers.  The
# fields are exactly MemCgroup's __slots__ (tests/test_compiled_core.py checks it).
cimport cython

cdef class MemCgroup:
    cdef public object id, name, parent, children, state, usage, max_usage, refs, caches
    cdef public tuple lineage
    cdef public object nr_dying_descendants, group, online_ns, rmdir_ns, offline_ns
    cdef public object released_ns, policy_data, high, max

# ``memcg`` a MemCgroup, so that its ``lineage`` is read as a C field
@cython.locals(m=MemCgroup)
cpdef page_counter_charge(MemCgroup memcg, object pages)
@cython.locals(m=MemCgroup)
cpdef page_counter_uncharge(MemCgroup memcg, object pages)
