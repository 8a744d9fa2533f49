"""The seed patch, pinned: each test names the sentence or the line it checks.

dentry slabs hold 21 objects (order 0); the kit has 2 cpus and one node.
"""
from __future__ import annotations

import pytest

from slabpolicy.kernel.costs import rcu_grace_period
from slabpolicy.kernel.slub import CPU_SLAB, NOWHERE, PARTIAL, SLAB_CHAINED
from slabpolicy.api.testing import Kit

PER_SLAB = 21
VARIANTS = ["as-posted", "corrected"]


def kit(variant: str, **kw) -> Kit:
    kw.setdefault("cpus", 2)
    return Kit(policy="chaining", options={"variant": variant}, strict=False, **kw)


def violations(k: Kit) -> list[str]:
    k.sim.checker.check(k.t)
    return k.sim.checker.messages()


@pytest.mark.parametrize("variant", VARIANTS)
def test_partial_pages_only_free_the_cache_right_away(variant):
    """"Upon memcg destruction, all the pages on the partial list are moved to the
    new slab ... If all pages were residing in the partial list, we can free the
    cache right away.\""""
    k = kit(variant)
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=5, cpu=0)
    slab = objs[0]
    root = k.slub.root_caches[s.index]
    k.offline(cg)
    # synchronize_rcu() is part of the offline; flush_all() put the cpu slab on the
    # partial list, which moved to the root cache under the root's list_lock
    assert k.sim.h_offline.max >= k.slub.costs["rcu_grace_period"]
    assert s.flags & SLAB_CHAINED and s.parent_slab is root
    assert slab.cache is root and k.node_partial(root) == [slab]
    assert root.nr_slabs == 1 and s.nr_slabs == 0
    assert s.destroyed and cg.state == "released"
    # res_counter_uncharge_until(memcg, parent): the parent (here the root) keeps it
    assert cg.usage == 0 and k.root.usage == 1 == k.slub.total_pages
    assert violations(k) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_full_pages_keep_the_cache_until_the_last_leaves_the_full_list(variant):
    """"Otherwise, we do it when the last cache leaves the full list."  Three full
    slabs stay in the chained cache at offline; each first free moves one to the
    parent's partial list (move_previous_full()).

    As posted, move_previous_full() never destroys the cache, and the slab it moves
    is still frozen from the free path: the cache outlives its last slab and the
    checker finds frozen slabs on a node list.  Corrected: the cache goes with its
    last slab, and the memcg with it."""
    k = kit(variant)
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=3 * PER_SLAB, cpu=0)
    slabs = [objs[0], objs[PER_SLAB], objs[2 * PER_SLAB]]
    root = k.slub.root_caches[s.index]
    k.offline(cg)
    assert not s.destroyed and cg.state == "offline"
    assert s.nr_slabs == 3 and all(sl.cache is s and sl.where == NOWHERE for sl in slabs)
    assert cg.usage == 0 and k.root.usage == 3          # the charge went to the parent
    for i, slab in enumerate(slabs):
        k.free(s, slab, cpu=1)
        k.sim.run_events()                               # the destroy work, if scheduled
        assert slab.cache is root and slab.where == PARTIAL
        assert s.nr_slabs == 2 - i and root.nr_slabs == i + 1
    assert s.stats["FREE_SLOWPATH"] == 3 and root.stats["CPU_CHAINED_FREE"] == 3
    if variant == "corrected":
        assert s.destroyed and cg.state == "released"
        assert not any(sl.frozen for sl in slabs)
        assert violations(k) == []
    else:
        assert not s.destroyed and cg.state == "offline"
        assert all(sl.frozen for sl in slabs)
        assert violations(k) == [f"{root.name}: slab {sl.id} is frozen on a node partial list, not on a cpu"
                                 for sl in sorted(slabs, key=lambda sl: str(sl.id))]


