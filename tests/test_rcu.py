"""RCU-deferred frees, pinned: call_rcu() batches land at the grace period's end on the
cpu that queued them; SLAB_TYPESAFE_BY_RCU delays the slab pages; kfree_rcu() batches.

dentry slabs hold 21 objects (one page); min_partial is 5; the grace period is the
cost model's 4 ms (2 cpus); call_rcu() costs 20 ns.
"""
from __future__ import annotations

from slabpolicy.api.testing import Kit

PER_SLAB = 21


def seven_partial_slabs(rcu_mode: str):
    """Seven dentry slabs on the node partial list with 20 objects each, the frees of
    the 140 objects queued on cpu 0 at ``at``."""
    k = Kit(cpus=2, rcu={"dentry": rcu_mode})
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=7 * PER_SLAB, cpu=1)
    slabs = sorted(set(objs), key=lambda s: s.id)
    k.free(dentry, slabs, cpu=1)           # one object of each: first free of a full slab
    k.flush(dentry)                        # cpu 1's partial list goes to the node
    assert k.node_partial(dentry) and all(k.on_partial(s) and s.inuse == 20 for s in slabs)
    rest = [obj for obj in objs]
    for slab in slabs:
        rest.remove(slab)
    return k, cg, dentry, slabs, rest


def test_a_batch_queued_on_one_cpu_lands_at_the_grace_periods_end_on_that_cpu():
    """140 call_rcu() frees queued on cpu 0 at time T share one grace period: the first
    wakes the grace-period kthread, which starts it at T + 20 ns as an event of its
    own, after the other 139 were queued.  Until it ends no object
    is freed; then one batch of 140 runs in softirq on cpu 0 (cpu 1 stays idle), each
    slab that empties takes list_lock (7 acquisitions) and the first two, with more
    than min_partial (5) partial slabs on the node, are discarded."""
    k, cg, dentry, slabs, rest = seven_partial_slabs("call_rcu")
    rcu = k.sim.rcu
    at = k.t + 1_000
    locks_before = k.lock_stats()["acquisitions"]
    cpu1_before = k.slub.cpu_free_at[1]
    k.free_rcu(dentry, rest, cpu=0, at=at)
    gp_end = at + 20 + 4_000_000
    k.run_until(gp_end - 1)
    assert rcu.grace_periods == 1 and rcu.gp_end == gp_end
    assert [s.inuse for s in slabs] == [20] * 7 and rcu.invoked == 0
    assert k.lock_stats()["acquisitions"] == locks_before

    k.run_until(gp_end + 1_000_000)

    assert rcu.invoked == 140 and rcu.batch_sizes.count == 1 and rcu.batch_sizes.max == 140
    assert [s.inuse for s in slabs] == [0] * 7
    assert [s.freed for s in slabs] == [True, True] + [False] * 5
    assert k.slub.cpu_free_at[0] > gp_end and k.slub.cpu_free_at[1] == cpu1_before
    assert k.lock_stats()["acquisitions"] == locks_before + 7
    list_lock = dentry.node[0].list_lock
    assert list_lock.cpu == 0 and list_lock.free_at > gp_end   # taken on cpu 0, after the GP
    summary = rcu.summary()
    assert (summary["callbacks"], summary["batches"], summary["pending"]) == (140, 1, 0)
    k.assert_accounting()


def test_callbacks_queued_during_a_grace_period_wait_for_the_next_one():
    """A second call_rcu() after the grace period started needs a whole one of its own:
    it lands one grace period later, in a second batch."""
    k, cg, dentry, slabs, rest = seven_partial_slabs("call_rcu")
    rcu = k.sim.rcu
    k.free_rcu(dentry, rest[0], cpu=0, at=k.t + 1_000)
    k.run_until(k.t + 2_000_000)
    assert rcu.grace_periods == 1
    k.free_rcu(dentry, rest[1], cpu=1)
    first_end = rcu.gp_end
    k.run_until(first_end + 1)
    assert (rcu.invoked, rcu.grace_periods) == (1, 2) and rcu.gp_end == first_end + 4_000_000
    k.run_until(rcu.gp_end + 1_000)
    assert rcu.invoked == 2 and rcu.batch_sizes.count == 2
    k.assert_accounting()


def test_typesafe_by_rcu_frees_objects_at_once_and_the_slab_pages_a_grace_period_later():
    """SLAB_TYPESAFE_BY_RCU: the frees are immediate; the two emptied slabs are
    discarded (uncounted) but their pages stay allocated and charged, and hold the
    memcg, until the grace period ends."""
    k, cg, dentry, slabs, rest = seven_partial_slabs("typesafe")
    k.free(dentry, rest, cpu=0)
    assert [s.inuse for s in slabs] == [0] * 7 and dentry.nr_slabs == 5
    assert [s.freed for s in slabs] == [True, True] + [False] * 5
    assert k.sim.rcu.pending_pages == 2 and k.slub.total_pages == 7 == cg.usage
    k.assert_accounting()
    k.offline(cg)
    k.run_until(k.t + 10_000_000)
    assert k.sim.rcu.pending_pages == 0 and k.sim.rcu.typesafe_slabs == 2
    assert k.slub.total_pages == 5 == cg.usage
    k.assert_accounting()


def test_kfree_rcu_batches_a_cpus_objects_for_20ms_then_one_grace_period():
    """kfree_rcu(): objects collect on their cpu for KFREE_DRAIN_JIFFIES (20 ms), the
    batch is one call_rcu() callback, freed in bulk after the grace period."""
    k, cg, dentry, slabs, rest = seven_partial_slabs("kfree_rcu")
    rcu = k.sim.rcu
    at = k.t + 1_000
    k.free_rcu(dentry, rest[:10], cpu=0, at=at)
    k.run_until(at + 19_000_000)
    assert rcu.kfree_batches == 0 and rcu.callbacks == 0
    k.run_until(at + 20_000_000 + 4_000_000 + 1_000_000)
    assert (rcu.kfree_objects, rcu.kfree_batches, rcu.callbacks, rcu.invoked) == (10, 1, 1, 1)
    assert sum(s.inuse for s in slabs) == 140 - 10
    k.assert_accounting()
