"""leave-in-place: the dead cache stays until its last slab goes, era by era.

"The simple option is to simply leave the cache around. However, intensive
workloads may have generated a lot of objects and thus the dead cache will live
in memory for a long while." (the seed patch's cover text)

Nothing moves at offline: the dead cache keeps its slabs, frees into it follow
SLUB's rules, and when its last slab goes it is destroyed by a work item
(:func:`~slabpolicy.kernel.memcg_kmem.queue_cache_destroy`), which drops its
reference on the memcg, which is then released.  Option ``era`` picks what the
offline does to the dead cache, one mainline behaviour each:

``none``
    The seed's simple option: nothing at all.  The empty slabs a dead cache
    keeps (its cpu slabs, cpu partial lists, min_partial slabs) pin it and its
    memcg until memory pressure shrinks it.  The cache is destroyed by a work
    item once empty (schedule_work(), as 3.8's mem_cgroup_destroy_cache()).
``4.0`` (Linux 4.0-4.6)
    d6e0b7fa1186 (Vladimir Davydov, "slub: make dead caches discard free slabs
    immediately"): mem_cgroup_css_offline() -> memcg_deactivate_kmem_caches()
    -> for each cache __kmem_cache_shrink(s, deactivate=true):
    ``cpu_partial = min_partial = 0``, kick_all_cpus_sync(), flush_all(), and
    the empty slabs discarded, the others sorted by fullness.  All of it on the
    offline work, cache after cache.
``4.7`` (Linux 4.7-4.10)
    81ae6d03952c ("mm/slub.c: replace kick_all_cpus_sync() with
    synchronize_sched() in kmem_cache_shrink()", in v4.7-rc1): the same, but a
    synchronous synchronize_sched() per dead cache, so the offline work takes
    about (caches x a grace period).
``4.11`` (Linux 4.11-5.2)
    01fb58bcba63 (Tejun Heo, "slab: remove synchronous synchronize_sched() from
    memcg cache deactivation path"): __kmemcg_cache_deactivate() sets
    ``cpu_partial = min_partial = 0`` and slab_deactivate_memcg_cache_rcu_sched()
    queues the shrink (kmemcg_cache_deact_after_rcu() -> __kmem_cache_shrink())
    for a kworker after a sched-RCU grace period: off the offline path.

From 4.0 on the dead cache is destroyed with its memcg (css_free(), an RCU
callback after the last reference): a grace period after its last slab goes.
What 5.3-5.8 did is the policy ``reparent``; 5.9 and later, ``objcg``.
"""
from __future__ import annotations

from slabpolicy import Option, PolicySpec, hookimpl
from slabpolicy.kernel.memcg_kmem import (kick_all_cpus_sync, kmemcg_cache_deactivate,
                                          queue_cache_destroy)

VERSION = "2.0"
ERAS = ("none", "4.0", "4.7", "4.11")

#: the kernel each era models: the result document's ``policy.kernel``
KERNEL = {
    "none": "none: the seed's simple option (Glauber Costa, chained slab caches RFC, 2012), "
            "nothing done at offline",
    "4.0": "Linux 4.0-4.6: __kmem_cache_shrink(s, deactivate) with kick_all_cpus_sync(), "
           "d6e0b7fa1186",
    "4.7": "Linux 4.7-4.10: __kmem_cache_shrink(s, deactivate) with synchronize_sched(), "
           "81ae6d03952c",
    "4.11": "Linux 4.11-5.2: __kmemcg_cache_deactivate(), shrink after a sched-RCU grace "
            "period on a kworker, 01fb58bcba63",
}


class LeaveInPlace:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.era = options["era"]

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """mem_cgroup_css_offline(): memcg_deactivate_kmem_caches() of the era."""
        caches = [c for _, c in sorted(memcg.caches.items())
                  if c.memcg is memcg and not c.destroyed]
        if self.era == "4.7":
            return self.deactivate_synchronously(sim, caches)
        for cache in caches:
            if self.era == "4.0":
                kmemcg_cache_deactivate(cache)
                kick_all_cpus_sync(sim.slub)
                sim.slub.kmem_cache_shrink(cache)
            elif self.era == "4.11":
                kmemcg_cache_deactivate(cache)
                sim.schedule(sim.slub.costs["rcu_grace_period"],
                             lambda cache=cache: self.deactivate_after_rcu(sim, cache))
            self.destroy_if_empty(sim, cache)
        return None

    def deactivate_synchronously(self, sim, caches):
        """4.7-4.10: __kmem_cache_shrink(s, true) cache after cache, each waiting for
        synchronize_sched() before it flushes and shrinks."""
        for cache in caches:
            kmemcg_cache_deactivate(cache)
            yield sim.synchronize_rcu()
            if not cache.destroyed:
                sim.slub.kmem_cache_shrink(cache)
            self.destroy_if_empty(sim, cache)

    def deactivate_after_rcu(self, sim, cache) -> None:
        """4.11-5.2 kmemcg_cache_deact_after_rcu(): __kmem_cache_shrink() on a kworker."""
        if not cache.destroyed:
            sim.slub.kmem_cache_shrink(cache)
            self.destroy_if_empty(sim, cache)

    def destroy_if_empty(self, sim, cache) -> None:
        if not cache.destroyed and not cache.nr_slabs:
            queue_cache_destroy(sim, cache, self.destroy_delay(sim))

    def destroy_delay(self, sim) -> int:
        """schedule_work() for the seed; css_free() after a grace period from 4.0."""
        return 0 if self.era == "none" else sim.slub.costs["rcu_grace_period"]

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        """The last slab of a dead cache went: destroy it from a work item."""
        self.destroy_if_empty(sim, cache)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="leave-in-place",
        version=VERSION,
        description="dead caches stay until their last slab goes; era none (the seed's "
                    "simple option), 4.0 (4.0-4.6, d6e0b7fa1186), 4.7 (4.7-4.10, "
                    "81ae6d03952c) or 4.11 (4.11-5.2, 01fb58bcba63)",
        factory=LeaveInPlace,
        options=(Option("era", "str", "none",
                        "what the offline does to the dead cache: none (the seed's simple "
                        "option); 4.0: shrink with kick_all_cpus_sync(); 4.7: shrink after "
                        "synchronize_sched() per cache; 4.11: shrink on a kworker after a "
                        "grace period", choices=ERAS),),
        kernel=lambda options: KERNEL[options["era"]],
    )]
