"""No plugin hook is called on the alloc or free fast path: proved by measurement.

The same small workload runs twice through ``slabpolicy.runs.runner.run_one``: once
with every stream at rate R and once at 4R, with the same cgroups (fixed
arrivals and fixed cgroup lifetimes, so both runs have exactly the same
arrivals and offlines), the same duration and the same sampling.  Every hook
call pluggy makes during a run is counted (``add_hookcall_monitoring`` on the
manager ``run_one`` builds), and so is every call that reaches an observer
plugin implementing every hook (which also switches on the hooks the engine
only wires when implemented: ``slabpolicy_tick`` and
``slabpolicy_dead_cache_free``).

The 4R run does about 4x the allocations and frees.  If any hook sat on the
alloc or free path its count would grow with them; instead each hook's count is
identical in both runs, except the three whose count depends on cgroup events
and dead caches only:

* ``slabpolicy_memcg_cache``: once per memcg and cache kind (lazy creation:
  when the memcg first allocates from the kind), so at most memcgs x kinds;
* ``slabpolicy_dead_cache_free``: slow-path frees into a dead cache only, so at
  most the run's slow-path frees;
* ``slabpolicy_dead_cache_empty``: once per dead cache losing its last slab.
"""
from __future__ import annotations

from collections import Counter

import pytest

import slabpolicy.runs.runner as runner
from slabpolicy import hookimpl
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

RATE = 1000          # objects/s per stream in the R run
CGROUPS = 4 + 3      # steady + transient memcgs (the root allocates nothing)
KINDS = 2

# Fixed arrivals, fixed cgroup lifetimes: the cgroup events do not depend on the
# random stream, so they are the same at R and 4R.  A few objects outlive their
# transient cgroup so dead caches exist and take frees.
WORKLOAD = """\
name: fast-path
duration: 400ms
sample_interval: 20ms
tick_interval: 10ms
machine:
  cpus: 2
caches:
  - name: dentry
    object_size: 192
  - name: inode_cache
    object_size: 616
    slot_size: 624
cgroups:
  - name: steady
    count: 4
    streams:
      - cache: dentry
        rate: {rate}/s
        lifetime: {{dist: exponential, mean: 1ms}}
        remote_free: 0.2
      - cache: inode_cache
        rate: {rate}/s
        lifetime: {{dist: exponential, mean: 1ms}}
        remote_free: 0.2
  - name: transient
    count: 3
    arrival: {{process: fixed, interval: 60ms, start: 10ms}}
    lifetime: 100ms
    streams:
      - cache: dentry
        rate: {rate}/s
        lifetime:
          dist: mixture
          of:
            - {{weight: 0.9, dist: exponential, mean: 20ms}}
            - {{weight: 0.1, dist: fixed, value: 150ms}}
        remote_free: 0.2
      - cache: inode_cache
        rate: {rate}/s
        lifetime: {{dist: exponential, mean: 30ms}}
        remote_free: 0.2
policies:
  - leave-in-place
  - name: leave-in-place
    label: shrink
    options: {{era: "4.0"}}
"""

#: hooks whose count may differ between the R and 4R runs (see the module doc)
CGROUP_EVENT_HOOKS = ("slabpolicy_memcg_cache", "slabpolicy_dead_cache_free",
                      "slabpolicy_dead_cache_empty")


