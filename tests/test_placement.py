"""Tasks run on their cpus: a cgroup allocates on the cpus of its ``cpus`` setting.

A small machine of 4 cpus; each cgroup allocates dentries (21 a slab) that live
for good, so every cpu slab a cache ever had is still there at the end.
"""
from __future__ import annotations

import pytest

from slabpolicy.api.plugin_manager import make_plugin_manager
from slabpolicy.api.policy import PolicySpec
from slabpolicy.errors import WorkloadError
from slabpolicy.kernel.engine import Simulation
from slabpolicy.workloads.placement import Placement
from slabpolicy.workloads.spec import load_workload

WORKLOAD = """\
name: placed
duration: 200ms
machine: {{cpus: 4}}
caches:
  - {{name: dentry, object_size: 192}}
cgroups:
  - name: pods
    count: {count}
    {placement}
    streams:
      - {{cache: dentry, rate: 2000/s, lifetime: forever}}
{extra}"""


def simulate(tmp_path, placement: str, count: int = 1, extra: str = "") -> Simulation:
    path = tmp_path / "placed.yaml"
    path.write_text(WORKLOAD.format(count=count, placement=placement, extra=extra))
    sim = Simulation(load_workload(path), seed=1, hook=make_plugin_manager().hook)
    sim.run()
    return sim


def cpus_used(cache) -> list[int]:
    """The cpus on which ``cache`` has a cpu slab or a cpu partial list."""
    return [cpu for cpu, c in enumerate(cache.cpu) if c.slab is not None or c.partial]


def pod_caches(sim: Simulation):
    return [m.caches[0] for m in sim.memcgs if not m.is_root]


def test_a_group_pinned_to_one_cpu_uses_one_cpu_slab_per_cache(tmp_path):
    """cpus: [2]: the ~400 dentries of the pod all come from cpu 2's cpu slab and
    the slabs it filled; no other cpu ever had a slab of the cache."""
    sim = simulate(tmp_path, "cpus: [2]")
    (cache,) = pod_caches(sim)
    assert cpus_used(cache) == [2]
    assert cache.stats.get("ALLOC_SLAB", 0) == cache.nr_slabs > 10


def test_all_cpus_spreads_one_cache_over_every_cpu(tmp_path):
    """cpus: all, the placement before tasks had cpus: the same cache has a cpu slab
    on each of the four cpus, each of them partly used."""
    sim = simulate(tmp_path, "cpus: all")
    (cache,) = pod_caches(sim)
    assert cpus_used(cache) == [0, 1, 2, 3]


def test_counted_cpus_go_round_robin_across_the_machine(tmp_path):
    """cpus: 2 (the default): the first pod runs on 0-1, the second on 2-3, the third
    on 0-1 again."""
    sim = simulate(tmp_path, "cpus: 2", count=3)
    assert [cpus_used(c) for c in pod_caches(sim)] == [[0, 1], [2, 3], [0, 1]]
    assert Placement(4).place(3) == [0, 1, 2]


def test_migration_moves_a_task_to_a_cpu_it_did_not_use(tmp_path):
    """cpus: [0] with a task moving 50 times a second: over 200 ms it has run, and
    left a cpu slab, on other cpus too."""
    sim = simulate(tmp_path, "cpus: [0]\n    migration: 50/s")
    (cache,) = pod_caches(sim)
    assert len(cpus_used(cache)) > 1
    cpus = [0, 1]
    Placement(4).migrate(cpus, iter([0.99, 0.0]).__next__)
    assert cpus == [0, 2]


def test_the_root_group_allocates_from_the_root_cache(tmp_path):
    """A group named root is the root cgroup's own tasks: no cgroup is created, its
    allocations go to the global cache, on every cpu by default."""
    extra = ("  - name: root\n    count: 1\n    streams:\n"
             "      - {cache: dentry, rate: 4000/s, lifetime: forever}\n")
    sim = simulate(tmp_path, "cpus: [0]", extra=extra)
    root_cache = sim.slub.root_caches[0]
    assert len(list(sim.memcgs)) == 2                 # the root and one pod
    assert cpus_used(root_cache) == [0, 1, 2, 3] and root_cache.nr_slabs > 20


@pytest.mark.parametrize("placement,message", [
    ("cpus: 5", "cgroups[0].cpus: must be at most 4, got 5"),
    ("cpus: [1, 4]", "cgroups[0].cpus[1]: must be at most 3, got 4"),
    ("cpus: [1, 1]", "cgroups[0].cpus: a cpu is listed twice"),
    ("cpus: 0", "cgroups[0].cpus: must be at least 1, got 0"),
    ("migration: often", "cgroups[0].migration: bad rate 'often'"),
])
def test_bad_placement_is_one_line_naming_the_field(tmp_path, placement, message):
    path = tmp_path / "bad.yaml"
    path.write_text(WORKLOAD.format(count=1, placement=placement, extra=""))
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    assert len(info.value.problems) == 1 and message in str(info.value.problems[0])


def test_the_root_group_has_no_lifetime(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(WORKLOAD.format(count=1, placement="", extra=(
        "  - name: root\n    count: 2\n    lifetime: 1s\n")))
    with pytest.raises(WorkloadError) as info:
        load_workload(path)
    text = "\n".join(map(str, info.value.problems))
    assert "cgroups[1].lifetime: the 'root' group is the root cgroup's own tasks: it has no " \
           "lifetime" in text
    assert "cgroups[1].count: the 'root' group is one cgroup: count must be 1" in text
