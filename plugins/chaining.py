"""chaining: the seed patch, "chained slab caches" (Glauber Costa, RFC, Feb 2012).

"Upon memcg destruction, all the pages on the partial list are moved to the new
slab (usually the parent memcg, or root memcg). When an object is freed, there
are high stakes that no list locks are needed - so this case poses no overhead.
If list manipulation is indeed needed, we can detect this case, and perform it
in the right slab.  If all pages were residing in the partial list, we can free
the cache right away. Otherwise, we do it when the last cache leaves the full
list." (the patch's cover text, linux-mm, February 2012)

Option ``variant``:

``as-posted`` (the default) follows the patch line by line, its accounting calls
included, whatever they add up to: mem_cgroup_pre_destroy() counts
slab_nr_pages() before kmem_switch_slab() and uncharges that many pages until the
parent; discard_slab() of a chained cache decrements ``s->parent_slab``'s slab
count and __free_slab() uncharges nobody; move_previous_full() moves a slab that
the free path has just frozen; the empty-slab path of a chained cache skips
remove_partial(); destroy_chained_slab() destroys the cache while objects
allocated from it may still live in the parent's slabs.  The accounting checker
shows what this adds up to.

``corrected`` fixes what the checker shows wrong, and nothing else:

1. a free into a page already moved to the parent goes to the page's cache
   (page->slab, as cache_from_obj() does since 3.8), so the dead cache is never
   touched again once its pages have left, and is destroyed exactly when its
   last slab leaves (in move_previous_full() or at offline);
2. flush_all() at the switch discards empty cpu slabs as SLUB normally does
   (uncharging the dying memcg), and the pages handed to the parent are counted
   after it, not before;
3. move_previous_full() unfreezes the slab and puts it on the parent's partial
   list under the parent's node list_lock, not the dead cache's;
4. kmem_switch_slab() sets ``s->parent_slab`` before SLAB_CHAINED, so that a free
   arriving while the switch waits for a list_lock finds the cache it is chained
   to (as posted, parent_slab is set last, and such a free dereferences NULL:
   the checker reports it and the free takes the normal path); a full slab such a
   free moves to the parent (move_previous_full()) is counted with the pages the
   switch hands over, so that its charge goes up with theirs, and if it was the
   last slab the offline destroys the cache once, after the switch, not the free;
5. a dead cache chained to the cache being switched (a dead child memcg's, whose
   full slabs are still to come) is chained to the new cache from then on, and
   its pages' charge goes up with the switched cache's: as posted it stays
   chained to a cache that is destroyed once empty, and a later free into one of
   its full slabs moves the slab into the destroyed cache (the cgroup's rmdir
   does not wait for its dying children).

How the model reads the patch.  ``s`` in __slab_free() is the cache the object
was allocated from (kmem_cache_free(s, x) of the 2012 API): the patch's tests of
``page->slab != s`` only make sense if ``s`` and ``page->slab`` can differ.  The
frees of a chained cache run inside rcu_read_lock() (free of cost here); the
``up_write(&slub_lock)`` that move_previous_full() ends with, unbalanced in the
patch, is not modelled; use_hierarchy is always on, so the new cache is the
parent's (the root's for a top-level memcg); schedule_work() of the cache's
destroy work is a call scheduled on cpu 0 at once (a no-op while pending).
"""
from __future__ import annotations

from slabpolicy import Metric, Option, PolicySpec, hookimpl
from slabpolicy.kernel.slub import DEACTIVATE_TO_TAIL, SLAB_CHAINED

VERSION = "1.1"
AS_POSTED = "as-posted"
CORRECTED = "corrected"


