"""The accounting checker between its full walks (kernel/accounting.py, docs/model.md
section 7): it recounts only the caches the allocator marked as changed, and walks
every cache at every FULL_WALK_EVERY-th check and at the end.

A counter a kernel function moved wrongly is caught at the very next check; a
counter written by hand, past every kernel function, at the next full walk.  And
the figures are the same as with a full walk at every check.  dentry slabs hold
21 objects.
"""
from __future__ import annotations

import json

import pytest

import slabpolicy.kernel.accounting as accounting
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.api.testing import Kit
from slabpolicy.kernel.memcg_kmem import reparent_kmem_cache
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.bundled import resolve
from slabpolicy.workloads.spec import load_workload

EVERY = accounting.FULL_WALK_EVERY


def kit_with_a_slab() -> tuple[Kit, object]:
    """A kit whose memcg "a" holds 5 dentries in one slab, checked once (a full walk:
    the first check is one) and clean."""
    kit = Kit(cpus=2, strict=False)
    cache = kit.cache(kit.memcg("a"), "dentry")
    kit.alloc(cache, n=5, cpu=0)
    check(kit)
    assert kit.sim.checker.judged == 1 and not kit.sim.checker.seen
    return kit, cache


def check(kit: Kit, now: int | None = None) -> list[str]:
    kit.t += 1_000
    kit.sim.checker.check(kit.t if now is None else now)
    return kit.sim.checker.messages()


def test_a_slab_counted_by_inc_slabs_node_without_a_slab_is_caught_at_the_next_check():
    kit, cache = kit_with_a_slab()
    kit.slub.inc_slabs_node(cache, 0, cache.objects)     # a policy counting a slab twice
    assert check(kit) == [f"{cache.name} node 0: nr_slabs counts 2 slabs but 1 exist"]
    assert kit.sim.checker.judged % EVERY != 0             # between full walks


def test_a_charge_with_no_page_is_caught_at_the_next_check():
    kit, cache = kit_with_a_slab()
    kit.memcgs.charge(cache.memcg, 3)                      # page_counter_charge() of nothing
    assert check(kit) == ["4 pages charged but 1 pages exist",
                          "memcg a: kmem counter is 4 pages but its caches and those "
                          "below it hold 1"]


def test_a_cache_reparented_is_recounted_under_its_new_memcg_at_the_next_check():
    """5.3's memcg_deactivate_kmem_caches() points the cache at b and its charge goes
    along: the next check, between full walks, counts the page under b, not a."""
    kit, cache = kit_with_a_slab()
    a, b = cache.memcg, kit.memcg("b")
    reparent_kmem_cache(kit.sim, cache, a, b)
    assert check(kit) == []
    assert kit.sim.checker.judged % EVERY != 0             # between full walks
    assert (a.usage, b.usage) == (0, 1)


def test_a_cache_pointed_at_another_memcg_by_hand_is_caught_by_the_next_full_walk():
    """What reparenting does, less the charge and past every kernel function: the
    cache's page counts under b from the next full walk, while a still holds the charge."""
    kit, cache = kit_with_a_slab()
    b = kit.memcg("b")
    cache.memcg = b
    for _ in range(EVERY - 1):                             # checks 2..EVERY: recounts only
        assert check(kit) == []
    assert check(kit) == ["memcg a: kmem counter is 1 pages but its caches and those below "
                          "it hold 0",
                          "memcg b: kmem counter is 0 pages but its caches and those below "
                          "it hold 1"]


def test_a_counter_written_by_hand_is_caught_by_the_next_full_walk():
    kit, cache = kit_with_a_slab()
    cache.node[0].nr_slabs += 1                            # past every kernel function
    for _ in range(EVERY - 1):                             # checks 2..EVERY: recounts only
        assert check(kit) == []
    assert check(kit) == [f"{cache.name} node 0: nr_slabs counts 2 slabs but 1 exist"]
    assert kit.sim.checker.judged == EVERY + 1
    first_seen, _ = kit.sim.checker.seen[f"nr_slabs {cache.name} 0"]
    assert first_seen == kit.t


