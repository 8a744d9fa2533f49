"""Locks are held by one operation at a time, in simulated time.

An operation that reaches a lock stops there and continues at the time it
arrives, so the acquisitions of a lock are processed in arrival order: a scenario
with exact waits, a property over random workloads (no two holds of one lock
overlap, every wait is exactly the time to the previous holder's release), and
the lock_stat columns a run reports.
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry, register_run_plugin
from slabpolicy.api.testing import Kit
from slabpolicy.kernel.engine import Simulation
from slabpolicy.kernel.locks import LockRegistry
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

#: round numbers, so that the scenario's times can be read off
COSTS = {"free_slow": 10, "cmpxchg": 2, "line_transfer": 10, "lock": 20, "lock_bounce": 40,
         "list_op": 5}


def test_three_overlapping_acquirers_on_two_cpus_wait_in_arrival_order():
    # A cache that keeps full slabs on the node full list (SLAB_STORE_USER): the
    # first free into a full slab moves it to the partial list under list_lock
    # (remove_full + add_partial: two list_ops).
    kit = Kit(cpus=2, kinds={"dentry": (192, 192)}, store_user=["dentry"], costs=COSTS)
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    objs = kit.alloc(dentry, n=3 * 21 + 1, cpu=0)       # slabs A, B, C full; D the cpu slab
    a, b, c = objs[0], objs[21], objs[42]
    assert len(dentry.node[0].full) == 3 and a is not b is not c
    lock = dentry.node[0].list_lock
    before = len(lock.trace)
    t = kit.t + 1000
    kit.queue_free(dentry, a, cpu=0, at=t)        # 1: cpu 0 at t
    kit.queue_free(dentry, b, cpu=0, at=t + 1)    # 2: cpu 0 at t+1, behind 1 on its cpu
    kit.queue_free(dentry, c, cpu=1, at=t + 2)    # 3: cpu 1 at t+2
    kit.run_until(t + 10_000)

    # 1 arrives after free_slow + cmpxchg, takes the free lock (last taken on cpu 0
    # too: no bounce) and releases it after lock + 2 list_ops.
    a1 = t + 12
    r1 = a1 + 20 + 10
    # 3's slab was last written by cpu 0 (line_transfer); it arrives at t+24, while 1
    # holds the lock: it waits until r1, and the lock's line comes from cpu 0 too.
    a3 = t + 2 + 12 + 10
    r3 = r1 + 40 + 10
    # 2 starts when 1 has ended on cpu 0 and arrives at r1 + 12, after 3 has the lock.
    a2 = r1 + 12
    r2 = r3 + 40 + 10
    assert lock.trace[before:] == [[0, a1, a1, r1], [1, a3, r1, r3], [0, a2, r3, r2]]
    waits = [acquired - arrived for _, arrived, acquired, _ in lock.trace[before:]]
    assert waits == [0, 18, 38]
    # 2 arrives before 3 releases: with operations run whole in event order, 2
    # (its event first) would have held [a2, a2 + 30) inside 3's [r1, r3).
    assert r1 < a2 < r3


def test_lock_stat_columns_count_waits_and_bounces_of_the_scenario():
    kit = Kit(cpus=2, kinds={"dentry": (192, 192)}, store_user=["dentry"], costs=COSTS)
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    objs = kit.alloc(dentry, n=3 * 21 + 1, cpu=0)
    before = dict(kit.lock_stats())
    t = kit.t + 1000
    kit.queue_free(dentry, objs[0], cpu=0, at=t)
    kit.queue_free(dentry, objs[21], cpu=0, at=t + 1)
    kit.queue_free(dentry, objs[42], cpu=1, at=t + 2)
    kit.run_until(t + 10_000)
    after = kit.lock_stats()
    delta = {k: after[k] - before[k] for k in ("acquisitions", "contentions", "wait_ns_total",
                                               "acq_bounces", "con_bounces")}
    assert delta == {"acquisitions": 3, "contentions": 2, "wait_ns_total": 18 + 38,
                     "acq_bounces": 2, "con_bounces": 2}
    assert after["wait_ns_max"] == 38
    hist = kit.sim.locks.classes["list_lock"].wait_hist
    assert sorted(hist.counts.items()) == [(18, 1), (38, 1)]


WORKLOAD = """
name: random-locks
seed: 1
duration: {duration}ms
machine: {{cpus: {cpus}, nodes: {nodes}, page_size: 4KiB}}
caches:
  - {{name: dentry, object_size: 192}}
  - {{name: big, object_size: 2048}}
