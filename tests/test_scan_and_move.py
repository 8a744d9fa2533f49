"""Scenario tests of the scan-and-move policy (plugins/scan_and_move.py).

The seed patch's cover text rejects this policy in one sentence: "Scanning the
list of objects in the dead cache takes time, and would probably require us to
lock the free path of every objects to make sure we're not racing against the
update."  These tests pin each half of that sentence, and the policy as
docs/model.md section 4 and the plugin's docstring describe it, with exact counts.

Geometry used throughout: ``dentry`` (192-byte slots) on a 2-cpu, 4 KiB-page
machine is an order-0 slab of 21 objects, min_partial 5.  Default cost model:
lock 16 (57 when the lock was last taken on the other cpu), list_op 2,
object_scan 82, flush_cpu 1000, memcg_charge 53, cmpxchg 5 (+ line_transfer 41 when
the other cpu wrote the slab last), free_slow 15, cache_destroy 10000 ns.
"""
from __future__ import annotations


import pytest
from scipy.stats import linregress

from slabpolicy.kernel.costs import default_costs
from slabpolicy.kernel.slub import CPU_PARTIAL, CPU_SLAB, FULL, NOWHERE, PARTIAL
from slabpolicy.api.testing import Kit

PER_SLAB = 21          # dentry objects per order-0 slab on this machine
COSTS = default_costs()


def kit(policy: str = "scan-and-move", **kw) -> Kit:
    kw.setdefault("cpus", 2)
    return Kit(policy=policy, **kw)


def offline_cost(full_slabs: int, scan_slab_ns: int = 0) -> int:
    """The offline latency of a memcg whose one dentry cache holds ``full_slabs`` full
    slabs, the last one the cpu slab of cpu 0, moved to the root cache.

    free_lock (lock) + flush_all (flush_cpu for cpu 0, the one cpu with a cpu slab;
    the other is not sent an IPI; the full cpu slab: cmpxchg,
    lock + add_full) + the old and new node list_locks (2 lock) + per slab: the
    walk (list_op + scan_slab_ns), remove_full (list_op), object_scan per object
    (the root cache keeps no full list: add_full costs nothing) + one
    uncharge_until (memcg_charge) + kmem_cache_destroy (cache_destroy).
    """
    c = COSTS
    scan = (c["lock"] + c["flush_cpu"] + c["cmpxchg"] + c["lock"] + c["list_op"]
            + 2 * c["lock"]
            + full_slabs * (2 * c["list_op"] + scan_slab_ns + PER_SLAB * c["object_scan"])
            + c["memcg_charge"])
    return scan + c["cache_destroy"]


def test_offline_moves_every_slab_and_its_charge_to_the_root_cache():
    """Every slab is re-homed to the parent's cache with its charge, then the cache is
    destroyed at once: no dead cache and no dying memcg survive rmdir."""
    k = kit()
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    objs = k.alloc(dentry, n=3 * PER_SLAB + 8, cpu=0)      # 3 full slabs + 8 objects
    assert dentry.nr_slabs == 4 and cg.usage == 4 and k.root.usage == 4
    k.offline(cg)
    assert dentry.destroyed and not k.slub.dead_caches
    assert cg.state == "released" and k.memcgs.nr_dying == 0 and cg.usage == 0
    assert k.root.usage == 4                                 # the parent stays charged
    assert root_dentry.nr_slabs == 4 and root_dentry.existing_slabs() == 4
    moved = {slab for slab in objs}
    assert len(moved) == 4 and all(s.cache is root_dentry for s in moved)
    # the root cache keeps no full list: 3 full slabs on no list, 1 on the partial list
    assert sorted(s.where for s in moved) == [NOWHERE] * 3 + [PARTIAL]
    assert k.node_partial(root_dentry) == [objs[-1]]
    assert k.policy.slabs_moved == 4 and k.policy.objects_scanned == 3 * PER_SLAB + 8
    assert k.policy.pages_moved == 4 and k.policy.slabs_discarded == 0
    k.assert_accounting()


