"""The two eras of object cgroups: what Linux 5.9 did, and how a run picks an era.

objcg arrived in 5.9 with Roman Gushchin's "The new cgroup slab memory
controller" series: bf4f059954dc ("mm: memcg/slab: obj_cgroup API") and
10befea91b61 ("mm: memcg/slab: use a single set of kmem_caches for all
allocations").  :class:`~slabpolicy.kernel.objcg.ObjcgAccounting` is the
5.14+ code (the 6.x kernels); :class:`ObjcgAccounting59` is 5.9's, from
mm/memcontrol.c and mm/slab.h of v5.9:

* refill_obj_stock() adds the bytes and then, ``if (stock->nr_bytes >
  PAGE_SIZE) drain_obj_stock(stock)``: the *whole* stock is drained, whole
  pages uncharged, the remainder parked in ``objcg->nr_charged_bytes``, and
  the stock is left caching no objcg.  It does so for the remainder of a page
  obj_cgroup_charge() has just charged too (5.14's 5387c90490f7 uncharges only
  the whole pages, and never on the charge path).
* page charges go through try_charge(): consume_stock() or a batch of
  MEMCG_CHARGE_BATCH = 32 pages, as in 6.x (where the batch is 64 from 6.1,
  1813e51eece0); but a page uncharge, __memcg_kmem_uncharge(), calls
  page_counter_uncharge() on the counters directly: refill_stock() came with
  3de7d4f25a74 ("mm: memcg/slab: optimize objcg stock draining", 5.11).
* the obj_cgroups vector (``page->obj_cgroups``, objects x 8 bytes,
  memcg_alloc_page_obj_cgroups()) is allocated at a slab's first accounted
  object, in memcg_slab_post_alloc_hook(), not when the slab is created (that
  came with 2e9bd4831599, 5.12), and freed in unaccount_slab_page().
* every accounted allocation and free updates the memcg's slab vmstat
  (mod_objcg_state() -> mod_memcg_lruvec_state()), per object, with irqs off
  around the stock: cost steps ``objcg_charge_5_9`` + ``objcg_vmstat``
  instead of 6.x's ``objcg_charge`` (68ac5b3c8db2 added the per-cpu cache).
* memcg_reparent_objcgs() runs under ``spin_lock_irq(&css_set_lock)``, the
  cgroup core's global lock, and so does obj_cgroup_release() when a killed
  objcg's last reference goes, its parked pages uncharged under the lock; 6.x
  has its own ``objcg_lock`` and uncharges before taking it (0764db9b49c9).
"""
from __future__ import annotations

from slabpolicy.kernel.memcg_stock import MEMCG_CHARGE_BATCH, MEMCG_CHARGE_BATCH_6_1
from slabpolicy.kernel.objcg import ObjCgroup, ObjcgAccounting

#: the objcg eras, oldest first
ERAS = ("5.9", "6.x")
#: the lock of the objcg lists in each era (its lock_stat class), which
#: memcg_reparent_objcgs() and obj_cgroup_release() take
REPARENT_LOCK = {"5.9": "css_set_lock", "6.x": "objcg_lock"}


class ObjcgAccounting59(ObjcgAccounting):
    """Object cgroups as Linux 5.9 charges them (mm/memcontrol.c, mm/slab.h of v5.9)."""

    era = "5.9"
    release_uncharges_under_lock = True

    @staticmethod
    def object_cost(costs: dict[str, int]) -> int:
        """obj_cgroup_charge()/uncharge() and mod_objcg_state() of one object."""
        return costs["objcg_charge_5_9"] + costs["objcg_vmstat"]

    def uncharge_cost(self, objcg: ObjCgroup, cpu: int, pages: int) -> int:
        """__memcg_kmem_uncharge(): page_counter_uncharge(), no per-cpu stock."""
        return self.memcg_stock.c_counter

    def refill(self, objcg: ObjCgroup, cpu: int, nr_bytes: int, allow_uncharge: bool,
               now: int, spent: int) -> int:
        """refill_obj_stock() of 5.9: more than a page in the stock drains all of it,
        on the charge path as on the free path (5.9 has no ``allow_uncharge``).
        Returns ``spent`` plus what it cost."""
        stock = self.stocks[cpu]
        if stock.cached is not objcg:
            spent = self.drain(stock, cpu, now, spent)
            stock.nr_bytes, objcg.nr_charged_bytes = objcg.nr_charged_bytes, 0
            stock.cached = objcg
        stock.nr_bytes += nr_bytes
        if stock.nr_bytes > self.page_size:
            spent = self.drain(stock, cpu, now, spent)
        return spent

    def slab_created(self, slab) -> None:
        """account_slab_page() of 5.9 allocates no vector: the first accounted object
        on the slab does (post_alloc())."""


def use_era(slub, era: str) -> None:
    """Make ``slub`` charge objects as the kernel of ``era`` does; called by the objcg
    policy when its run starts, before any object is charged."""
    machine = slub.machine
    if era == "5.9":
        slub.objcgs = ObjcgAccounting59(slub, slub.memcgs, machine.cpus, machine.page_size)
        slub.memcg_stock.batch = MEMCG_CHARGE_BATCH
    else:
        slub.memcg_stock.batch = MEMCG_CHARGE_BATCH_6_1
    name = REPARENT_LOCK[era]
    slub.objcgs.lock = slub.locks.new_lock(name, name)
