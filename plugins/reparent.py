"""reparent: Linux 5.3-5.8, a dead memcg's kmem caches are handed to its parent.

fb2f2b0adb98 (Roman Gushchin, "mm: memcg/slab: reparent memcg kmem_caches on
cgroup removal", v5.3): "Let's reparent non-root kmem_caches on memcg
offlining. This allows us to release the memory cgroup without waiting for the
last outstanding kernel object (e.g. dentry used by another application)."

At offline (memcg_offline_kmem() -> memcg_deactivate_kmem_caches(memcg,
parent)), for each of the memcg's caches:

* kmemcg_cache_deactivate(): ``cpu_partial = min_partial = 0`` at once
  (__kmemcg_cache_deactivate()), and after a grace period a kworker shrinks the
  cache (kmemcg_cache_deactivate_after_rcu() -> __kmem_cache_shrink()) and
  kills its page reference count;
* the cache's memcg pointer becomes the parent (``s->memcg_params.memcg =
  parent``), the memcg's reference is dropped and the parent's taken, and the
  cache joins the parent's ``kmem_caches`` list, so that when the parent goes
  offline in turn, its children's dead caches move on up with its own.

The memcg is then released at once: nothing of it is pinned by its objects.
The dead caches stay, charging the parent, until their last slab goes; then
the percpu reference's release (kmemcg_queue_cache_shutdown()) destroys the
cache from a work item after a grace period (f0a3a24b532d, "mm: memcg/slab:
rework non-root kmem_cache lifecycle management").  Objects are freed into
their dead cache as before; nothing moves between caches.  This is the
mainline design closest to the seed's aim: the seed moves the slabs to the
parent's cache; 5.3 moves the cache's owner.
"""
from __future__ import annotations

from slabpolicy import Metric, PolicySpec, hookimpl
from slabpolicy.kernel.memcg_kmem import (kmemcg_cache_deactivate, queue_cache_destroy,
                                          reparent_kmem_cache)

VERSION = "1.0"
KERNEL = ("Linux 5.3-5.8: memcg_deactivate_kmem_caches(memcg, parent) reparents the dead "
          "caches, fb2f2b0adb98")


class Reparent:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        #: caches handed to a parent at an offline, summed over the run
        self.caches_reparented = 0

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """memcg_offline_kmem(): deactivate the memcg's own caches, then reparent every
        cache on its kmem_caches list (its own and its dead children's)."""
        parent = sim.online_ancestor(memcg)
        grace = sim.slub.costs["rcu_grace_period"]
        for cache in sim.dead_caches(memcg):     # memcg->kmem_caches: its own, its children's
            if not cache.policy_data.get("deactivated"):
                cache.policy_data["deactivated"] = True
                kmemcg_cache_deactivate(cache)
                sim.schedule(grace, lambda cache=cache: self.deactivate_after_rcu(sim, cache))
            reparent_kmem_cache(sim, cache, memcg, parent)
            self.caches_reparented += 1

    def deactivate_after_rcu(self, sim, cache) -> None:
        """kmemcg_cache_deactivate_after_rcu(): shrink, then percpu_ref_kill(): a cache
        already empty is shut down now."""
        if cache.destroyed:
            return
        sim.slub.kmem_cache_shrink(cache)
        cache.policy_data["killed"] = True
        if not cache.destroyed and not cache.nr_slabs:
            queue_cache_destroy(sim, cache, sim.slub.costs["rcu_grace_period"])

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        """The cache's last page went.  Once its percpu refcount is killed, that is the
        release: kmemcg_queue_cache_shutdown(), call_rcu() and a work item destroy it.
        Before the kill the count cannot reach zero; deactivate_after_rcu() sees the
        empty cache then."""
        if cache.policy_data.get("killed") and not cache.destroyed:
            queue_cache_destroy(sim, cache, sim.slub.costs["rcu_grace_period"])

    @hookimpl
    def slabpolicy_run_end(self, sim, result):
        result.setdefault("policy_stats", {}).update({
            "caches_reparented": self.caches_reparented,
        })


@hookimpl
def slabpolicy_metrics():
    """The figure slabpolicy_run_end() adds under policy_stats."""
    return [Metric("policy_stats.caches_reparented", "caches",
                   "reparent: caches handed to a parent at an offline (reparent_kmem_cache()), "
                   "summed over the run")]


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="reparent",
        version=VERSION,
        description="Linux 5.3-5.8 (fb2f2b0adb98): at offline the dead caches charge and "
                    "pin the parent instead; the memcg is released at once, the caches "
                    "stay until empty",
        factory=Reparent,
        kernel=KERNEL,
    )]
