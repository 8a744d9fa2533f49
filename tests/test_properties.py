"""Invariants that must hold for every input (hypothesis), under every policy.

On random small workloads: no object is lost or freed twice, every slab holds
exactly the objects the test gave out from it, and, for every correct policy,
the accounting checker in strict mode finds nothing at any sample (charges equal
pages).  chaining as posted is run too: it must complete, see the same event
stream as the corrected variant, and break only the rules its closing note names.
"""
from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.runner import PolicyRun, run_one
from slabpolicy.api.testing import Kit
from slabpolicy.workloads.spec import load_workload

KINDS = {"small": (64, 64), "dentry": (192, 192), "big": (4096, 4096)}
CORRECT = [("leave-in-place", {}), ("leave-in-place", {"era": "4.0"}),
           ("leave-in-place", {"era": "4.7"}),
           ("leave-in-place", {"era": "4.11"}), ("reparent", {}), ("scan-and-move", {}),
           ("chaining", {"variant": "corrected"}), ("objcg", {}), ("objcg", {"era": "5.9"})]
AS_POSTED = ("chaining", {"variant": "as-posted"})
#: the kinds of violation chaining as posted is known to commit (tests/test_chaining.py)
AS_POSTED_KINDS = ("freed while still on", "pages charged but", "destroyed twice",
                   "dec_slabs_node() on a NULL cache", "nr_slabs counts", "is frozen on",
                   "already freed", "objects are live but", "slabs hold", "lost to allocation",
                   "freed with", "released with", "whose parent_slab is not set yet")

op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 3), st.sampled_from(list(KINDS)),
              st.integers(0, 3), st.integers(1, 40)),
    st.tuples(st.just("free"), st.integers(0, 10_000), st.integers(0, 3), st.integers(1, 40)),
    st.tuples(st.just("offline"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("flush"), st.integers(0, 3), st.sampled_from(list(KINDS))),
)


def _alloc(kit, cgroups, action, cpus) -> list[tuple]:
    """An ``alloc`` action: (cache, slab, objcg) per object, none if the memcg is offline."""
    _, cg, kind, cpu, n = action
    if cgroups[cg].state != "online":
        return []
    cache = kit.cache(cgroups[cg], kind)
    objcg = kit.objcg(cgroups[cg]) if cache.account else None
    return [(cache, slab, objcg) for slab in kit.alloc(cache, n=n, cpu=cpu % cpus, objcg=objcg)]


def _take(live: list, start: int, n: int) -> list:
    """Remove and return ``n`` held objects from position ``start`` (modulo)."""
    start %= len(live)
    batch, live[start:start + n] = live[start:start + n], []
    return batch


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=st.sampled_from(CORRECT), cpus=st.integers(1, 4), nodes=st.integers(1, 2),
       ops=st.lists(op, max_size=60))
def test_random_op_sequences_lose_nothing(policy, cpus, nodes, ops):
    nodes = min(nodes, cpus)
    name, options = policy
    kit = Kit(cpus=cpus, nodes=nodes, kinds=KINDS, policy=name, options=options)
    cgroups = [kit.memcg(f"cg{i}") for i in range(4)]
    live: list[tuple] = []              # (cache, slab, objcg) per object the test holds
    for action in ops:
        if action[0] == "alloc":
            live += _alloc(kit, cgroups, action, cpus)
        elif action[0] == "free" and live:
            _, start, cpu, n = action
            batch = _take(live, start, n)
            for cache, slab, objcg in batch:
                kit.free(cache, slab, cpu=cpu % cpus, objcg=objcg)
        elif action[0] == "offline" and cgroups[action[1]].state == "online":
            kit.offline(cgroups[action[1]], cpu=action[2] % cpus)
        elif action[0] == "flush":
            cache = cgroups[action[1]].caches.get(list(KINDS).index(action[2]))
            if cache is not None and not cache.destroyed and cgroups[action[1]].state == "online":
                kit.flush(cache)
        held = Counter(id(slab) for _, slab, _ in live)
        for _, slab, _ in live:
            assert not slab.freed, "an object's slab was freed under it"
            assert slab.inuse == held[id(slab)]
        kit.assert_accounting()
    for cache, slab, objcg in live:
        kit.free(cache, slab, cpu=0, objcg=objcg)
    kit.assert_accounting()
    # every slab that is left is empty, and every dying memcg is held only by its
    # caches and its unreleased children
    assert all(slab.inuse == 0 for c in kit.slub.caches for n in c.node for slab in n.slabs)
    for memcg in kit.memcgs:
        if memcg.dying:
            assert memcg.refs == (sum(1 for c in kit.slub.caches
                                      if c.memcg is memcg and c.root is not None)
                                  + len(memcg.children))