class Chaining:
    """The policy object of one run."""

    def __init__(self, options: dict) -> None:
        self.corrected = options["variant"] == CORRECTED
        #: frees into chained caches, and how many of them took a list_lock
        self.chained_frees = 0
        self.chained_frees_locked = 0
        #: partial slabs moved to a parent's cache, by slab: its live objects then;
        #: a slab whose count has risen since was allocated from by the parent
        self.moved: dict = {}
        self.moved_total = 0
        self.moved_reused = 0

    # -- mm/memcontrol.c ---------------------------------------------------------------

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        """mem_cgroup_pre_destroy(): a generator, since kmem_switch_slab() waits for RCU."""
        return self.mem_cgroup_pre_destroy(sim, memcg)

    def mem_cgroup_pre_destroy(self, sim, memcg):
        """For each cache: switch its slabs to the parent's cache, move the charge with
        res_counter_uncharge_until(), and destroy it at once if no slab is left."""
        slub = sim.slub
        parent = memcg.parent          # never NULL below the root; use_hierarchy is on
        for index, oldcache in sorted(memcg.caches.items()):
            if oldcache.memcg is not memcg or oldcache.destroyed:
                continue
            newcache = sim.memcg_cache(parent, index)
            pages = oldcache.slab_nr_pages()
            if pages:
                moved = yield from self.kmem_switch_slab(sim, oldcache, newcache)
                if self.corrected:
                    pages = moved + oldcache.slab_nr_pages()
            if self.corrected:
                pages += self.rechain(sim, oldcache, newcache)
            if pages:
                slub.now += slub.costs["memcg_charge"]
                sim.memcgs.uncharge_until(memcg, memcg.parent, pages)
            self.memcg_cache_destroy(sim, oldcache)

    @staticmethod
    def rechain(sim, old, new) -> int:
        """Fix 5: the dead caches chained to ``old`` are chained to ``new``; returns
        their pages, charged to ``old``'s memcg since their own memcg's offline."""
        pages = 0
        for cache in sim.slub.caches:
            if cache is not old and cache.flags & SLAB_CHAINED and cache.parent_slab is old:
                cache.parent_slab = new
                pages += cache.slab_nr_pages()
        return pages

    def memcg_cache_destroy(self, sim, cache) -> None:
        """__memcg_cache_destroy(): kmem_cache_destroy() + mem_cgroup_put() if no page is left."""
        if not cache.slab_nr_pages():
            sim.slub.kmem_cache_destroy(cache)     # drops the memcg reference too

    def memcg_slab_destroy(self, sim, cache) -> None:
        """memcg_slab_destroy(): schedule_work() of the cache's destroy work."""
        if cache.policy_data.get("destroy_pending"):
            return
        cache.policy_data["destroy_pending"] = True

        def work():
            cache.policy_data["destroy_pending"] = False
            self.memcg_cache_destroy(sim, cache)
        sim.schedule(0, work)

    # -- mm/slub.c -----------------------------------------------------------------------

    def kmem_switch_slab(self, sim, old, new):
        """kmem_switch_slab(): synchronize_rcu(), SLAB_CHAINED, flush_all(), then every
        node-partial slab (and full slab, with SLAB_STORE_USER) moves to ``new`` under
        ``new``'s node list_lock.  Returns the pages handed to ``new``: moved here, or
        (corrected) by chained frees while the switch waited for a list_lock."""
        slub = sim.slub
        yield sim.synchronize_rcu()
        if self.corrected:
            old.parent_slab = new          # fix 4: before frees can see SLAB_CHAINED
            old.policy_data["handed_over"] = 0     # pages chained frees move meanwhile
        old.flags |= SLAB_CHAINED
        if not self.corrected:
            old.discard = lambda s, slab: self.discard_slab(sim, s, slab)
        slub.flush_all(old)
        moved = 0
        for node, nold in enumerate(old.node):
            nnew = new.node[node]
            slub.lock(nnew.list_lock)
            for slab in nold.partial:
                slub.dec_slabs_node(old, node, slab.objects)
                slub.set_slab_cache(slab, new)
                slub.inc_slabs_node(new, node, slab.objects)
                slub.remove_partial(nold, slab)
                slub.add_partial(nnew, slab, DEACTIVATE_TO_TAIL)
                moved += old.pages
                self.moved[slab] = slab.inuse
                self.moved_total += 1
            if old.kind.store_user:
                for slab in nold.full:
                    slub.dec_slabs_node(old, node, slab.objects)
                    slub.set_slab_cache(slab, new)
                    slub.inc_slabs_node(new, node, slab.objects)
                    slub.remove_full(old, slab)
                    slub.add_full(new, nnew, slab)
                    moved += old.pages
            slub.unlock(nnew.list_lock)
        old.parent_slab = new
        if self.corrected:
            moved += old.policy_data.pop("handed_over")
        return moved

    def discard_slab(self, sim, s, slab) -> None:
        """discard_slab() as the patch has it for a chained cache: the slab count of
        ``s->parent_slab`` goes down, and __free_slab() uncharges no memcg."""
        slub = sim.slub
        slub.dec_slabs_node(s.parent_slab if s.flags & SLAB_CHAINED else s,
                            slab.node, slab.objects)
        slub.free_slab(s, slab, uncharge=not s.flags & SLAB_CHAINED)

    @hookimpl
    def slabpolicy_dead_cache_free(self, sim, cache, slab, cpu):
        """slab_free() -> __slab_free() of a chained cache, inside rcu_read_lock()."""
        if not cache.flags & SLAB_CHAINED:
            return None            # before the switch frees take the normal path
        if self.corrected and slab.cache is not cache:
            return None            # fix 1: the page's own cache (the parent) frees it
        if cache.parent_slab is None:
            sim.slub.on_violation(f"{cache.name}: free into a chained cache whose parent_slab "
                                  f"is not set yet (a NULL dereference in __slab_free())")
            return None
        self.chained_frees += 1
        locks_before = sim.locks.classes["list_lock"].acquisitions
        self.slab_free_chained(sim, cache, slab, cpu)
        if sim.locks.classes["list_lock"].acquisitions != locks_before:
            self.chained_frees_locked += 1
        return True

    def slab_free_chained(self, sim, s, slab, cpu) -> None:
        """__slab_free() with the patch's ``chained`` branches, line by line."""
        slub = sim.slub
        s.stat("FREE_SLOWPATH")
        s.parent_slab.stat("CPU_CHAINED_FREE")
        slub.now += slub.c_cmpxchg                 # cmpxchg_double_slab()
        prior = slab.inuse < slab.objects          # page->freelist
        was_frozen = slab.frozen
        slab.inuse -= 1
        inuse = slab.inuse
        n = None
        if (not inuse or not prior) and not was_frozen:
            if not s.track_full and not prior:     # !kmem_cache_debug(s) && !prior
                slab.frozen = True
            else:
                n = s.parent_slab.node[slab.node]  # get_node(s->parent_slab, nid)
                slub.lock(n.list_lock)
        if n is None:
            if slab.frozen and not was_frozen:
                if slab.cache is s:
                    n = s.node[slab.node]
                    slub.lock(n.list_lock)
                    self.move_previous_full(sim, s, slab)
                    slub.unlock(n.list_lock)
                else:
                    self.destroy_chained_slab(sim, s, slab)
            if was_frozen:
                s.stat("FREE_FROZEN")
            return
        if was_frozen:
            s.stat("FREE_FROZEN")
        else:
            if not inuse:             # (n->nr_partial > s->min_partial) || chained
                self._slab_empty(sim, s, slab, n, prior)
                return
            if not prior:
                slub.remove_full(s, slab)
                if slab.cache is s:
                    self.move_previous_full(sim, s, slab)
                else:
                    slub.add_partial(n, slab, DEACTIVATE_TO_TAIL)
                s.stat("FREE_ADD_PARTIAL")
            if slab.cache is not s:
                self.destroy_chained_slab(sim, s, slab)
        slub.unlock(n.list_lock)

    def _slab_empty(self, sim, s, slab, n, prior) -> None:
        """The ``slab_empty:`` label of __slab_free() for a chained cache."""
        slub = sim.slub
        if not prior:
            slub.remove_full(s, slab)
            if slab.cache is s:
                s.stat("WARN_EMPTY_ON_FULL_LIST")   # WARN_ON(page->slab == s && chained)
        elif self.corrected:
            slub.remove_partial(n, slab)
        # as posted: "if (likely(!chained)) remove_partial(n, page);" -- the slab
        # stays on the parent's partial list while it is discarded
        slub.unlock(n.list_lock)
        if slab.cache is not s:
            self.destroy_chained_slab(sim, s, slab)
        s.stat("FREE_SLAB")
        slub.discard_slab(s, slab)

    def move_previous_full(self, sim, s, slab) -> None:
        """move_previous_full(): a slab of the chained cache that was full goes to the
        parent's partial list, with the slab counts moved."""
        slub = sim.slub
        if s.track_full:                 # WARN_ON(s->flags & SLAB_STORE_USER)
            return
        target = s.parent_slab
        node = slab.node
        slub.dec_slabs_node(s, node, slab.objects)
        slub.inc_slabs_node(target, node, slab.objects)
        slub.set_slab_cache(slab, target)
        tnode = target.node[node]
        if self.corrected:
            # fix 3: unfrozen, and under the list_lock of the list it goes on
            slab.frozen = False
            slub.lock(tnode.list_lock)
            slub.add_partial(tnode, slab, DEACTIVATE_TO_TAIL)
            slub.unlock(tnode.list_lock)
            if "handed_over" in s.policy_data:     # fix 4: s is still being switched,
                s.policy_data["handed_over"] += s.pages     # and the offline destroys it
            elif not s.nr_slabs:         # the last slab left the full list
                self.memcg_slab_destroy(sim, s)
        else:
            slub.add_partial(tnode, slab, DEACTIVATE_TO_TAIL)

    def destroy_chained_slab(self, sim, s, slab) -> None:
        """destroy_chained_slab(): destroy ``s`` once the slab's node counts none of it."""
        if not s.node[slab.node].nr_slabs:
            self.memcg_slab_destroy(sim, s)

    @hookimpl
    def slabpolicy_sample(self, sim, now_ns, sample):
        """Count the moved slabs the parent's cache has allocated from since the last
        sample (only its allocations raise a moved slab's count): the reuse chaining
        exists for.  One allocated from and emptied again between samples is missed."""
        reused = [slab for slab, inuse in self.moved.items() if slab.inuse > inuse]
        for slab in reused:
            del self.moved[slab]
        self.moved_reused += len(reused)
        for slab in [slab for slab in self.moved if slab.freed]:
            del self.moved[slab]

    @hookimpl
    def slabpolicy_run_end(self, sim, result):
        result.setdefault("policy_stats", {}).update({
            "moved_slabs": self.moved_total,
            "moved_slabs_reused": self.moved_reused,
            "chained_frees": self.chained_frees,
            "chained_frees_locked": self.chained_frees_locked,
        })


