"""The run budget: the estimate against real runs, and run/compare refusing past it."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.cli import app
from slabpolicy.runs.budget import Budget, BudgetError, check_budget, estimate
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

ROOT = Path(__file__).resolve().parent.parent
RUNNER = CliRunner()


@pytest.mark.parametrize("name", ["default.yaml", "many-small-cgroups.yaml"])
def test_estimate_is_within_a_factor_two_of_a_real_run(name):
    """The events estimated are the run's operations and samples, give or take 2x."""
    workload = load_workload(ROOT / "experiments" / name)
    [policy] = resolve_policies(workload, ["leave-in-place"],
                                policy_registry(make_plugin_manager()))
    result = run_one(workload, policy, workload.seed)
    events = result["ops"]["alloc"] + result["ops"]["free"] + len(result["series"]["t_ns"])
    assert 0.5 * events <= estimate(workload).events <= 2 * events


def test_budget_refuses_with_the_estimate_and_the_way_past():
    workload = load_workload(ROOT / "experiments" / "default.yaml")
    est = estimate(workload)
    assert check_budget(workload, Budget(events=est.events)) == est
    with pytest.raises(BudgetError) as info:
        check_budget(workload, Budget(events=est.events / 2), runs=30)
    message = str(info.value)
    assert message.startswith(f"{workload.path}: workload 'default-containers' would take about ")
    assert "(30 runs: " in message and "--budget EVENTS" in message and "--yes" in message
    assert check_budget(workload, Budget(events=1, unlimited=True)) == est


def test_memory_budget_counts_per_cpu_caches(tmp_path):
    """8192 cpus and 10^5 short cgroups: few events, but every memcg cache has 8192 cpu slots."""
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nduration: 10s\nmachine: {cpus: 8192}\n"
                    "caches: [{name: a, object_size: 64}]\n"
                    "cgroups: [{name: g, count: 100000, lifetime: 1ms,\n"
                    "           streams: [{cache: a, rate: 1/s, lifetime: 1ms}]}]\n")
    workload = load_workload(path)
    with pytest.raises(BudgetError, match=r"of memory > the budget of 4GiB"):
        check_budget(workload, Budget())


def test_run_and_compare_refuse_past_the_budget_and_run_with_yes(tmp_path):
    path = ROOT / "experiments" / "default.yaml"
    for command in (["run", str(path)], ["compare", str(path), "--seeds", "1",
                                         "--policy", "leave-in-place", "--jobs", "1",
                                         "--out", str(tmp_path / "out")]):
        refused = RUNNER.invoke(app, [*command, "--budget", "1000"])
        assert refused.exit_code == 2, refused.output
        assert "events > the budget of 1000" in refused.stderr
        assert not (tmp_path / "out").exists()
    ran = RUNNER.invoke(app, ["run", str(path), "--policy", "leave-in-place", "--budget", "1000",
                              "--yes"])
    assert ran.exit_code == 0, ran.output