def test_later_frees_go_to_the_parents_cache():
    """"later frees of objects allocated from the destroyed cache go to the slab's new
    cache": kmem_cache_free(dead, x) runs __slab_free() on page->slab, the root cache."""
    k = kit()
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    objs = k.alloc(dentry, n=2 * PER_SLAB, cpu=0)            # 2 full slabs
    k.offline(cg)
    first = objs[0]
    k.free(dentry, first, cpu=1)
    # the first free into a full slab of the root cache freezes it onto cpu 1's partial
    # list (no full list there): the root cache's statistics count it
    assert first.where == CPU_PARTIAL and k.cpu_partial(root_dentry, 1) == [first]
    assert root_dentry.stats.get("CPU_PARTIAL_FREE") == 1
    assert "CPU_PARTIAL_FREE" not in dentry.stats
    k.free(dentry, objs[1:], cpu=1)
    assert sum(s.inuse for s in set(objs)) == 0
    assert root_dentry.nr_slabs == 2 and k.root.usage == 2 and cg.usage == 0
    k.assert_accounting()


def test_dying_child_moves_to_its_parent_then_to_the_root():
    """uncharge_until(memcg, parent): "the parent stays charged"; a non-root parent's
    cache keeps a full list, so the moved full slabs land on it; the parent's own
    offline moves them again, to the root."""
    k = kit()
    parent = k.memcg("p")
    child = k.memcg("c", parent)
    cdentry = k.cache(child, "dentry")
    objs = k.alloc(cdentry, n=2 * PER_SLAB + 8, cpu=0)      # 2 full + 1 partial slab
    k.offline(child)
    pdentry = k.cache(parent, "dentry")
    assert child.state == "released" and child.usage == 0
    assert parent.usage == 3 and k.root.usage == 3
    assert len(pdentry.node[0].full) == 2 and k.node_partial(pdentry) == [objs[-1]]
    assert pdentry.nr_slabs == 3
    k.offline(parent)
    root_dentry = k.slub.root_caches[cdentry.index]
    assert parent.state == "released" and parent.usage == 0 and k.root.usage == 3
    assert root_dentry.nr_slabs == 3 and not k.slub.dead_caches
    k.free(cdentry, objs, cpu=1)
    k.assert_accounting()


def test_empty_slabs_are_discarded_not_moved():
    """An empty slab holds no object any free could reach: the scan discards it
    (option discard_empty, default) and its page is uncharged, not handed up."""
    k = kit()
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=2 * PER_SLAB, cpu=0)
    k.free(dentry, objs[:PER_SLAB], cpu=0)       # the first slab: full list -> partial, empty
    assert k.node_partial(dentry) == [objs[0]] and objs[0].inuse == 0   # min_partial keeps it
    k.offline(cg)
    assert k.policy.slabs_discarded == 1 and k.policy.slabs_moved == 1
    assert objs[0].freed and k.root.usage == 1 and k.slub.total_pages == 1
    k.assert_accounting()

    k2 = kit(options={"discard_empty": False})
    cg2 = k2.memcg("a")
    d2 = k2.cache(cg2, "dentry")
    objs2 = k2.alloc(d2, n=2 * PER_SLAB, cpu=0)
    k2.free(d2, objs2[:PER_SLAB], cpu=0)
    k2.offline(cg2)
    assert k2.policy.slabs_moved == 2 and k2.root.usage == 2
    k2.assert_accounting()


def test_full_slabs_are_on_the_full_list_and_every_transition_takes_list_lock():
    """Full slabs must be kept on a list (SLUB keeps none without debugging), so each
    full/non-full transition takes list_lock: the fast-path cost Christoph Lameter
    objected to in 2014.  Same operations under leave-in-place
    take list_lock 0 times."""
    counts = {}
    for policy in ("scan-and-move", "leave-in-place"):
        k = kit(policy)
        cg = k.memcg("a")
        dentry = k.cache(cg, "dentry")
        objs = k.alloc(dentry, n=3 * PER_SLAB, cpu=0)       # slabs 1, 2 full; 3 the cpu slab
        after_alloc = k.lock_stats()["acquisitions"]
        full_alloc = len(dentry.node[0].full)
        k.free(dentry, objs[0], cpu=0)                       # slab 1: full -> not full
        after_free = k.lock_stats()["acquisitions"]
        full_free = len(dentry.node[0].full)
        k.alloc(dentry, n=1, cpu=0)                          # slab 3 full -> refill
        counts[policy] = (after_alloc, full_alloc, after_free, full_free,
                          k.lock_stats()["acquisitions"], len(dentry.node[0].full))
        if policy == "scan-and-move":
            assert [s.where for s in (objs[0], objs[PER_SLAB], objs[2 * PER_SLAB])] == \
                   [CPU_SLAB, FULL, FULL]                           # slab 1 is the cpu slab again
        k.assert_accounting()
    # scan-and-move: 2 slabs deactivated full -> 2 add_full under list_lock; the free
    # takes it for remove_full + add_partial (3); the alloc for add_full of slab 3 (4)
    # and, with no cpu partial list in a full-tracking cache, get_partial_node() (5).
    assert counts["scan-and-move"] == (2, 2, 3, 1, 5, 2)
    assert counts["leave-in-place"] == (0, 0, 0, 0, 0, 0)


