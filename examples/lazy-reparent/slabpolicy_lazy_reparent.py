"""lazy-reparent: at offline do nothing; on a timer, move a dead cache's partial slabs
to the nearest online ancestor once a grace period has passed.

At offline nothing moves and nothing is paid: the dead cache keeps its slabs.
Every ``interval`` a kworker (cpu 0) looks at the dead caches; each whose memcg
went offline at least ``grace`` ago is flushed (flush_all(): its cpu slabs and
cpu partial lists go back to the node lists) and its node partial slabs are
moved, with their counters and their charge, to the cache of the same kind of
the memcg's nearest online ancestor (``sim.move_partial_slabs()``, the seed's
kmem_switch_slab() step).  Full slabs stay until a free makes them partial; a
later run moves them then.  When the last slab has left, the cache is destroyed
(``slabpolicy_dead_cache_empty``) and the memcg released.

The idea: most objects of a dead cgroup die soon after it, so waiting a grace
period leaves fewer slabs to move, and the move happens off the rmdir path.
"""
from __future__ import annotations

from slabpolicy import Metric, Option, PolicySpec, hookimpl

VERSION = "0.1.0"


class LazyReparent:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.grace_ns = options["grace"]
        self.interval_ns = options["interval"]
        self.slabs_moved = 0

    @hookimpl
    def slabpolicy_run_start(self, sim):
        """Arm the policy's own periodic timer."""
        sim.schedule_every(self.interval_ns, lambda: self.reparent_due(sim))

    def reparent_due(self, sim) -> None:
        """On a kworker: move the partial slabs of every dead cache past its grace."""
        for cache in sim.dead_caches():
            if sim.now - cache.memcg.offline_ns < self.grace_ns:
                continue
            sim.slub.flush_all(cache)          # may discard the last slab: destroyed then
            if cache.destroyed:
                continue
            to = sim.memcg_cache(sim.online_ancestor(cache.memcg), cache.index)
            self.slabs_moved += sim.move_partial_slabs(cache, to)

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        """The last slab left (moved or freed): destroy the cache, release the memcg."""
        sim.destroy_cache_if_empty(cache)

    @hookimpl
    def slabpolicy_run_end(self, sim, result):
        result.setdefault("policy_stats", {}).update({"slabs_moved": self.slabs_moved})


@hookimpl
def slabpolicy_metrics():
    """The figure slabpolicy_run_end() adds under policy_stats."""
    return [Metric("policy_stats.slabs_moved", "slabs",
                   "lazy-reparent: slabs moved to an online ancestor's cache, summed over the run")]


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="lazy-reparent",
        version=VERSION,
        description="at offline do nothing; on a timer, move a dead cache's partial slabs "
                    "to the nearest online ancestor after a grace period",
        factory=LazyReparent,
        options=(
            Option("grace", "duration", "1s", "how long after the offline slabs start moving",
                   min=0),
            Option("interval", "duration", "100ms", "how often the kworker looks",
                   min="1ms"),
        ),
        api_version=1,
    )]
