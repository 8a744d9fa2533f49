# Cython declarations for accounting.py, used only when the core is compiled (setup.py):
# the checker's walks over everything that exists (every slab, every cache and its
# nodes) read their fields as C structure members (slub.pxd declares them).
# Every value stays a Python object, so the arithmetic is Python's.
cimport cython

from slabpolicy.kernel.slub cimport KmemCache, KmemCacheNode, Slab


@cython.locals(cache=KmemCache)
cpdef list moved_caches(list caches, dict counted_memcg)

@cython.locals(slab=Slab, cache=KmemCache)
cpdef tuple check_slabs(object existing, object record, object now)

@cython.locals(n=KmemCacheNode)
cpdef object count_slabs(KmemCache cache, object record, object now)