@hookimpl
def slabpolicy_metrics():
    """The figures slabpolicy_run_end() adds under policy_stats."""
    return [
        Metric("policy_stats.chained_frees", "frees",
               "chaining: frees into a dead chained cache that took the chained path "
               "(slab_free_chained())"),
        Metric("policy_stats.chained_frees_locked", "frees",
               "chaining: chained frees that took the parent's list_lock"),
        Metric("policy_stats.moved_slabs", "slabs",
               "chaining: partial slabs kmem_switch_slab() moved to a parent's cache"),
        Metric("policy_stats.moved_slabs_reused", "slabs",
               "chaining: moved slabs the parent's cache allocated from afterwards (seen at "
               "a sample: their live objects rose)"),
    ]


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(
        name="chaining",
        version=VERSION,
        description="the seed patch: at offline move the partial slabs to the parent's "
                    "cache; frees into the dead cache chain to the parent",
        factory=Chaining,
        kernel="none: the seed patch, Glauber Costa, \"chained slab caches\" RFC (linux-mm, "
               "Feb 2012, against 3.3), never merged",
        options=(Option("variant", "str", AS_POSTED,
                        "as-posted: the patch's accounting calls exactly; corrected: "
                        "what the accounting checker shows wrong, fixed",
                        choices=(AS_POSTED, CORRECTED)),),
    )]
