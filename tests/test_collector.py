"""Python's garbage collector during a run (slabpolicy.kernel.collector): automatic
collection is paused for the run and done at samples once the tracked objects have
grown, so that full collections over a large live set do not recur every few
thousand events, and memory stays bounded."""
from __future__ import annotations

import gc
import weakref

import pytest

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.kernel import collector
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.bundled import resolve
from slabpolicy.workloads.spec import load_workload


@pytest.fixture
def gc_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _garbage_cycles(n: int) -> list[weakref.ref]:
    refs = []
    for _ in range(n):
        node = _Node()
        refs.append(weakref.ref(node))
    return refs


def test_a_run_collects_only_at_its_samples(monkeypatch, gc_enabled):
    """Every sample of the run asks the collector, with automatic collection off;
    after the run it is on again."""
    workload = load_workload(resolve("default"), overrides=["duration=300ms"])
    policy = resolve_policies(workload, ["leave-in-place"],
                              policy_registry(make_plugin_manager(())))[0]
    asked = []
    monkeypatch.setattr(collector, "collect_if_grown", lambda: asked.append(gc.isenabled()))
    doc = run_one(workload, policy, 1)
    assert asked and not any(asked)
    assert len(asked) == len(doc["series"]["t_ns"])
    assert gc.isenabled()


def test_paused_keeps_a_disabled_collector_disabled(gc_enabled):
    gc.disable()
    with collector.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_garbage_cycles_are_collected_once_grown_past_the_limit(monkeypatch, gc_enabled):
    """Below GROWTH new tracked objects, a sample leaves the cycles alone; past it, a
    sample frees them."""
    with collector.paused():
        gc.collect()
        monkeypatch.setattr(collector, "GROWTH", 10_000)
        refs = _garbage_cycles(100)
        collector.collect_if_grown()
        assert all(r() is not None for r in refs)     # 100 < GROWTH: not yet
        monkeypatch.setattr(collector, "GROWTH", 50)
        collector.collect_if_grown()
        assert all(r() is None for r in refs)


def _slabs_tracked() -> int:
    """Slab objects the cyclic collector still tracks: a simulation's, alive or garbage."""
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "Slab")


def _run_small_cgroups() -> dict:
    workload = load_workload(resolve("many-small-cgroups"), overrides=["duration=300ms"])
    policy = resolve_policies(workload, ["leave-in-place"],
                              policy_registry(make_plugin_manager(())))[0]
    return run_one(workload, policy, 1)


def test_a_finished_run_is_collected_before_run_one_returns(gc_enabled):
    """A finished simulation is cyclic garbage (a slab points at its cache, which holds
    it on its lists): run_one collects it, so none of its slabs is left for the next run
    to share the heap with."""
    gc.collect()
    assert _slabs_tracked() == 0
    doc = _run_small_cgroups()
    assert doc["memory"]["slab_pages"]["peak"] > 0      # the run made slabs ...
    assert _slabs_tracked() == 0                          # ... and none is left
    assert gc.isenabled()


def test_a_run_that_collected_at_a_sample_is_collected_whole(monkeypatch, gc_enabled):
    """A collection at a sample moves the run's objects out of the youngest generation;
    run_one then collects every generation."""
    monkeypatch.setattr(collector, "GROWTH", 1000)        # every sample collects
    gc.collect()
    generations = []

    def seen(phase, info):
        if phase == "start":
            generations.append(info["generation"])
    gc.callbacks.append(seen)
    try:
        _run_small_cgroups()
    finally:
        gc.callbacks.remove(seen)
    assert generations.count(2) > 1                       # the samples' and run_one's
    assert _slabs_tracked() == 0