class Observer:
    """Implements every per-run hook, counting the calls that reach it."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    @hookimpl
    def slabpolicy_memcg_cache(self, sim, memcg, kind, root_cache):
        self.calls["slabpolicy_memcg_cache"] += 1

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        self.calls["slabpolicy_memcg_offline"] += 1

    @hookimpl
    def slabpolicy_dead_cache_free(self, sim, cache, slab, cpu):
        self.calls["slabpolicy_dead_cache_free"] += 1

    @hookimpl
    def slabpolicy_dead_cache_empty(self, sim, cache):
        self.calls["slabpolicy_dead_cache_empty"] += 1

    @hookimpl
    def slabpolicy_tick(self, sim, now_ns):
        self.calls["slabpolicy_tick"] += 1

    @hookimpl
    def slabpolicy_sample(self, sim, now_ns, sample):
        self.calls["slabpolicy_sample"] += 1

    @hookimpl
    def slabpolicy_run_start(self, sim):
        self.calls["slabpolicy_run_start"] += 1

    @hookimpl
    def slabpolicy_run_end(self, sim, result):
        self.calls["slabpolicy_run_end"] += 1


def counted_run(monkeypatch, tmp_path, rate: int, label: str, observe: bool):
    """Run the workload at ``rate``; return (result, pluggy hook calls, observer calls)."""
    path = tmp_path / f"fast-path-{rate}.yaml"
    path.write_text(WORKLOAD.format(rate=rate), encoding="utf-8")
    workload = load_workload(path)
    policy, = resolve_policies(workload, [label], policy_registry(make_plugin_manager()))

    hook_calls: Counter[str] = Counter()
    observer = Observer()
    original = runner.make_plugin_manager

    def monitored_plugin_manager(*args, **kwargs):
        pm = original(*args, **kwargs)
        pm.add_hookcall_monitoring(
            lambda hook_name, hook_impls, kwargs: hook_calls.update((hook_name,)),
            lambda outcome, hook_name, hook_impls, kwargs: None)
        if observe:
            pm.register(observer, name="fast-path-observer")
        return pm

    monkeypatch.setattr(runner, "make_plugin_manager", monitored_plugin_manager)
    result = run_one(workload, policy, workload.seed, strict=True)
    monkeypatch.setattr(runner, "make_plugin_manager", original)
    return result, hook_calls, observer.calls


def n_ops(result) -> int:
    return result["ops"]["alloc"] + result["ops"]["free"]


@pytest.mark.parametrize("observe", [False, True], ids=["policy-only", "observer-on-every-hook"])
@pytest.mark.parametrize("label", ["leave-in-place", "shrink"])
def test_no_hook_call_scales_with_operations(monkeypatch, tmp_path, label, observe):
    r1, calls1, seen1 = counted_run(monkeypatch, tmp_path, RATE, label, observe)
    r4, calls4, seen4 = counted_run(monkeypatch, tmp_path, 4 * RATE, label, observe)
    ops1, ops4 = n_ops(r1), n_ops(r4)
    counts = (f"R run: {ops1} ops, hook calls {dict(sorted(calls1.items()))}; "
              f"4R run: {ops4} ops, hook calls {dict(sorted(calls4.items()))}")

    # the 4R run really does about 4x the work, fast paths and slow paths alike
    assert 3.6 < ops4 / ops1 < 4.4, counts
    assert r4["ops"]["alloc_fast"] > 3 * r1["ops"]["alloc_fast"], counts
    assert r4["ops"]["free_fast"] > 3 * r1["ops"]["free_fast"], counts
    # the same cgroup events and sampling in both runs
    assert r1["memcgs"]["created"] == r4["memcgs"]["created"] == CGROUPS, counts
    assert r1["memcgs"]["dying"] + r1["memcgs"]["released"] == \
        r4["memcgs"]["dying"] + r4["memcgs"]["released"] == 3, counts
    assert r1["series"]["t_ns"] == r4["series"]["t_ns"], counts
    assert r1["accounting"]["violations"] == r4["accounting"]["violations"] == 0

    # every hook but the cgroup-event ones: exactly as many calls at 4R as at R
    for name in sorted(set(calls1) | set(calls4)):
        if name not in CGROUP_EVENT_HOOKS:
            assert calls1[name] == calls4[name], (
                f"{name} called {calls1[name]} times at R but {calls4[name]} times at 4R "
                f"(it scales with the operations: a hook on a hot path); {counts}")
    # ... and they are the rare events they should be
    samples = len(r1["series"]["t_ns"])
    assert calls1["slabpolicy_sample"] == samples, counts
    assert calls1["slabpolicy_run_start"] == calls1["slabpolicy_run_end"] == 1, counts
    assert calls1["slabpolicy_memcg_offline"] == 3, counts

    # the cgroup-event hooks stay within what cgroup events and dead caches allow
    for result, calls in ((r1, calls1), (r4, calls4)):
        assert calls["slabpolicy_memcg_cache"] <= CGROUPS * KINDS, counts
        assert calls["slabpolicy_dead_cache_free"] <= result["ops"]["free_slow"], counts
        assert calls["slabpolicy_dead_cache_empty"] <= 3 * KINDS, counts

    # in all, a run makes a few hundred hook calls for thousands of operations
    fixed = sum(n for name, n in calls4.items() if name not in CGROUP_EVENT_HOOKS)
    assert fixed < ops1 / 20, counts

    if observe:
        # what reached the plugin, however dispatched, agrees with pluggy's count
        assert seen1 == calls1 and seen4 == calls4, (
            f"observer saw R {dict(seen1)}, 4R {dict(seen4)}; {counts}")
        assert calls1["slabpolicy_tick"] == calls4["slabpolicy_tick"] > 0, counts
        assert calls4["slabpolicy_dead_cache_free"] > 0, counts   # dead caches took frees


@pytest.mark.parametrize("observe", [False, True], ids=["policy-only", "observer-on-every-hook"])
def test_a_memcg_cache_is_asked_for_only_when_a_plugin_answers(monkeypatch, tmp_path, observe):
    """leave-in-place does not implement slabpolicy_memcg_cache: the engine makes each
    memcg's copy of a kind (kmem_cache_dup()) without a hook call.  A plugin that
    implements it is asked once per memcg and kind the memcg allocates from."""
    result, calls, seen = counted_run(monkeypatch, tmp_path, RATE, "leave-in-place", observe)
    assert result["ops"]["alloc"] > 0
    if observe:
        assert 0 < seen["slabpolicy_memcg_cache"] == calls["slabpolicy_memcg_cache"] \
            <= CGROUPS * KINDS
    else:
        assert calls["slabpolicy_memcg_cache"] == 0