def test_corrected_rechains_a_dead_childs_cache_when_its_parent_goes_too():
    """Fix 5.  A child's dead cache keeps a full slab, chained to its parent's cache;
    then the parent goes too (rmdir does not wait for a dying child), and its cache,
    left empty by the switch, is destroyed.  The child's cache is chained to the
    root's from then on, the full slab's charge goes up with the parent's, and the
    first free into the full slab moves it to the root's partial list."""
    k = kit("corrected")
    parent = k.memcg("parent")
    child = k.memcg("child", parent)
    s = k.cache(child, "dentry")
    objs = k.alloc(s, n=PER_SLAB + 1, cpu=0)       # one full slab, one cpu slab of 1
    full, partial = objs[0], objs[PER_SLAB]
    root = k.slub.root_caches[s.index]
    k.offline(child)
    ps = s.parent_slab
    assert ps.memcg is parent and partial.cache is ps and full.cache is s
    assert parent.usage == 2 and child.usage == 0
    k.offline(parent)
    assert ps.destroyed and s.parent_slab is root
    assert partial.cache is root and full.cache is s and full.where == NOWHERE
    assert parent.usage == 0 and k.root.usage == 2 == k.slub.total_pages
    k.free(s, full, cpu=1)
    k.sim.run_events()                               # the child's destroy work
    assert full.cache is root and full.where == PARTIAL
    assert k.node_partial(root) == [partial, full]
    assert root.nr_slabs == 2 and s.destroyed
    assert child.state == "released" and parent.state == "released"
    assert violations(k) == []


def free_while_the_switch_waits(k: Kit, n: int):
    """``n`` dentry objects allocated on cpu 0, then rmdir; the first object is freed
    on cpu 1 one nanosecond after the grace period, while kmem_switch_slab() (past
    SLAB_CHAINED and flush_all()) waits for the root's list_lock."""
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=n, cpu=0)
    grace = rcu_grace_period(k.slub.costs, 2)
    t0 = k.t + 1000
    k.offline(cg, at=t0, wait=False)
    k.queue_free(s, objs[0], cpu=1, at=t0 + grace + 1)
    k.run_until(t0 + 10 * grace)
    return cg, s, objs


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_free_while_the_switch_waits_for_the_parents_list_lock(variant):
    """Fix 4.  kmem_switch_slab() sets SLAB_CHAINED, flush_all() puts the cpu slab on
    the node partial list, and the switch reaches the root's list_lock just after a
    free into the dead cache's full slab, queued on cpu 1 one nanosecond after the
    grace period: the free runs first, between SLAB_CHAINED and the moves.

    As posted ``parent_slab`` is still NULL: __slab_free() would dereference it (the
    checker reports it; the free takes the normal path, onto cpu 1's partial list).
    Corrected the free finds the root's cache: move_previous_full() hands the full
    slab to the root before the switch moves the partial one, and both pages'
    charge goes up to the root, the full slab's too."""
    k = kit(variant)
    cg, s, objs = free_while_the_switch_waits(k, PER_SLAB + 1)   # full slab, cpu slab of 1
    full, last = objs[0], objs[PER_SLAB]
    root = k.slub.root_caches[s.index]
    assert s.flags & SLAB_CHAINED and s.parent_slab is root and s.destroyed
    assert cg.state == "released" and full.inuse == PER_SLAB - 1
    if variant == "corrected":
        assert k.policy.chained_frees == 1 and root.stats["CPU_CHAINED_FREE"] == 1
        assert k.node_partial(root) == [full, last] and not full.frozen
        assert cg.usage == 0 and k.root.usage == 2 == k.slub.total_pages
        assert violations(k) == []
    else:
        assert k.policy.chained_frees == 0 and s.stats["CPU_PARTIAL_FREE"] == 1
        assert violations(k) == [f"{s.name}: free into a chained cache whose parent_slab is "
                                 f"not set yet (a NULL dereference in __slab_free())"]


