# Cython declarations for accounting.py, used only when the core is compiled (setup.py):
# the checker's walks over everything that exists (every slab, every cache and its
# nodes, every objcg, the memcgs of their lineage) read their fields as C structure
# members (slub.pxd, objcg.pxd and memcg.pxd declare them).
# Every value stays a Python object, so the arithmetic is Python's (a page count read
# from a C field becomes one: memcg.pxd).
cimport cython
from libc.stdint cimport int64_t

from slabpolicy.kernel.memcg cimport MemCgroup
from slabpolicy.kernel.objcg cimport ObjCgroup
from slabpolicy.kernel.slub cimport KmemCache, KmemCacheNode, Slab


# ``objects`` counts live objects, one per allocation at most: it fits a Py_ssize_t as
# slub.pxd's operation counters do; ``inuse`` is a slab's (slub.pxd); ``size`` an object
# size, under MAX_SIZE = 2**40 in every checked workload (a larger Python int up to
# 2**63 is added in Python, past that its conversion raises); ``pending`` the bytes
# summed since the last flush, under 2**63 (accounting.py says why); ``where`` and the
# places compared with it, a slab's ``where`` (slub.pxd).  ``existing`` a dict, so that
# the loop walks it with PyDict_Next.
@cython.locals(slab=Slab, cache=KmemCache, objects=Py_ssize_t, inuse=Py_ssize_t,
               size=int64_t, pending=int64_t, flush=int64_t, max_size=int64_t,
               where=Py_ssize_t, partial=Py_ssize_t, cpu_slab=Py_ssize_t,
               cpu_partial=Py_ssize_t, nowhere=Py_ssize_t, key=tuple)
cpdef tuple check_slabs(dict existing, object record, object now, dict seen)

@cython.locals(n=KmemCacheNode)
cpdef object count_slabs(KmemCache cache, object record, object now)

@cython.locals(cache=KmemCache, memcg=MemCgroup, old_memcg=MemCgroup)
cpdef object recount_caches(list caches, object record, object now, dict counted_memcg,
                            dict counted_pages, dict below)

@cython.locals(cache=KmemCache, memcg=MemCgroup)
cpdef object uncount_caches(list caches, dict counted_memcg, dict counted_pages, dict below)

@cython.locals(m=MemCgroup)
cpdef move_below(MemCgroup memcg, object pages, dict below)

@cython.locals(objcg=ObjCgroup, m=MemCgroup)
cpdef count_objcgs(list objcgs, dict extra)

@cython.locals(memcg=MemCgroup)
cpdef check_memcg_counters(object memcgs, dict below, dict extra, object record, object now)
