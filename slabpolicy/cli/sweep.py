"""``slabpolicy sweep``: a workload over a parameter grid, every point under every
policy and seed, on local worker processes or a Dask cluster.

``report DIR`` and ``plot DIR`` of a sweep's results directory show the sweep
(:mod:`slabpolicy.analysis.sweep_report`, :mod:`slabpolicy.analysis.sweep_plot`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from slabpolicy.cli.app import (METRIC_HELP, TABLE_FORMATS, WIDE_HELP, AllowPluginsOption,
                                BaselineOption, BudgetOption, OptionOption, OutOption,
                                PluginOption, PolicyOption, RunTimeoutOption, SetOption,
                                TableFormatOption, YesOption, _budget, _check_baseline,
                                _check_format, _check_metrics, _echo, _guarded, _progress,
                                _render, app)
from slabpolicy.runs import matrix
from slabpolicy.runs.budget import check_budget
from slabpolicy.runs.monitor import DEFAULT_RUN_TIMEOUT
from slabpolicy.runs.policy_args import with_options
from slabpolicy.runs.executors import EXECUTORS, SCHEDULER_ENV, make_executor
from slabpolicy.runs.sweep import plan_sweep


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="the workload YAML file")],
    grid: Annotated[Optional[list[str]], typer.Option(
        help="a parameter and its values: --set path=V1,V2,... e.g. "
             "'cgroups[0].arrival.rate=1/s,4/s,16/s' (repeatable: the grid is the cross "
             "product; adds to or replaces the workload's sweep: section)")] = None,
    policy: PolicyOption = None,
    option: OptionOption = None,
    seeds: Annotated[int, typer.Option(
        min=1, help="seeds per point: the workload's seed and the next N-1")] = matrix.DEFAULT_SEEDS,
    baseline: BaselineOption = None,
    metric: Annotated[Optional[list[str]], typer.Option(help=METRIC_HELP)] = None,
    jobs: Annotated[Optional[int], typer.Option(
        min=1, help="local worker processes, or the LocalCluster's workers with --executor "
                    "dask and no scheduler (default: one per cpu)", show_default=False)] = None,
    out: OutOption = None,
    fmt: TableFormatOption = "plain",
    plugin: PluginOption = None,
    set_: SetOption = None,
    wide: Annotated[bool, typer.Option(help=WIDE_HELP)] = False,
    budget: BudgetOption = None,
    yes: YesOption = False,
    run_timeout: RunTimeoutOption = DEFAULT_RUN_TIMEOUT,
    allow_workload_plugins: AllowPluginsOption = False,
    executor: Annotated[str, typer.Option(help=f"where runs run: {' or '.join(EXECUTORS)}")] = "local",
    scheduler: Annotated[Optional[str], typer.Option(
        envvar=SCHEDULER_ENV, help="the Dask scheduler's address, e.g. tcp://10.0.0.1:8786 "
        "(--executor dask; default: a LocalCluster on this machine)", show_default=False)] = None,
) -> None:
    """Run a workload at every point of a parameter grid under several policies and
    seeds; print, per metric, the policies at each point.

    Every run is written to the results directory as it finishes, with a
    manifest.json listing the grid; the same command again (same --out) runs
    only what is missing.  `slabpolicy report DIR` and `slabpolicy plot DIR`
    show the sweep again.
    """
    _check_format(fmt, TABLE_FORMATS)
    metrics = list(metric or ())

    def prepare():
        planned = plan_sweep(file, list(grid or ()),
                             policies=with_options(list(policy or ()), list(option or ())),
                             seeds=seeds, overrides=list(set_ or ()),
                             plugin_paths=list(plugin or ()),
                             allow_workload_plugins=allow_workload_plugins)
        _check_baseline(baseline, planned.plan.labels)
        for workload in planned.workloads:      # each point is a workload of its own
            check_budget(workload, _budget(budget, yes),
                         sum(1 for r in planned.plan.runs if r.workload is workload))
        directory = out if out is not None else matrix.default_out(planned.plan)
        if metrics and directory.is_dir() and matrix.find_reusable(planned.plan, directory):
            _check_metrics(metrics, [next(r.result for r in planned.plan.runs if r.result)])
        return planned, directory, make_executor(
            executor, scheduler if executor == "dask" else None, jobs)

    planned, directory, runner = _guarded(prepare)
    plan = planned.plan
    checked = {"metrics": False}

    def on_result(run) -> None:
        if metrics and not checked["metrics"]:
            checked["metrics"] = True
            _check_metrics(metrics, [run.result])

    def go():
        with runner:
            return matrix.run_experiment(plan, directory, jobs=getattr(runner, "jobs", None),
                                         progress=_progress, on_result=on_result,
                                         executor=runner, extra=planned.manifest_entry(),
                                         run_timeout=run_timeout)

    outcome = _guarded(go)
    typer.echo(f"{directory}: {len(planned.points)} points, {len(plan.runs)} runs "
               f"({outcome.ran} new, {outcome.reused} reused); `slabpolicy report {directory}` "
               f"shows them again", err=True)
    _echo(_guarded(lambda: _render(outcome.results, baseline, metrics, fmt, wide)))
