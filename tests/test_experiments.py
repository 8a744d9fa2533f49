"""Every workload under ``experiments/`` validates and runs clean.

Each ``experiments/*.yaml`` must load (``load_workload`` raises one
``WorkloadError`` listing every problem otherwise), list at least one policy,
and run under each policy it lists whose accounting is meant to be right (all
but the chaining patch as posted, whose drift the checker exists to show) with
the accounting checker strict: the first violation is an error.

Each run is the workload's own, at full length, so that its cgroups come and
go and the policy's offline work runs (a run cut short may never see an
offline); every workload is sized to run in a couple of seconds.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))


def is_as_posted(run) -> bool:
    """The chaining patch with its accounting calls as posted: expected to drift."""
    return run.entry.spec.name == "chaining" and run.options.get("variant") == "as-posted"


@lru_cache(maxsize=None)
def workload_of(path: Path):
    return load_workload(str(path))


@lru_cache(maxsize=None)
def policy_runs(path: Path):
    workload = workload_of(path)
    pm = make_plugin_manager(workload.plugins)
    return tuple(resolve_policies(workload, [], policy_registry(pm)))


def strict_cases():
    for path in EXPERIMENTS:
        for run in policy_runs(path):
            if not is_as_posted(run):
                yield pytest.param(path, run.label, id=f"{path.stem}-{run.label}")


def test_there_are_experiments():
    names = {p.name for p in EXPERIMENTS}
    assert "default.yaml" in names
    assert len(names) >= 7, sorted(names)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_validates(path):
    workload = load_workload(str(path))
    assert workload.name
    assert workload.duration_ns > 0
    assert workload.policies, f"{path.name} lists no policy"
    runs = policy_runs(path)          # every listed policy is installed, options valid
    assert [r.label for r in runs] == [c.label for c in workload.policies]


@pytest.mark.parametrize("path,label", list(strict_cases()))
def test_experiment_runs_strict(path, label):
    workload = workload_of(path)
    run = next(r for r in policy_runs(path) if r.label == label)
    result = run_one(workload, run, workload.seed, strict=True)
    assert result["accounting"]["violations"] == 0
    assert result["ops"]["alloc"] > 0
    assert result["duration_ns"] == workload.duration_ns
    # the run is long enough to exercise the policy: some cgroup went offline
    assert result["latency_ns"]["offline"]["count"] > 0