cgroups:
  - name: c
    parent: root
    count: {count}
    arrival: {{process: poisson, rate: {arrivals}/s}}
    lifetime: {{dist: exponential, mean: {life}ms}}
    streams:
      - cache: dentry
        rate: {rate}/s
        lifetime: {{dist: exponential, mean: {objlife}us}}
        remote_free: {remote}
      - cache: big
        rate: {rate}/s
        lifetime: {{dist: exponential, mean: {objlife}us}}
        remote_free: {remote}
policies: [{policy}]
"""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(policy=st.sampled_from(["leave-in-place", "scan-and-move", "objcg",
                               "{name: chaining, options: {variant: corrected}}"]),
       cpus=st.integers(2, 8), nodes=st.integers(1, 2), count=st.integers(1, 6),
       rate=st.integers(20_000, 300_000), objlife=st.integers(5, 400),
       remote=st.sampled_from([0, 0.5, 1]), seed=st.integers(0, 1000))
def test_no_two_holds_of_a_lock_overlap_and_the_waits_add_up(tmp_path, policy, cpus, nodes,
                                                           count, rate, objlife, remote, seed):
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD.format(duration=4, cpus=cpus, nodes=min(nodes, cpus), count=count,
                                    arrivals=2000, life=1, rate=rate, objlife=objlife,
                                    remote=remote, policy=policy))
    workload = load_workload(path)
    pm = make_plugin_manager(())
    run = resolve_policies(workload, [], policy_registry(pm))[0]
    register_run_plugin(pm, run.entry.spec.factory(dict(run.options)), "policy")
    sim = Simulation(workload, seed=seed, hook=pm.hook, strict=True, trace_locks=True)
    sim.run()
    assert not sim.turns.stopped               # no operation is left half done
    for cls in sim.locks.classes.values():
        holds = [h for lock in sim.locks.locks if lock.cls is cls for h in lock.trace]
        assert sum(acquired - arrived for _, arrived, acquired, _ in holds) == cls.wait_ns_total
        assert sum(acquired > arrived for _, arrived, acquired, _ in holds) == cls.contentions
        assert len(holds) == cls.acquisitions
    for lock in sim.locks.locks:
        previous_release = 0
        for cpu, arrived, acquired, released in sorted(lock.trace, key=lambda h: h[2]):
            assert released >= acquired >= arrived
            # exclusive: taken when the previous holder released it, not before
            assert acquired == max(arrived, previous_release), (lock.name, lock.trace)
            previous_release = released


def test_a_run_reports_lock_stat_columns_and_histograms():
    path = Path(__file__).resolve().parent.parent / "experiments" / "default.yaml"
    workload = load_workload(path, overrides=["duration=1s"])
    registry = policy_registry(make_plugin_manager(()))
    run = resolve_policies(workload, ["scan-and-move"], registry)[0]
    result = run_one(workload, run, seed=1)
    stats = result["locks"]["list_lock"]
    assert set(stats) == {"acquisitions", "contentions", "wait_ns_total", "wait_ns_max",
                          "hold_ns_total", "hold_ns_max", "con_bounces", "acq_bounces"}
    assert stats["acq_bounces"] > 0          # 4 cpus take the same list_locks
    assert stats["con_bounces"] <= stats["contentions"]
    hist = result["lock_hist"]["list_lock"]
    assert sum(n for _, n in hist["hold"]) == stats["acquisitions"]
    assert sum(n for _, n in hist["wait"]) == stats["contentions"]
    assert sum(ns * n for ns, n in hist["wait"]) <= stats["wait_ns_total"]


def test_a_lock_counts_waits_and_holds_exactly_at_times_past_an_int64():
    # The compiled core compares, adds and subtracts a lock's times in C where they fit
    # an int64, as Python ints where they do not (a clock past 2**63 ns): the lock_stat
    # columns are the same either way.
    registry = LockRegistry()
    lock = registry.new_lock("list_lock")
    big = 1 << 64
    assert lock.take(100, 100, 0, 20, 40) == 120           # uncontended: work from 120
    lock.release(150)                                     # held 30
    assert lock.take(140, 150, 1, 20, 40) == 190         # waits 10; a bounce
    lock.release(big)                                     # held big - 190: past an int64
    assert lock.take(big - 5, big, 1, 20, 40) == big + 20  # waits 5
    lock.release(big + 21)                                # held 1
    assert lock.take(big + 30, big + 30, 0, 20, 40) == big + 70
    lock.release(big + 72)                                # held 2, after a bounce
    cls = registry.classes["list_lock"]
    assert cls.as_dict() == {
        "acquisitions": 4, "contentions": 2, "wait_ns_total": 15, "wait_ns_max": 10,
        "hold_ns_total": 30 + (big - 190) + 1 + 2, "hold_ns_max": big - 190,
        "con_bounces": 1, "acq_bounces": 2}
    assert cls.hold_hist.max == big - 190 and cls.hold_hist.count == 4