def test_every_free_into_a_memcg_cache_takes_the_scan_lock():
    """"would probably require us to lock the free path of every objects": every free
    into a memcg cache acquires memcg_scan_lock, the lock-free fast path included; the
    root cache's frees and all allocations do not."""
    k = kit()
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    objs = k.alloc(dentry, n=10, cpu=0)
    k.free(dentry, objs[:6], cpu=0)                    # fast path: cpu 0's cpu slab
    k.free(dentry, objs[6:], cpu=1)                    # slow path: a remote free
    stats = k.lock_stats("memcg_scan_lock")
    assert stats["acquisitions"] == 10 and stats["contentions"] == 0
    assert k.slub.n_free_fast == 6 and k.slub.h_free_fast_rec.count == 6
    assert k.slub.n_free_slow == 4
    # the locked fast path costs lock + free_fast: 16 + 5 ns instead of 5
    assert k.slub.h_free_fast_rec.max == COSTS["lock"] + COSTS["free_fast"]
    robjs = k.alloc(root_dentry, n=5, cpu=0)
    k.free(root_dentry, robjs, cpu=0)
    assert k.lock_stats("memcg_scan_lock")["acquisitions"] == 10
    k.assert_accounting()


@pytest.mark.parametrize("scan_slab_ns", [0, 40])
def test_offline_latency_grows_linearly_with_the_objects_scanned(scan_slab_ns):
    """"Scanning the list of objects in the dead cache takes time": offline latency over
    1, 2, 4, 8 full slabs (21 .. 168 objects) is a line whose slope is object_scan plus
    the per-object share of the per-slab costs (walk list_op + remove_full list_op +
    scan_slab_ns, over 21 objects) exactly, and whose intercept is the fixed work."""
    points = []
    for slabs in (1, 2, 4, 8):
        k = kit(options={"scan_slab_ns": f"{scan_slab_ns}ns"})
        cg = k.memcg("a")
        dentry = k.cache(cg, "dentry")
        k.alloc(dentry, n=slabs * PER_SLAB, cpu=0)
        k.offline(cg, cpu=0)
        assert k.sim.h_offline.count == 1
        latency = k.sim.h_offline.max
        assert latency == offline_cost(slabs, scan_slab_ns=scan_slab_ns)
        points.append((slabs * PER_SLAB, latency))
    fit = linregress([p[0] for p in points], [p[1] for p in points])
    assert fit.rvalue ** 2 > 0.99
    slope = COSTS["object_scan"] + (2 * COSTS["list_op"] + scan_slab_ns) / PER_SLAB
    assert fit.slope == pytest.approx(slope, rel=1e-9)       # 82.190476 ns/object at 0
    assert fit.intercept == pytest.approx(offline_cost(0), rel=1e-9)   # 11124 ns
    assert offline_cost(0) == 11124 and offline_cost(8) == 11124 + 8 * 1726


def test_a_free_racing_the_scan_waits_for_its_end():
    """"to make sure we're not racing against the update": a free of a dead-cache object
    arriving 1 ns after rmdir started waits on memcg_scan_lock until the scan releases
    it, then frees into the slab's new (root) cache."""
    k = kit()
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    objs = k.alloc(dentry, n=2 * PER_SLAB, cpu=0)
    T = 1_000_000
    k.offline(cg, cpu=0, at=T)
    latency = k.sim.h_offline.max
    assert latency == offline_cost(2) == 14576
    scan_end = T + latency - COSTS["cache_destroy"]        # the lock goes before destroy
    k.free(dentry, objs[0], cpu=1, at=T + 1)
    stats = k.lock_stats("memcg_scan_lock")
    wait = scan_end - (T + 1)
    assert wait == 4575
    assert stats["contentions"] == 1 and stats["wait_ns_max"] == wait
    # the scan held the lock from its acquisition (T + lock) to scan_end
    assert stats["hold_ns_max"] == scan_end - (T + COSTS["lock"]) == 4560
    # the free's latency: the wait, the lock (its line on cpu 0: lock_bounce),
    # free_slow, and __slab_free() of a full root slab that cpu 0 wrote last:
    # cmpxchg + line_transfer + put_cpu_partial()'s cmpxchg
    assert k.slub.h_free_slow.count == 1
    assert k.slub.h_free_slow.max == (wait + COSTS["lock_bounce"] + COSTS["free_slow"]
                                      + 2 * COSTS["cmpxchg"] + COSTS["line_transfer"])
    assert k.slub.h_free_slow.max == 4698
    assert k.cpu_partial(root_dentry, 1) == [objs[0]]
    k.free(dentry, objs[1:], cpu=1)
    k.assert_accounting()


