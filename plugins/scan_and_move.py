"""scan-and-move: the alternative the seed patch considered and rejected.

"Scanning the list of objects in the dead cache takes time, and would probably
require us to lock the free path of every objects to make sure we're not racing
against the update." (the seed patch's cover text: Glauber Costa, "chained slab
caches", RFC, linux-mm, February 2012)

This plugin builds exactly that (docs/model.md section 4), so that its two costs
can be measured instead of guessed:

* **every slab must be findable**, so a per-memcg cache keeps its full slabs on
  the node full list all the time (``cache.track_full``, what SLUB only does for
  SLAB_STORE_USER debug caches: add_full()/remove_full() in deactivate_slab(),
  __slab_alloc() and __slab_free()).  Every full/non-full transition then takes
  ``list_lock``: the fast-path cost Christoph Lameter objected to in 2014;
* **frees must not race the scan**, so every free into a memcg cache, the
  lock-free fast path included, takes a per-cache ``memcg_scan_lock``
  (``cache.free_lock``, taken by the core's slab_free() around every free), all
  the time, not only during a scan.

At offline (mem_cgroup_pre_destroy() of the seed, css_offline() later), for each
dead cache of the memcg: take its ``memcg_scan_lock`` (frees into the cache stop;
a free arriving meanwhile waits on it, and its latency shows the wait),
flush_all(), then, node by node, under the old node's ``list_lock`` and the
parent cache's node ``list_lock`` (the seed's kmem_switch_slab() takes the latter
for the whole node; taking the former too is what makes remove_partial() legal),
walk every slab on the partial and full lists, reading each live object
(``object_scan`` per object, ``list_op`` per slab visited, plus the option
``scan_slab_ns``), and re-home it to the parent memcg's cache: remove_partial()
or remove_full(), dec_slabs_node(old), ``page->slab = new``, inc_slabs_node(new),
add_partial() or add_full() (a full slab goes on no list if the new cache keeps
none, as the root cache does).  The charge follows with one
res_counter_uncharge_until(memcg, parent) per cache, as the seed does, so the
parent stays charged.  Then the lock is released and the cache destroyed at
once (kmem_cache_destroy(), which drops the memcg's reference: no dead cache and
no dying memcg survive the offline).

Empty slabs found by the walk are discarded, not moved (option
``discard_empty``, default true): no object lives in them, so no free can ever
reach them and nothing needs re-homing; moving them would only charge the parent
for pages nobody uses, which is what kmem_cache_shrink() at offline avoided in
Linux 4.0-5.8.  Their pages are returned and uncharged from the dying memcg's
whole lineage by free_slab().

Later frees of objects allocated from the destroyed cache name that cache
(kmem_cache_free(s, x)); the core then frees through ``slab.cache`` (page->slab,
cache_from_obj()), which is now the parent's cache.  This plugin implements no
``slabpolicy_dead_cache_free`` on purpose.
"""
from __future__ import annotations

from slabpolicy import Option, PolicySpec, hookimpl
from slabpolicy.kernel.slub import NOWHERE

VERSION = "1.0"
LOCK_CLASS = "memcg_scan_lock"


