"""Invariants that must hold for every input (hypothesis), under every policy.

On random small workloads: no object is lost or freed twice, every slab holds
exactly the objects the test gave out from it, and, for every correct policy,
the accounting checker in strict mode finds nothing at any sample (charges equal
pages).  chaining as posted is run too: it must complete, see the same event
stream as the corrected variant, and break only the rules its closing note names.
"""
from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.runner import PolicyRun, run_one
from slabpolicy.api.testing import Kit
from slabpolicy.workloads.spec import load_workload

KINDS = {"small": (64, 64), "dentry": (192, 192), "big": (4096, 4096)}
CORRECT = [("leave-in-place", {}), ("leave-in-place", {"era": "4.0"}),
           ("leave-in-place", {"era": "4.7"}),
           ("leave-in-place", {"era": "4.11"}), ("reparent", {}), ("scan-and-move", {}),
           ("chaining", {"variant": "corrected"}), ("objcg", {})]
AS_POSTED = ("chaining", {"variant": "as-posted"})
#: the kinds of violation chaining as posted is known to commit (tests/test_chaining.py)
AS_POSTED_KINDS = ("freed while still on", "pages charged but", "destroyed twice",
                   "dec_slabs_node() on a NULL cache", "nr_slabs counts", "is frozen on",
                   "already freed", "objects are live but", "slabs hold", "lost to allocation",
                   "freed with", "released with")

op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 3), st.sampled_from(list(KINDS)),
              st.integers(0, 3), st.integers(1, 40)),
    st.tuples(st.just("free"), st.integers(0, 10_000), st.integers(0, 3), st.integers(1, 40)),
    st.tuples(st.just("offline"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("flush"), st.integers(0, 3), st.sampled_from(list(KINDS))),
)


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
            _, cg, kind, cpu, n = action
            if cgroups[cg].state != "online":
                continue
            cache = kit.cache(cgroups[cg], kind)
            objcg = kit.objcg(cgroups[cg]) if cache.account else None
            live += [(cache, slab, objcg)
                     for slab in kit.alloc(cache, n=n, cpu=cpu % cpus, objcg=objcg)]
        elif action[0] == "free" and live:
            _, start, cpu, n = action
            start %= len(live)
            batch, live[start:start + n] = live[start:start + n], []
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