def test_a_full_walk_forgets_a_cache_destroyed_since_the_last_check():
    """The full walk writes each cache's figures over those of the last count; those
    of a cache destroyed meanwhile go (the checker keeps no destroyed cache alive)."""
    kit = Kit(cpus=2, strict=False)
    cache = kit.cache(kit.memcg("a"), "dentry")            # no slab yet
    checker = kit.sim.checker
    assert check(kit) == [] and cache in checker._counted_memcg    # the first: a full walk
    while checker.judged % EVERY:                          # recounts up to the next walk
        assert check(kit) == []
    kit.slub.kmem_cache_destroy(cache)
    assert check(kit) == []                                # the full walk
    assert checker.judged == EVERY + 1
    assert cache not in checker._counted_memcg and cache not in checker._counted_pages


def test_a_counter_written_by_hand_is_caught_at_the_end():
    kit, cache = kit_with_a_slab()
    cache.node[0].nr_slabs -= 1
    assert check(kit) == []
    assert check(kit, now=kit.sim.end_ns) == [
        f"{cache.name} node 0: nr_slabs counts 0 slabs but 1 exist"]


def test_a_frozen_slab_on_a_partial_list_is_caught_at_every_check():
    """Slabs are looked at one by one at every check, full walk or not."""
    kit, cache = kit_with_a_slab()
    slab = cache.cpu[0].slab
    kit.slub.deactivate_slab(cache, cache.cpu[0])          # onto the node partial list
    slab.frozen = True                                     # and frozen there
    assert check(kit) == [f"{cache.name}: slab {slab.id} is frozen on a node partial "
                          f"list, not on a cpu"]
    assert kit.sim.checker.crashed["where"] == "get_partial_node()"


def test_of_two_frozen_slabs_found_at_one_check_the_crash_names_the_first_made():
    """The first crash of a run is a figure of its result: which slab it names does
    not depend on where the objects happen to sit in memory."""
    kit = Kit(cpus=2, strict=False)
    cache = kit.cache(kit.memcg("a"), "dentry")
    for cpu in (0, 1):
        kit.alloc(cache, n=5, cpu=cpu)
    slabs = [cache.cpu[0].slab, cache.cpu[1].slab]
    for cpu in (0, 1):
        kit.slub.deactivate_slab(cache, cache.cpu[cpu])
    for slab in reversed(slabs):
        slab.frozen = True
    check(kit)
    assert slabs[0].id < slabs[1].id
    assert kit.sim.checker.crashed["what"] == (f"{cache.name}: slab {slabs[0].id} is frozen "
                                               f"on a node partial list, not on a cpu")
    assert kit.sim.checker.crashes == 2


# Whole runs, the checker's figures and findings as the result documents hold them:
# the same with a full walk at every check as with the recounts between walks.  The
# policies that re-point caches at the parent (reparent), charge objects (objcg) and
# break the books (chaining as posted: counters, frozen and lost slabs).
RUNS = [("default", "reparent", "3s"), ("default", "chaining-as-posted", "3s"),
        ("default", "objcg", "3s"), ("many-small-cgroups", "leave-in-place", "3s"),
        ("memory-pressure", "chaining", "5s")]


def _document(experiment: str, policy: str, duration: str) -> str:
    workload = load_workload(resolve(experiment), overrides=[f"duration={duration}"])
    registry = policy_registry(make_plugin_manager(tuple(workload.plugins)))
    doc = run_one(workload, resolve_policies(workload, [policy], registry)[0], 1)
    doc.pop("wall_seconds")
    doc.pop("provenance")
    return json.dumps(doc, sort_keys=True)


@pytest.mark.parametrize("experiment,policy,duration", RUNS)
def test_recounting_between_full_walks_gives_the_documents_of_a_full_walk_at_every_check(
        experiment, policy, duration, monkeypatch):
    between = _document(experiment, policy, duration)
    monkeypatch.setattr(accounting, "FULL_WALK_EVERY", 1)
    assert _document(experiment, policy, duration) == between


def test_an_unjudged_check_records_nothing_and_the_next_judged_one_does():
    """check(judge=False) is the engine's count while an operation is stopped half-way
    at a lock, its counters and slabs out of step: a memcg's counter ahead of its
    slabs then is not a violation; still out of step at the next judged check, it is."""
    kit, cache = kit_with_a_slab()
    kit.memcgs.charge(cache.memcg, 3)         # a charge whose new_slab() waits for a lock
    kit.t += 1_000
    kit.sim.checker.check(kit.t, judge=False)
    assert kit.sim.checker.messages() == []
    assert check(kit) == ["4 pages charged but 1 pages exist",
                          "memcg a: kmem counter is 4 pages but its caches and those "
                          "below it hold 1"]