# -- free_lock: during-scan: the seed's own technique (a flag under rcu_read_lock()) --

DURING = {"free_lock": "during-scan"}
GRACE = COSTS["rcu_grace_period"]      # synchronize_rcu() on 2 cpus


def test_during_scan_a_free_outside_a_scan_takes_no_lock():
    """With the flag down, slab_free() of a memcg cache is the plain SLUB free: the
    same frees that take memcg_scan_lock 10 times under free_lock: always (above)
    take it 0 times, and the cpu slab's frees stay on the unrecorded fast path."""
    k = kit(options=DURING)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=10, cpu=0)
    k.free(dentry, objs[:6], cpu=0)                    # fast path: cpu 0's cpu slab
    k.free(dentry, objs[6:], cpu=1)                    # slow path: a remote free
    assert k.lock_stats("memcg_scan_lock")["acquisitions"] == 0
    assert k.slub.n_free_fast == 6 and k.slub.h_free_fast_rec.count == 0
    assert k.slub.n_free_slow == 4
    k.assert_accounting()


def test_during_scan_a_free_after_the_flag_goes_up_takes_the_locked_path():
    """Offline sets the flag, then waits a grace period: a free 1 ns later, into cpu 0's
    cpu slab, takes memcg_scan_lock (uncontended: the scan has not started) around its
    fast path; once the scan is done the flag is down again and the next free takes
    no lock."""
    k = kit(options=DURING)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=10, cpu=0)
    T = 1_000_000
    k.offline(cg, cpu=0, at=T, wait=False)
    assert dentry.free_lock is not None and not dentry.destroyed    # flag up, no scan yet
    k.free(dentry, objs[0], cpu=0, at=T + 1)
    stats = k.lock_stats("memcg_scan_lock")
    assert stats["acquisitions"] == 1 and stats["contentions"] == 0
    assert k.slub.h_free_fast_rec.count == 1
    assert k.slub.h_free_fast_rec.max == COSTS["lock"] + COSTS["free_fast"]
    k.run_until(T + GRACE + offline_cost(1))       # the scan and its flag's end
    assert dentry.destroyed and dentry.free_lock is None and k.policy.objects_scanned == 9
    k.free(dentry, objs[1], cpu=1)
    assert k.lock_stats("memcg_scan_lock")["acquisitions"] == 2      # the scan's own
    k.free(dentry, objs[2:], cpu=1)
    k.assert_accounting()


def test_during_scan_a_free_racing_the_scan_waits_for_its_end():
    """The same race as under free_lock: always, one grace period later: the scan
    starts when synchronize_rcu() returns, and a free 1 ns after that waits on
    memcg_scan_lock exactly as long, then frees into the root cache."""
    k = kit(options=DURING)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    root_dentry = k.slub.root_caches[dentry.index]
    objs = k.alloc(dentry, n=2 * PER_SLAB, cpu=0)
    T = 1_000_000
    k.offline(cg, cpu=0, at=T, wait=False)
    k.queue_free(dentry, objs[0], cpu=1, at=T + GRACE + 1)    # runs after the scan began
    k.run_until(T + GRACE + 1)
    assert k.sim.h_offline.max == GRACE + offline_cost(2) == 4_014_576
    scan_end = T + k.sim.h_offline.max - COSTS["cache_destroy"]
    stats = k.lock_stats("memcg_scan_lock")
    wait = scan_end - (T + GRACE + 1)
    assert wait == 4575 and stats["contentions"] == 1 and stats["wait_ns_max"] == wait
    assert k.slub.h_free_slow.count == 1 and k.slub.h_free_slow.max == 4698
    assert k.cpu_partial(root_dentry, 1) == [objs[0]]
    k.free(dentry, objs[1:], cpu=1)
    k.assert_accounting()


