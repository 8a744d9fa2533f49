# Cython declarations for accounting.py, used only when the core is compiled (setup.py):
# the checker's walks over everything that exists (every slab, every cache and its
# nodes, the memcgs of their lineage, every memcg's counter) read their fields as C
# structure members (slub.pxd and memcg.pxd declare them).
# Every value stays a Python object (a memcg's page counters are memcg.pxd's int64), so
# the arithmetic is Python's.
cimport cython

from slabpolicy.kernel.memcg cimport MemCgroup
from slabpolicy.kernel.slub cimport KmemCache, KmemCacheNode, Slab


@cython.locals(cache=KmemCache)
cpdef list moved_caches(list caches, dict counted_memcg)

@cython.locals(memcg=MemCgroup)
cpdef check_memcgs(object memcgs, list released, dict below, dict extra, object record,
                   object now)

@cython.locals(slab=Slab, cache=KmemCache)
cpdef tuple check_slabs(object existing, object record, object now)

@cython.locals(n=KmemCacheNode)
cpdef object count_slabs(KmemCache cache, object record, object now)

@cython.locals(cache=KmemCache, memcg=MemCgroup, m=MemCgroup)
cpdef object count_caches(list caches, object record, object now, dict counted_memcg,
                          dict counted_pages, dict below)

@cython.locals(cache=KmemCache, memcg=MemCgroup, m=MemCgroup)
cpdef object uncount_caches(list caches, dict counted_memcg, dict counted_pages, dict below)
