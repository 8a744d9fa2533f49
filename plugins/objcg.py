"""objcg: what Linux does since 5.9 (Roman Gushchin's slab controller, 2020), era by era.

There are no per-memcg caches: every memcg allocates from the shared root cache,
which is accounted (SLAB_ACCOUNT), and each object is charged to the memcg's
object cgroup in bytes, ``obj_full_size(s) = s->size + sizeof(struct obj_cgroup *)``,
through a per-cpu byte stock (``slabpolicy.kernel.objcg``: obj_cgroup_charge(),
refill_obj_stock(), drain_obj_stock()), plus a page counter charge whenever the
stock runs dry.  Each slab carries an ``obj_cgroups`` vector of 8 bytes per
object, a kmalloc allocation counted in the run's slab pages.

At offline (memcg_offline_kmem()) the memcg's object cgroups are re-parented
(memcg_reparent_objcgs()): O(1) in the objects, no RCU wait, no scan.  The
memcg is released at once, and no dead cache exists: objects that outlive
their cgroup stay in the shared slabs, charged to the parent.

Option ``era`` picks the kernel (``slabpolicy.kernel.objcg_eras``):

``6.x`` (the default: Linux 5.14 and later, the 6.x kernels)
    refill_obj_stock() uncharges whole pages only (5387c90490f7, Waiman Long),
    the slab vmstat is cached per cpu (68ac5b3c8db2), page uncharges go back to
    the per-cpu memcg stock, of MEMCG_CHARGE_BATCH = 64 pages from 6.1
    (1813e51eece0), the vector is allocated with the slab (2e9bd4831599), and
    re-parenting takes ``objcg_lock`` (0764db9b49c9).
``5.9`` (Linux 5.9; 5.10-5.13 changed parts of it, piece by piece)
    bf4f059954dc ("mm: memcg/slab: obj_cgroup API") and 10befea91b61 ("mm:
    memcg/slab: use a single set of kmem_caches for all allocations"):
    refill_obj_stock() drains the whole stock when it holds more than a page,
    page uncharges go straight to the page counters, the stock batch is 32
    pages, the vector is allocated at a slab's first accounted object, every
    object updates the vmstat (``objcg_vmstat``), and re-parenting takes the
    cgroup core's ``css_set_lock``.
"""
from __future__ import annotations

from slabpolicy import Metric, Option, PolicySpec, hookimpl
from slabpolicy.kernel.objcg_eras import ERAS, use_era

VERSION = "2.0"

#: the kernel each era models: the result document's ``policy.kernel``
KERNEL = {
    "6.x": "Linux 5.14+ (the 6.x kernels): per-object obj_cgroup charging, "
           "refill_obj_stock() uncharging whole pages only (5387c90490f7, Waiman Long), "
           "vmstat cached per cpu (68ac5b3c8db2), MEMCG_CHARGE_BATCH 64 (1813e51eece0, 6.1), "
           "objcg_lock (0764db9b49c9); from Roman Gushchin's slab controller of 5.9",
    "5.9": "Linux 5.9: Roman Gushchin's 'The new cgroup slab memory controller', "
           "bf4f059954dc (obj_cgroup API) and 10befea91b61 (a single set of kmem_caches): "
           "refill_obj_stock() draining the whole stock past a page, per-object vmstat, "
           "reparenting under css_set_lock",
}


class ObjCg:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.era = options["era"]

    @hookimpl
    def slabpolicy_run_start(self, sim):
        use_era(sim.slub, self.era)

    @hookimpl
    def slabpolicy_memcg_cache(self, sim, memcg, kind, root_cache):
        """memcg_slab_pre_alloc_hook(): the shared cache, with per-object charging."""
        root_cache.account = True
        return root_cache

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """memcg_offline_kmem(): memcg_reparent_objcgs(), under the era's lock."""
        sim.slub.objcgs.reparent(memcg, memcg.parent)

    @hookimpl
    def slabpolicy_run_end(self, sim, result):
        result.setdefault("policy_stats", {}).update({
            "obj_cgroups_bytes": sim.slub.objcgs.vector_bytes,
        })


@hookimpl
def slabpolicy_metrics():
    """The figure slabpolicy_run_end() adds under policy_stats."""
    return [Metric("policy_stats.obj_cgroups_bytes", "bytes",
                   "objcg: bytes of the slabs' obj_cgroups vectors (8 per object, kmalloc "
                   "size classes) at the end of the run; their pages are in slab_pages")]


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="objcg",
        version=VERSION,
        description="Linux 5.9+: shared caches, objects charged in bytes to an object "
                    "cgroup that is re-parented at offline; era 6.x (5.14+, the default) "
                    "or 5.9 (bf4f059954dc, 10befea91b61)",
        factory=ObjCg,
        options=(Option("era", "str", "6.x",
                        "6.x: the 5.14+ object stock (whole pages uncharged, vmstat cached, "
                        "objcg_lock); 5.9: the stock drained whole past a page, per-object "
                        "vmstat, page uncharges on the counters, css_set_lock",
                        choices=ERAS),),
        kernel=lambda options: KERNEL[options["era"]],
    )]
