"""objcg: what Linux does since 5.9 (Roman Gushchin's slab controller, 2020).

There are no per-memcg caches: every memcg allocates from the shared root cache,
which is accounted (SLAB_ACCOUNT), and each object is charged to the memcg's
object cgroup in bytes, ``obj_full_size(s) = s->size + sizeof(struct obj_cgroup *)``,
through a per-cpu byte stock (``slabpolicy.kernel.objcg``: obj_cgroup_charge(),
refill_obj_stock(), drain_obj_stock()).  The per-object cost is the published
one: "SLUB 1 object: 87 -> 90 cycles" (cost step ``objcg_charge``), plus a page
counter charge whenever the stock runs dry (``memcg_charge``).

At offline (memcg_offline_kmem()) the memcg's object cgroups are re-parented
(memcg_reparent_objcgs(), under the global ``objcg_lock``): O(1) in the objects,
no RCU wait, no scan.  The memcg is released at once, and no dead cache exists:
objects that outlive their cgroup stay in the shared slabs, charged to the
parent.
"""
from __future__ import annotations

from slabpolicy import PolicySpec, hookimpl

VERSION = "1.0"
KERNEL = ("Linux 5.14+ (the 6.x kernels): per-object obj_cgroup charging, refill_obj_stock() "
          "uncharging whole pages only (5387c90490f7, Waiman Long); the slab controller of "
          "5.9 (Roman Gushchin)")


class ObjCg:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.objcg_lock = None

    @hookimpl
    def slabpolicy_run_start(self, sim):
        self.objcg_lock = sim.locks.new_lock("objcg_lock", "objcg_lock")

    @hookimpl
    def slabpolicy_memcg_cache(self, sim, memcg, kind, root_cache):
        """memcg_slab_pre_alloc_hook(): the shared cache, with per-object charging."""
        root_cache.account = True
        return root_cache

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """memcg_offline_kmem(): memcg_reparent_objcgs() under objcg_lock."""
        slub = sim.slub
        slub.lock(self.objcg_lock)
        slub.now += slub.costs["list_op"]
        slub.objcgs.reparent(memcg, memcg.parent)
        slub.unlock(self.objcg_lock)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="objcg",
        version=VERSION,
        description="Linux 5.9+: shared caches, objects charged in bytes to an object "
                    "cgroup that is re-parented at offline",
        factory=ObjCg,
        kernel=KERNEL,
    )]
