"""reap-after-delay: leave a dead cache in place, then reap it a fixed delay later.

At offline nothing moves: the dead cache keeps its slabs, cpu slabs and cpu
partial lists, and frees into it follow the normal SLUB rules, as with
leave-in-place.  ``delay`` after the offline, a kworker reaps each of the
memcg's dead caches: kmem_cache_shrink() (which first runs flush_all(), so the
cpu slabs and cpu partial lists go back to the node lists) discards every empty
slab, and the cache is destroyed if no slab is left.  A cache that still holds
live objects then keeps no empty slab (min_partial and cpu_partial 0, as Linux
4.0-5.8 did for dead caches), so it is destroyed as soon as its last object is
freed, and its memcg released.

The idea: most objects of a dead cgroup die within a short while of it, so
waiting a little lets one shrink reclaim what an immediate shrink at offline
could not, without the offline itself paying for it.
"""
from __future__ import annotations

from slabpolicy import Metric, Option, PolicySpec, hookimpl

VERSION = "0.1.0"


class ReapAfterDelay:
    """The policy object of one run: ``factory(options)`` builds it."""

    def __init__(self, options: dict) -> None:
        self.delay_ns = options["delay"]     # a duration option arrives in ns
        self.reaped = 0                      # dead caches reaped
        self.destroyed_at_reap = 0           # ... that were empty and destroyed then

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """rmdir: schedule the reap; the offline itself does (and costs) nothing."""
        sim.schedule(self.delay_ns, lambda: self.reap(sim, memcg))

    def reap(self, sim, memcg) -> None:
        """On a kworker (cpu 0), ``delay`` after the offline: shrink, maybe destroy."""
        for cache in sim.dead_caches(memcg):     # its own caches not yet destroyed
            self.reaped += 1
            # From now on keep no empty slab: one that empties is discarded at once.
            cache.cpu_partial = 0
            cache.min_partial = 0
            cache.discard_empty = True
            # flush_all(), then discard every empty slab of the node partial lists.
            # Discarding the last slab fires slabpolicy_dead_cache_empty (below),
            # which destroys the cache.
            sim.slub.kmem_cache_shrink(cache)
            sim.destroy_cache_if_empty(cache)
            if cache.destroyed:
                self.destroyed_at_reap += 1

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        """The last slab of a dead cache went (before or after the reap): destroy
        the cache, which drops its reference on the memcg."""
        sim.destroy_cache_if_empty(cache)

    @hookimpl
    def slabpolicy_run_end(self, sim, result):
        """Add this policy's own figures to the result document."""
        result.setdefault("policy_stats", {}).update({
            "caches_reaped": self.reaped,
            "caches_destroyed_at_reap": self.destroyed_at_reap,
        })


@hookimpl
def slabpolicy_metrics():
    """What slabpolicy_run_end() adds, for `slabpolicy metrics` and --metric."""
    return [
        Metric("policy_stats.caches_reaped", "caches", "reap-after-delay: dead caches reaped"),
        Metric("policy_stats.caches_destroyed_at_reap", "caches",
               "reap-after-delay: reaped caches that were empty, destroyed at the reap"),
    ]


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="reap-after-delay",
        version=VERSION,
        description="leave the dead cache in place; a fixed delay after offline, "
                    "shrink it and destroy it if no slab is left",
        factory=ReapAfterDelay,
        kernel="none: an idea to try; no kernel reaped dead caches after a delay",
        options=(
            Option("delay", "duration", "1s",
                   "how long after the offline the dead caches are shrunk"),
        ),
        api_version=1,
    )]