def test_during_scan_a_free_in_flight_when_the_flag_goes_up_releases_no_lock():
    """A remote free that began with the flag down took no memcg_scan_lock; the flag
    going up while it is inside __slab_free() (here, set from within it) does not
    make it release one at its end: it releases the lock it took, none.  Reading the
    flag again at the end would release the scan lock it never held (a hold of the
    whole run's length in lock_stat, and the lock freed under whoever held it)."""
    k = kit(options=DURING)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=10, cpu=0)
    slowpath = k.slub.slab_free_slowpath

    def flag_goes_up_meanwhile(s, slab, cpu, can_defer):
        dentry.free_lock = dentry.policy_data["scan_lock"]
        return slowpath(s, slab, cpu, can_defer)

    k.slub.slab_free_slowpath = flag_goes_up_meanwhile
    k.free(dentry, objs[0], cpu=1, at=1_000_000)       # a remote free: __slab_free()
    del k.slub.slab_free_slowpath
    scan_locks = k.sim.locks.classes["memcg_scan_lock"]
    assert (scan_locks.acquisitions, scan_locks.hold_hist.count, scan_locks.hold_ns_total) \
        == (0, 0, 0)
    assert not dentry.free_lock.held
    k.free(dentry, objs[1], cpu=1)                     # the flag is up: the locked path
    assert (scan_locks.acquisitions, scan_locks.hold_hist.count) == (1, 1)
    k.free(dentry, objs[2:], cpu=1)
    k.assert_accounting()


def test_during_scan_the_offline_pays_one_grace_period_for_all_its_caches():
    """Every dead cache's flag goes up before one synchronize_rcu(): a memcg with two
    caches waits one grace period, not two; the rest of its offline is the scans of
    free_lock: always, to the nanosecond."""
    latency = {}
    for mode in ("always", "during-scan"):
        k = kit(options={"free_lock": mode})
        cg = k.memcg("a")
        k.alloc(k.cache(cg, "dentry"), n=2 * PER_SLAB, cpu=0)
        k.alloc(k.cache(cg, "inode_cache"), n=7, cpu=1)
        k.offline(cg, cpu=0)
        latency[mode] = k.sim.h_offline.max
        assert k.sim.rcu_waits == (1 if mode == "during-scan" else 0)
        assert cg.state == "released" and not k.slub.dead_caches
        k.assert_accounting()
    assert latency["during-scan"] - latency["always"] == GRACE


@pytest.mark.parametrize("free_lock", ["always", "during-scan"])
def test_hot_and_cold_scans_differ_by_the_per_object_difference(free_lock):
    """scan_cache: hot reads each object from L2 (object_scan_hot), cold misses to
    DRAM (object_scan): over 3 full slabs and 8 objects the offlines differ by
    71 x (object_scan - object_scan_hot) exactly, and by nothing else."""
    latency = {}
    for where in ("cold", "hot"):
        k = kit(options={"free_lock": free_lock, "scan_cache": where})
        cg = k.memcg("a")
        k.alloc(k.cache(cg, "dentry"), n=3 * PER_SLAB + 8, cpu=0)
        k.offline(cg, cpu=0)
        assert k.policy.objects_scanned == 71
        latency[where] = k.sim.h_offline.max
    assert latency["cold"] - latency["hot"] == \
        71 * (COSTS["object_scan"] - COSTS["object_scan_hot"]) == 71 * 78