class ScanAndMove:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.scan_slab_ns = options["scan_slab_ns"]
        self.discard_empty = options["discard_empty"]
        #: what the scans did, summed over the run (for tests and reports)
        self.slabs_moved = 0
        self.slabs_discarded = 0
        self.objects_scanned = 0
        self.pages_moved = 0

    @hookimpl
    def slabpolicy_memcg_cache(self, sim, memcg, kind, root_cache):
        """kmem_cache_dup(), plus what scanning needs on every fast path.

        ``track_full``: full slabs on the node full list (add_full()/remove_full()
        as for a SLAB_STORE_USER cache), so that the scan finds them.
        ``free_lock``: the lock the scan takes, taken by every free (slab_free()).
        """
        cache = sim.slub.kmem_cache_dup(root_cache, memcg)
        cache.track_full = True
        # a cache that keeps full lists is a kmem_cache_debug() cache to SLUB, and
        # kmem_cache_has_cpu_partial() is false for those
        cache.cpu_partial = 0
        cache.free_lock = sim.locks.new_lock(LOCK_CLASS, cache.name)
        return cache

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """mem_cgroup_pre_destroy() with a scan: move every slab, then kmem_cache_destroy()."""
        for cache in list(memcg.caches.values()):
            if cache.memcg is not memcg or cache.destroyed:
                continue
            self.scan_and_move(sim, memcg, cache)

    def scan_and_move(self, sim, memcg, old) -> None:
        """Stop the frees, flush_all(), re-home every slab, move the charge, destroy."""
        slub = sim.slub
        cost = slub.costs
        per_object = cost["object_scan"]
        per_slab = cost["list_op"] + self.scan_slab_ns
        new = sim.memcg_cache(memcg.parent, old.index)
        if old.free_lock is not None:
            slub.lock(old.free_lock)
        # flush_all(): the cpu slabs and cpu partial lists go back to the node lists
        # (a full cpu slab onto the full list, since the cache keeps one)
        slub.flush_all(old)
        pages = 0
        empty = []
        for nold in old.node:
            nnew = new.node[nold.node]
            slub.lock(nold.list_lock)
            slub.lock(nnew.list_lock)
            for on_full, lst in ((False, nold.partial), (True, nold.full)):
                for slab in lst:
                    # reading the slab (list_op) and each live object in it
                    slub.now += per_slab + per_object * slab.inuse
                    self.objects_scanned += slab.inuse
                    if on_full:
                        slub.remove_full(old, slab)
                    else:
                        slub.remove_partial(nold, slab)
                    if not slab.inuse and self.discard_empty:
                        empty.append(slab)
                        continue
                    slub.dec_slabs_node(old, slab.node, slab.objects)
                    slub.set_slab_cache(slab, new)            # page->slab = new
                    slub.inc_slabs_node(new, slab.node, slab.objects)
                    if slab.inuse < slab.objects:
                        slub.add_partial(nnew, slab)
                    elif new.track_full:
                        slub.add_full(new, nnew, slab)
                    else:
                        slab.where = NOWHERE
                    pages += old.pages
                    self.slabs_moved += 1
            slub.unlock(nnew.list_lock)
            slub.unlock(nold.list_lock)
        for slab in empty:
            slub.discard_slab(old, slab)     # pages back, uncharged from the whole lineage
            self.slabs_discarded += 1
        if pages:
            # res_counter_uncharge_until(memcg, parent): the parent stays charged
            slub.now += cost["memcg_charge"]
            sim.memcgs.uncharge_until(memcg, memcg.parent, pages)
            self.pages_moved += pages
        if old.existing_slabs():   # a slab the walk could not see: never expected
            slub.on_violation(f"{old.name}: {old.existing_slabs()} slabs on no list "
                              f"after flush_all(); the scan cannot move them")
        if old.free_lock is not None:
            slub.unlock(old.free_lock)
        if not old.destroyed:      # discard_slab() of the last slab may not destroy it
            slub.kmem_cache_destroy(old)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="scan-and-move",
        version=VERSION,
        description="the seed's rejected alternative: at offline lock the frees, scan "
                    "every object, move every slab and its charge to the parent, destroy",
        factory=ScanAndMove,
        kernel="none: the alternative the seed patch's cover text rejects (2012); no "
               "kernel scanned dead caches",
        options=(
            Option("scan_slab_ns", "duration", 0,
                   "extra time per slab visited by the scan, on top of the cost model's "
                   "list_op (struct page cache misses, say)"),
            Option("discard_empty", "bool", True,
                   "discard the empty slabs the scan finds instead of moving them "
                   "(and their charge) to the parent"),
        ),
    )]