WORKLOAD = """
name: prop
duration: {duration}ms
sample_interval: 5ms
machine: {{cpus: {cpus}, nodes: {nodes}}}
caches:
  - {{name: a, object_size: {size_a}}}
  - {{name: b, object_size: {size_b}}}
memcg: {{cache_creation: {creation}}}
cgroups:
  - name: g
    count: {count}
    arrival: {{process: poisson, rate: {arrivals}/s}}
    lifetime: {{dist: exponential, mean: {cg_life}ms}}
    streams:
      - {{cache: a, rate: {rate}/s, remote_free: {remote},
          lifetime: {{dist: mixture, of: [{{weight: 0.9, dist: exponential, mean: 2ms}},
                                          {{weight: 0.1, dist: forever}}]}}}}
      - {{cache: b, rate: {rate}/s, lifetime: {{dist: lognormal, median: 3ms, sigma: 1}}}}
  - name: child
    parent: g
    count: 3
    arrival: {{process: fixed, interval: 7ms}}
    lifetime: 10ms
    streams: [{{cache: a, rate: 2000/s, lifetime: {{dist: pareto, scale: 1ms, alpha: 1.5}}}}]
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# found by this test: as posted, a free into a dead cache while kmem_switch_slab()
# waits for a list_lock finds SLAB_CHAINED without parent_slab (chaining's fix 4)
@example(cpus=3, nodes=1, size_a=700, size_b=4096, creation="lazy", count=3, arrivals=1250,
         cg_life=32, rate=14600, remote=0, duration=58, seed=60)
@given(cpus=st.integers(1, 4), nodes=st.integers(1, 2), size_a=st.sampled_from([8, 64, 192, 700]),
       size_b=st.sampled_from([96, 624, 4096]), creation=st.sampled_from(["lazy", "eager"]),
       count=st.integers(1, 8), arrivals=st.integers(50, 2000), cg_life=st.integers(1, 40),
       rate=st.integers(100, 20_000), remote=st.sampled_from([0, 0.3, 1]),
       duration=st.integers(20, 60), seed=st.integers(0, 99))
def test_random_workloads_under_every_policy(tmp_path_factory, cpus, nodes, size_a, size_b,
                                                creation, count, arrivals, cg_life, rate, remote,
                                                duration, seed):
    path = tmp_path_factory.mktemp("wl") / "w.yaml"
    path.write_text(WORKLOAD.format(cpus=cpus, nodes=min(nodes, cpus), size_a=size_a,
                                    size_b=size_b, creation=creation, count=count,
                                    arrivals=arrivals, cg_life=cg_life, rate=rate, remote=remote,
                                    duration=duration))
    workload = load_workload(path)
    registry = policy_registry(make_plugin_manager())
    results = {}
    for name, options in CORRECT + [AS_POSTED]:
        entry = registry[name]
        parsed, _ = entry.spec.parse_options(options)
        label = f"{name} {options}"
        strict = (name, options) != AS_POSTED
        results[label] = result = run_one(workload, PolicyRun(entry, label, parsed), seed,
                                          strict=strict)
        ops = result["ops"]
        assert ops["alloc"] >= ops["free"]
        if strict:
            assert result["accounting"]["violations"] == 0
            assert result["memory"]["live_objects"]["final"] == ops["alloc"] - ops["free"]
        elif result["accounting"]["violations"]:
            first = result["accounting"]["first_violation"]
            assert any(kind in first for kind in AS_POSTED_KINDS), first
    # paired by construction: every policy sees the same allocations and frees
    assert len({(r["ops"]["alloc"], r["ops"]["free"]) for r in results.values()}) == 1


RCU_MODES_BY_KIND = st.fixed_dictionaries({kind: st.sampled_from(["none", "call_rcu", "typesafe",
                                                                    "kfree_rcu"])
                                           for kind in KINDS})
reclaim_op = st.one_of(
    op,
    st.tuples(st.just("unused"), st.integers(0, 10_000), st.integers(0, 3), st.integers(1, 40)),
    st.tuples(st.just("rcu_free"), st.integers(0, 10_000), st.integers(0, 3), st.integers(1, 40)),
    st.tuples(st.just("limit"), st.integers(0, 3), st.integers(0, 8)),
    st.tuples(st.just("wait"), st.integers(1, 40)),
)


def _drain_rcu(kit):
    """Run until no RCU callback or kfree_rcu() batch is left."""
    rcu = kit.sim.rcu
    while rcu.callbacks != rcu.invoked or any(rcu.kfree):
        kit.run_until(kit.t + 10_000_000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=st.sampled_from(CORRECT), cpus=st.integers(1, 4), rcu=RCU_MODES_BY_KIND,
       small=st.booleans(), memory=st.sampled_from([None, 64, 256]),
       ops=st.lists(reclaim_op, max_size=60))
# found by this test: a dead child's cache chained to a parent's cache that went
# too (chaining's fix 5)
@example(policy=("chaining", {"variant": "corrected"}), cpus=4,
         rcu={"big": "none", "dentry": "call_rcu", "small": "kfree_rcu"}, small=False,
         memory=256, ops=[("alloc", 2, "dentry", 1, 33), ("wait", 8), ("offline", 2, 0),
                          ("offline", 0, 2), ("free", 716, 0, 40), ("rcu_free", 1914, 1, 1),
                          ("free", 1699, 2, 3)])
def test_reclaim_and_rcu_frees_lose_nothing_and_free_nothing_twice(policy, cpus, rcu, small,
                                                                    memory, ops):
    """Objects go unused onto list_lrus, memcgs get memory.high limits, the machine a
    memory size, frees go through RCU: at every step the strict accounting checker
    finds nothing (an unused object freed twice is a violation too), and once the RCU
    callbacks have run every slab holds exactly the objects still held or unused."""
    name, options = policy
    kit = Kit(cpus=cpus, kinds=KINDS, policy=name, options=options, rcu=rcu,
              memory=None if memory is None else memory * 4096)
    kit.sim.reclaim.small_cache_pressure = small
    cgroups = [kit.memcg(f"cg{i}") for i in range(2)]
    cgroups += [kit.memcg(f"cg{i}", cgroups[i - 2]) for i in range(2, 4)]
    live: list[tuple] = []
    unused = []
    for action in ops:
        if action[0] == "alloc":
            live += _alloc(kit, cgroups, action, cpus)
        elif action[0] in ("free", "unused", "rcu_free") and live:
            _, start, cpu, n = action
            batch = _take(live, start, n)
            for cache, slab, objcg in batch:
                if action[0] == "unused":
                    unused += kit.unused(cache, slab, cpu=cpu % cpus, objcg=objcg)
                elif action[0] == "rcu_free":
                    kit.free_rcu(cache, slab, cpu=cpu % cpus, objcg=objcg)
                else:
                    kit.free(cache, slab, cpu=cpu % cpus, objcg=objcg)
        elif action[0] == "offline" and cgroups[action[1]].state == "online" \
                and all(c.state != "online" for c in cgroups[action[1]].children):
            kit.offline(cgroups[action[1]], cpu=action[2] % cpus)
        elif action[0] == "limit":
            kit.limit(cgroups[action[1]], high=action[2])
        elif action[0] == "wait":
            kit.run_until(kit.t + action[1] * 1_000_000)
        kit.assert_accounting()
    _drain_rcu(kit)
    kit.assert_accounting()
    held = Counter(id(slab) for _, slab, _ in live)
    held.update(id(item.slab) for item in unused if not item.freed)
    for slab in {id(s): s for _, s, _ in live}.values():
        assert not slab.freed and slab.inuse == held[id(slab)]
    for item in unused:
        assert item.freed == (item.lru is None)
        if not item.freed:
            assert not item.slab.freed and item.slab.inuse == held[id(item.slab)]
    summary = kit.sim.reclaim.summary()
    assert summary["freed"]["total"] == sum(item.freed for item in unused) - summary["expired"]
    assert summary["lru_items"] == sum(not item.freed for item in unused)


PRESSURE_WORKLOAD = """
name: prop-pressure
duration: {duration}ms
sample_interval: 5ms
machine: {{cpus: {cpus}, memory: {memory}KiB}}
caches:
  - {{name: a, object_size: 192, rcu: {rcu_a}}}
  - {{name: b, object_size: 624, rcu: {rcu_b}}}