def test_rcu_batches_freeing_into_full_slabs_take_both_locks_in_arrival_order():
    """Two cpus' RCU batches land at the same grace-period end G, each freeing the first
    object of a full dentry slab (cpu 0 wrote both) of the same memcg cache.  Cpu 0's
    batch runs first and, cpu 1's batch queued before its free arrives at
    memcg_scan_lock (G+5, after rcu_callback), stops before that free.  Cpu 1's free
    arrives at G+5 too, with nothing earlier queued: it takes memcg_scan_lock (lock
    16), pays free_slow 15, cmpxchg 5 and the line transfer of a slab cpu 0 wrote
    (41), and reaches list_lock at G+82, after cpu 0's stopped free (G+5): it waits
    for its turn there holding memcg_scan_lock, stopped as a continuation (kernel/rcu.py).
    Cpu 0's free finds memcg_scan_lock held by that stopped free and queues behind
    it; at G+82 cpu 1 takes list_lock (last taken by cpu 0: the bounce, 57), moves
    its slab from the full to the partial list (2 list_op) and hands memcg_scan_lock
    over at G+143; cpu 0 pays the bounce, free_slow and cmpxchg, and takes list_lock
    at G+220, bounced too.  No hold of either lock overlaps another."""
    c = COSTS
    assert (c["rcu_callback"], c["lock"], c["lock_bounce"], c["line_transfer"]) == (5, 16, 57, 41)
    k = kit(rcu={"dentry": "call_rcu"})
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=2 * PER_SLAB + 1, cpu=0)
    first, second = objs[0], objs[PER_SLAB]
    assert first.where == second.where == FULL
    list_lock = dentry.node[0].list_lock
    holds_before = len(list_lock.trace)
    at = k.t + 1_000
    k.free_rcu(dentry, first, cpu=0, at=at)
    k.free_rcu(dentry, second, cpu=1, at=at)
    g = at + c["call_rcu"] + c["rcu_grace_period"]      # the kthread starts it after call_rcu()
    k.run_until(g + 1_000_000)
    assert k.sim.rcu.gp_end == g

    assert dentry.free_lock.trace == [[1, g + 5, g + 5, g + 143], [0, g + 5, g + 143, g + 281]]
    assert list_lock.trace[holds_before:] == [[1, g + 82, g + 82, g + 143],
                                              [0, g + 220, g + 220, g + 281]]
    scan = k.lock_stats("memcg_scan_lock")
    assert (scan["acquisitions"], scan["contentions"], scan["wait_ns_total"]) == (2, 1, 138)
    assert first.where == second.where == PARTIAL and first.inuse == second.inuse == PER_SLAB - 1
    assert k.sim.rcu.invoked == 2 and k.sim.turns.stopped == 0
    k.assert_accounting()


def test_a_stopped_rcu_free_takes_memcg_scan_lock_at_its_turn_behind_earlier_arrivals():
    """Cpu 0's RCU batch frees three objects of a partial dentry slab (no list_lock):
    each takes memcg_scan_lock 5 ns (rcu_callback) after the last, and holds it for
    lock 16, free_slow 15 and cmpxchg 5 (57 and +41 once cpu 1 took the lock and
    wrote the slab last).  Cpu 1 frees into the same slab at G+45, 1 ns before cpu
    0's second free arrives (G+46), and again at G+46.  Cpu 0's batch stops before
    its second free; cpu 1's takes the lock at G+45; at its turn (G+46) cpu 0's free
    takes it without asking again, spinning until G+163, ahead of cpu 1's second
    free, which reached the lock at G+163 only (its cpu was busy until then); cpu 0's
    third free, arriving at G+286 after cpu 1's (queued at G+163), goes last.  Were
    an event earlier than the turn still queued when the stopped free takes the lock
    (the proof in Rcu._resume_batch()), the acquisitions would not be in arrival
    order."""
    c = COSTS
    k = kit(rcu={"dentry": "call_rcu"})
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=2 * PER_SLAB + 1, cpu=0)
    k.free(dentry, objs[0], cpu=0)          # the first slab: from the full list to the partial
    assert objs[1].where == PARTIAL
    at = k.t + 1_000
    k.free_rcu(dentry, objs[1:4], cpu=0, at=at)
    g = at + c["call_rcu"] + c["rcu_grace_period"]
    k.queue_free(dentry, objs[4], cpu=1, at=g + 45)
    k.queue_free(dentry, objs[5], cpu=1, at=g + 46)
    k.run_until(g + 1_000_000)
    assert k.sim.rcu.gp_end == g
    assert [h for h in dentry.free_lock.trace if h[1] >= g] == [
        [0, g + 5, g + 5, g + 41],          # 16 + 15 + 5
        [1, g + 45, g + 45, g + 163],       # 57 + 15 + 5 + 41
        [0, g + 46, g + 163, g + 281],      # cpu 0's turn: spins from G+46 to G+163
        [1, g + 163, g + 281, g + 399],
        [0, g + 286, g + 399, g + 517]]
    scan = k.lock_stats("memcg_scan_lock")
    assert (scan["contentions"], scan["wait_ns_total"]) == (3, 117 + 118 + 113)
    assert k.sim.rcu.invoked == 3 and k.sim.turns.stopped == 0 and objs[1].inuse == PER_SLAB - 6
    k.assert_accounting()