def test_corrected_a_free_of_the_last_slab_while_the_switch_waits_destroys_the_cache_once():
    """Fix 4.  The dead cache's only slab is full; the free in the switch's wait moves
    it to the root (move_previous_full()), leaving the cache empty: the offline, once
    the switch is done, destroys it (not the free's destroy work as well), and the
    page's charge goes up to the root."""
    k = kit("corrected")
    cg, s, objs = free_while_the_switch_waits(k, PER_SLAB)      # the cpu slab, full
    root = k.slub.root_caches[s.index]
    assert k.policy.chained_frees == 1 and k.node_partial(root) == [objs[0]]
    assert s.destroyed and s.nr_slabs == 0 and cg.state == "released"
    assert cg.usage == 0 and k.root.usage == 1 == k.slub.total_pages
    assert violations(k) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_frees_into_a_chained_cache_rarely_take_a_list_lock(variant):
    """"When an object is freed, there are high stakes that no list locks are needed -
    so this case poses no overhead."  A moved partial slab of 21 objects: 20 frees
    take no lock; the one that empties it takes the parent's node list_lock (as
    posted: the chained path; corrected: the parent cache's own free path)."""
    k = kit(variant)
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=PER_SLAB, cpu=0)
    k.free(s, objs[:1], cpu=0)           # one free object: a partial slab at offline
    k.offline(cg)
    root = k.slub.root_caches[s.index]
    locks = k.lock_stats()["acquisitions"]
    root_lock = root.node[0].list_lock.acquisitions
    k.free(s, objs[1:-1], cpu=1)
    assert k.lock_stats()["acquisitions"] == locks
    k.free(s, objs[-1:], cpu=1)
    assert k.lock_stats()["acquisitions"] == locks + 1
    assert root.node[0].list_lock.acquisitions == root_lock + 1
    if variant == "as-posted":
        assert k.policy.chained_frees == PER_SLAB - 1
        assert k.policy.chained_frees_locked == 1
    else:
        assert k.policy.chained_frees == 0       # the page's own cache frees it


def test_as_posted_discards_a_chained_slab_still_on_the_parents_list_and_still_charged():
    """The slab_empty path of a chained cache: ``if (likely(!chained))
    remove_partial(n, page);`` leaves the page on the parent's partial list while it
    is freed, and __free_slab() skips memcg_kmem_freepage() for SLAB_CHAINED: the
    parent stays charged for a page that no longer exists.  destroy_chained_slab()
    then destroys the cache a second time (it was destroyed at offline, its pages
    all partial)."""
    k = kit("as-posted")
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=5, cpu=0)
    slab = objs[0]
    root = k.slub.root_caches[s.index]
    k.offline(cg)
    assert s.destroyed
    k.free(s, objs, cpu=1)
    k.sim.run_events()
    assert slab.freed and slab.lru is root.node[0].partial      # freed, still listed
    assert k.slub.total_pages == 0 and k.root.usage == 1
    assert violations(k) == sorted([
        f"slab {slab.id} freed while still on {root.name} node 0 partial",
        "1 pages charged but 0 pages exist",
        f"{s.name}: destroyed twice",
    ])


def test_corrected_frees_the_moved_slab_through_the_parent():
    """Corrected: the same frees go to the page's cache (the root): the empty slab
    is handled by the root's own rules (1 partial slab <= min_partial: it stays,
    charged to the root, which holds it)."""
    k = kit("corrected")
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=5, cpu=0)
    root = k.slub.root_caches[s.index]
    k.offline(cg)
    k.free(s, objs, cpu=1)
    k.sim.run_events()
    slab = objs[0]
    assert not slab.freed and slab.inuse == 0 and k.node_partial(root) == [slab]
    assert k.root.usage == 1 == k.slub.total_pages
    assert violations(k) == []


def six_partial_slabs_and_an_empty_cpu_slab(k: Kit):
    """Node 0 holds 6 partial dentry slabs (> min_partial 5) and cpu 0's cpu slab is
    empty: flush_all() at the switch will discard it."""
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    empty = k.alloc(s, n=1, cpu=0)
    k.free(s, empty, cpu=0)                   # cpu 0's cpu slab, now empty
    objs = k.alloc(s, n=6 * PER_SLAB, cpu=1)
    for i in range(6):
        k.free(s, objs[i * PER_SLAB], cpu=1)  # 5 go to cpu 1's partial list
    k.slub.now = k.t
    k.slub.unfreeze_partials(s, s.cpu[1])
    k.slub.deactivate_slab(s, s.cpu[1])
    assert s.node[0].nr_partial == 6 and empty[0].where == CPU_SLAB and empty[0].inuse == 0
    return cg, s, empty[0]


