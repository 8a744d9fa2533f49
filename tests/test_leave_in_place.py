"""leave-in-place, pinned: "The simple option is to simply leave the cache around.
However, intensive workloads may have generated a lot of objects and thus the dead
cache will live in memory for a long while." (the seed's cover text)

dentry slabs hold 21 objects; min_partial is 5; the kit has 2 cpus, one node.
"""
from __future__ import annotations

from slabpolicy.kernel.slub import CPU_SLAB, PARTIAL
from slabpolicy.api.testing import Kit

PER_SLAB = 21


def one_long_lived_object(options=None):
    k = Kit(cpus=2, policy="leave-in-place", options=options or {})
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    obj = k.alloc(s, n=1, cpu=0)[0]
    return k, cg, s, obj


def test_a_single_long_lived_object_keeps_slab_cache_and_memcg_until_freed_then_they_go():
    """Era 4.0 (Linux 4.0-4.6): at offline the cpu slab is flushed to the partial
    list; the one object keeps its slab, the dead cache and the dying memcg; its free
    empties the slab, which goes at once (min_partial 0), and a grace period later
    (css_free()) the cache and the memcg."""
    k, cg, s, obj = one_long_lived_object({"era": "4.0"})
    k.offline(cg)
    assert obj.where == PARTIAL and obj.inuse == 1
    assert s.dead and not s.destroyed and k.slub.dead_caches == {s}
    assert cg.state == "offline" and k.root.nr_dying_descendants == 1 == k.memcgs.nr_dying
    assert cg.usage == 1
    k.free(s, obj, cpu=1)
    assert obj.freed and not s.destroyed
    k.run_until(k.t + 10_000_000)
    assert s.destroyed and not k.slub.dead_caches
    assert cg.state == "released" and k.root.nr_dying_descendants == 0 == k.memcgs.nr_dying
    assert k.slub.total_pages == 0 == k.root.usage
    k.assert_accounting()


def test_without_an_era_the_empty_cpu_slab_keeps_the_dead_cache_for_a_long_while():
    """With the seed's simple option (era none) nothing flushes a dead cache: the slab
    stays frozen as cpu 0's cpu slab, empty, and pins the cache and the memcg; even a
    flush only puts it on the partial list (0 partial slabs <= min_partial).  Only
    kmem_cache_shrink() (memory pressure) discards it; then the cache and memcg go."""
    k, cg, s, obj = one_long_lived_object()
    k.offline(cg)
    k.free(s, obj, cpu=1)
    assert (obj.where, obj.inuse, obj.freed) == (CPU_SLAB, 0, False)
    assert not s.destroyed and cg.state == "offline" and k.memcgs.nr_dying == 1
    k.flush(s)
    assert (obj.where, obj.freed) == (PARTIAL, False) and cg.state == "offline"
    k.slub.now = k.t
    assert k.slub.kmem_cache_shrink(s) == 1
    k.run_until(k.t + 1_000_000)            # the destroy work item, queued at once
    assert obj.freed and s.destroyed and cg.state == "released" and k.memcgs.nr_dying == 0
    k.assert_accounting()


def test_frees_into_a_dead_cache_follow_the_normal_rules():
    """A dead cache keeps its slabs and frees into it work as before: with 6 partial
    slabs on the node (> min_partial), a slab emptied by frees is discarded and the
    dying memcg uncharged; the cache stays while it holds any slab."""
    k = Kit(cpus=2, policy="leave-in-place")
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=7 * PER_SLAB, cpu=0)
    slabs = [objs[i * PER_SLAB:(i + 1) * PER_SLAB] for i in range(7)]
    for group in slabs[:6]:
        k.free(s, group[0], cpu=1)          # six first frees onto cpu 1's partial list
    k.flush(s)                              # ... and onto the node list
    k.offline(cg)
    assert s.node[0].nr_partial == 6 and cg.usage == 7
    k.free(s, slabs[0][1:], cpu=1)
    assert slabs[0][0].freed and cg.usage == 6 and s.nr_slabs == 6
    assert not s.destroyed and cg.state == "offline"
    k.assert_accounting()


def test_a_memcg_that_never_allocated_is_released_at_offline():
    k = Kit(cpus=2, policy="leave-in-place")
    cg = k.memcg("idle")
    k.offline(cg)
    assert cg.state == "released" and k.memcgs.nr_dying == 0


def test_a_parent_with_a_dying_child_stays_dying_until_the_child_is_released():
    """A child's css pins its parent: rmdir of both leaves the parent dying while the
    child's dead cache lives; freeing the child's last object (era 4.11) releases
    the child, then the parent, once the destroy work has run."""
    k = Kit(cpus=2, policy="leave-in-place", options={"era": "4.11"})
    parent = k.memcg("parent")
    child = k.memcg("child", parent)
    s = k.cache(child, "dentry")
    obj = k.alloc(s, n=1, cpu=0)[0]
    k.offline(child)
    k.offline(parent)
    assert (child.state, parent.state) == ("offline", "offline")
    assert k.root.nr_dying_descendants == 2 and parent.nr_dying_descendants == 1
    assert parent.usage == 1                       # the child's page, hierarchically
    k.free(s, obj, cpu=0)
    assert (child.state, parent.state) == ("offline", "offline")
    k.run_until(k.t + 10_000_000)
    assert (child.state, parent.state) == ("released", "released")
    assert k.memcgs.nr_dying == 0 and parent.usage == 0
    k.assert_accounting()
