"""leave-in-place: the seed's "simple option": leave the dead cache around.

"The simple option is to simply leave the cache around. However, intensive
workloads may have generated a lot of objects and thus the dead cache will live
in memory for a long while." (the seed patch's cover text)

Nothing moves at offline.  The dead cache keeps its slabs, its cpu slabs and cpu
partial lists included; frees into it follow the normal SLUB rules (a slab is
discarded only when it empties while more than min_partial slabs sit on the node
partial list); when the last slab goes (discard_slab()), the cache is destroyed
and drops its reference on the memcg, which is then released.

Option ``shrink`` is what mainline did from about 4.0 to 5.8
(memcg_deactivate_kmem_caches(), "slub: make dead caches discard free slabs
immediately", Vladimir Davydov, 2015): at offline flush the dead cache's cpu
slabs, shrink it (kmem_cache_shrink()), and treat min_partial and cpu_partial as
0 for it, so that an empty slab goes at once.
"""
from __future__ import annotations

from slabpolicy import Option, PolicySpec, hookimpl

VERSION = "1.0"


class LeaveInPlace:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.shrink = options["shrink"]

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """mem_cgroup_css_offline(): with ``shrink``, memcg_deactivate_kmem_caches()."""
        slub = sim.slub
        for cache in list(memcg.caches.values()):
            if cache.memcg is not memcg or cache.destroyed:
                continue
            if self.shrink:
                # __kmemcg_cache_deactivate(): s->cpu_partial = 0; s->min_partial = 0,
                # with 4.0's ">= min_partial" tests, so no empty slab is kept
                cache.cpu_partial = 0
                cache.min_partial = 0
                cache.discard_empty = True
                slub.kmem_cache_shrink(cache)
            if not cache.nr_slabs and not cache.destroyed:
                slub.kmem_cache_destroy(cache)

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        """The last slab of a dead cache went: destroy it, releasing the memcg."""
        if not cache.destroyed:
            sim.slub.kmem_cache_destroy(cache)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="leave-in-place",
        version=VERSION,
        description="the seed's simple option: dead caches stay until their last slab goes",
        factory=LeaveInPlace,
        options=(Option("shrink", "bool", False,
                        "at offline flush and shrink the dead cache and treat its "
                        "min_partial and cpu_partial as 0 (Linux 4.0-5.8)"),),
    )]
