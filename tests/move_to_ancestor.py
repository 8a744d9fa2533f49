"""A policy written on the policy-level operations alone, for tests/test_policy_ops.py.

At offline: flush each dead cache and move its partial slabs to the nearest
online ancestor's cache; when a dead cache's last slab leaves (moved or freed),
destroy it.  Records every ``slabpolicy_dead_cache_empty`` it gets.
"""
from slabpolicy import PolicySpec, hookimpl


class MoveToAncestor:
    def __init__(self, options):
        self.emptied = []          # (cache name, op clock) of each dead_cache_empty

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        for cache in sim.dead_caches(memcg):
            sim.slub.flush_all(cache)
            if cache.destroyed:    # flush_all() discarded its last slab
                continue
            to = sim.memcg_cache(sim.online_ancestor(memcg), cache.index)
            sim.move_partial_slabs(cache, to)

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        self.emptied.append((cache.name, sim.now))
        sim.destroy_cache_if_empty(cache)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="move-to-ancestor", version="0.1",
                       description="at offline move the partial slabs to the nearest "
                                   "online ancestor", factory=MoveToAncestor)]
