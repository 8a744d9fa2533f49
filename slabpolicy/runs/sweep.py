"""Sweeps: one workload at every point of a parameter grid, under each policy and seed.

A sweep is an experiment (:mod:`slabpolicy.runs.matrix`) whose runs differ by a
grid point as well as by policy and seed: :func:`plan_sweep` loads the workload
at every point (:mod:`slabpolicy.runs.grid`; nothing runs if any point is
invalid) and lists the runs, every point under every policy and the seeds
``seed`` .. ``seed + N - 1`` of the workload, so that at each point the
policies are paired by seed as ``compare`` pairs them.  Each point's runs carry
the point as extra ``--set`` overrides (so its workload sha256, and therefore
resume and reuse, are the point's own) and record it in the result as
``parameters``; the result files are ``WORKLOAD--POINT--LABEL--seedN.json``.
:func:`run_experiment` runs a sweep's plan exactly as it runs compare's, with
the manifest's ``sweep`` entry listing the grid (:meth:`Sweep.manifest_entry`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.workloads.trust import trusted_plugins
from slabpolicy.errors import SlabpolicyError
from slabpolicy.runs.grid import Point, grid_axes, grid_points, load_points, point_tags
from slabpolicy.runs.matrix import DEFAULT_SEEDS, Plan, PlannedRun, Task
from slabpolicy.runs.results import result_filename
from slabpolicy.runs.runner import resolve_policies
from slabpolicy.workloads.spec import SweepAxis, Workload, load_workload


@dataclass
class Sweep:
    """A sweep's plan, its grid, and the workload at each point (in grid order)."""

    plan: Plan
    axes: tuple[SweepAxis, ...]
    points: list[Point]
    workloads: list[Workload]

    def manifest_entry(self) -> dict[str, Any]:
        """The manifest's ``sweep``: the axes (path, values, where they were given)
        and every point with its parameters and workload sha256."""
        return {"sweep": {
            "axes": [{"path": a.path, "values": list(a.values),
                      "from": a.file if a.line == 0 else f"{a.file}:{a.line}"} for a in self.axes],
            "points": [{"parameters": p.parameters, "sha256": w.sha256}
                       for p, w in zip(self.points, self.workloads)],
        }}


def plan_sweep(file: str | os.PathLike[str], grid: Sequence[str] = (), *,
               policies: Sequence[str] = (), seeds: int = DEFAULT_SEEDS,
               overrides: Sequence[str] = (),
               plugin_paths: Sequence[str | os.PathLike[str]] = (),
               allow_workload_plugins: bool = False) -> Sweep:
    """Load and check the workload at every grid point and every policy; list the
    runs (point, then policy, then seed).  Nothing runs."""
    if seeds < 1:
        raise SlabpolicyError(f"--seeds {seeds}: must be at least 1")
    path = os.fspath(file)
    overrides = tuple(str(o) for o in overrides)
    plugins = tuple(os.fspath(p) for p in plugin_paths)
    base = load_workload(path, overrides)
    axes = grid_axes(base, grid, overrides)
    points = grid_points(axes)
    workloads = load_points(path, overrides, axes, points)
    registry = policy_registry(make_plugin_manager(plugins + trusted_plugins(
        base, allow_workload_plugins, plugins)))
    base_policies = resolve_policies(base, list(policies), registry)
    seed_list = [base.seed + i for i in range(seeds)]
    plan = Plan([base], {base.name: base_policies}, {base.name: seed_list}, overrides, plugins)
    for point, tag, workload in zip(points, point_tags(points, axes), workloads):
        # a point may change a policy's options (policies[1].options.shrink)
        for policy in resolve_policies(workload, list(policies), registry):
            for seed in seed_list:
                task = Task(path, overrides + tuple(point.overrides()), plugins, policy.label,
                            seed, workload.sha256, point.values)
                filename = result_filename({"workload": {"name": f"{base.name}--{tag}"},
                                            "policy": {"label": policy.label}, "seed": seed})
                plan.runs.append(PlannedRun(task, workload, policy, filename))
    return Sweep(plan, axes, points, workloads)