def test_as_posted_flush_discards_before_parent_slab_is_set():
    """kmem_switch_slab() sets SLAB_CHAINED before flush_all() and ``parent_slab``
    after the moves, so an empty cpu slab discarded by flush_all() goes through the
    chained discard_slab(): dec_slabs_node(s->parent_slab == NULL) (an oops in the
    kernel), and __free_slab() uncharges no one.  The pages counted before the switch
    include it, so the dying memcg is uncharged for it and the parent keeps it."""
    k = kit("as-posted")
    cg, s, empty = six_partial_slabs_and_an_empty_cpu_slab(k)
    pages = k.slub.total_pages
    k.offline(cg)
    assert empty.freed
    assert k.slub.total_pages == pages - 1 and k.root.usage == pages and cg.usage == 0
    assert s.nr_slabs == 1 and not s.destroyed      # the lost decrement keeps it alive
    assert violations(k) == sorted([
        "dec_slabs_node() on a NULL cache (parent_slab not set yet)",
        f"{pages} pages charged but {pages - 1} pages exist",
        f"{s.name} node 0: nr_slabs counts 1 slabs but 0 exist",
    ])


def test_corrected_flush_discards_as_slub_does_and_moves_only_what_is_left():
    k = kit("corrected")
    cg, s, empty = six_partial_slabs_and_an_empty_cpu_slab(k)
    pages = k.slub.total_pages
    k.offline(cg)
    assert empty.freed and s.destroyed and cg.state == "released"
    assert k.slub.total_pages == pages - 1 == k.root.usage
    assert violations(k) == []


def test_the_posted_variant_leaves_dying_memcgs_that_the_corrected_one_releases(tmp_path):
    """The bundled default experiment, 4 s: the as-posted accounting leaks, the corrected
    variant ends with no dead cache and no dying memcg, and its checker finds nothing."""
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import PolicyRun, run_one
    from slabpolicy.workloads.spec import load_workload

    workload = load_workload("experiments/default.yaml", ["duration=4s"])
    entry = policy_registry(make_plugin_manager())["chaining"]
    results = {}
    for variant in VARIANTS:
        options, _ = entry.spec.parse_options({"variant": variant})
        results[variant] = run_one(workload, PolicyRun(entry, variant, options), 1)
    posted, fixed = results["as-posted"], results["corrected"]
    assert posted["accounting"]["violations"] > 0 and posted["accounting"]["drift_pages_max"] > 0
    assert fixed["accounting"]["violations"] == 0
    assert fixed["memory"]["dying_memcgs"]["final"] < posted["memory"]["dying_memcgs"]["final"]
    # the same event stream: the same allocations and frees under both variants
    assert posted["ops"]["alloc"] == fixed["ops"]["alloc"]
    assert posted["ops"]["free"] == fixed["ops"]["free"]
    # "high stakes that no list locks are needed": under 5% of chained frees lock ...
    stats = posted["policy_stats"]
    assert stats["chained_frees"] > 500
    assert stats["chained_frees_locked"] / stats["chained_frees"] < 0.05
    # ... "so this case poses no overhead": the same workload under leave-in-place
    # frees with the same latency, percentile for percentile, to within one lock
    entry = policy_registry(make_plugin_manager())["leave-in-place"]
    options, _ = entry.spec.parse_options({})
    lip = run_one(workload, PolicyRun(entry, "leave-in-place", options), 1)
    assert lip["ops"]["free"] == posted["ops"]["free"]
    lock = workload.costs["lock"]
    for q in ("p50", "p90", "p99"):
        assert abs(posted["latency_ns"]["free"][q] - lip["latency_ns"]["free"][q]) <= lock