reclaim: {{small_cache_pressure: {small}}}
cgroups:
  - name: g
    count: {count}
    arrival: {{process: poisson, rate: {arrivals}/s}}
    lifetime: {{dist: exponential, mean: {cg_life}ms}}
    memory: {{high: {high}KiB}}
    streams:
      - {{cache: a, rate: {rate}/s, lifetime: {{dist: exponential, mean: 1ms}},
          unused_lifetime: forever, remote_free: 0.3}}
      - {{cache: b, rate: {rate}/s, lifetime: {{dist: exponential, mean: 2ms}},
          unused_lifetime: {{dist: exponential, mean: 10ms}}}}
"""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cpus=st.integers(1, 4), memory=st.sampled_from([256, 512, 1024]),
       high=st.sampled_from([64, 128, 100_000]), small=st.booleans(),
       rcu_a=st.sampled_from(["none", "call_rcu", "typesafe"]),
       rcu_b=st.sampled_from(["none", "call_rcu", "kfree_rcu"]), count=st.integers(1, 8),
       arrivals=st.integers(100, 1000), cg_life=st.integers(2, 30),
       rate=st.integers(1000, 20_000), duration=st.integers(20, 60), seed=st.integers(0, 99))
def test_workloads_under_memory_pressure_keep_the_books(tmp_path_factory, cpus, memory, high,
                                                         small, rcu_a, rcu_b, count, arrivals,
                                                         cg_life, rate, duration, seed):
    """Under pressure the frees depend on the policy (reclaim frees what the policy's
    memory use makes it free), but every policy sees the same allocations, and for
    every correct one the strict checker finds nothing at any sample."""
    path = tmp_path_factory.mktemp("wl") / "w.yaml"
    path.write_text(PRESSURE_WORKLOAD.format(cpus=cpus, memory=memory, high=high,
                                             small=str(small).lower(), rcu_a=rcu_a, rcu_b=rcu_b,
                                             count=count, arrivals=arrivals, cg_life=cg_life,
                                             rate=rate, duration=duration))
    workload = load_workload(path)
    registry = policy_registry(make_plugin_manager())
    allocations = set()
    for name, options in CORRECT:
        entry = registry[name]
        parsed, _ = entry.spec.parse_options(options)
        result = run_one(workload, PolicyRun(entry, f"{name} {options}", parsed), seed,
                         strict=True)
        ops = result["ops"]
        assert result["accounting"]["violations"] == 0
        assert result["memory"]["live_objects"]["final"] == ops["alloc"] - ops["free"]
        reclaim = result["reclaim"]
        assert reclaim["freed"]["total"] == reclaim["scanned"]["total"]
        assert result["rcu"]["invoked"] + result["rcu"]["pending"] == result["rcu"]["callbacks"]
        allocations.add(ops["alloc"])
    assert len(allocations) == 1
