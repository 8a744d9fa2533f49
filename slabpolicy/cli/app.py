"""The ``slabpolicy`` command line (Typer).

Every command that reads a workload checks it whole first and runs nothing if
anything is wrong.  A problem the user can fix (a bad field, an unknown policy,
a plugin that raises) is one line per problem on stderr and a non-zero exit
(2 for a bad workload, 3 for an accounting violation under ``--strict``, 1
otherwise), never a traceback.  Results already computed are written (with
``--out``) as each run finishes, each file written whole and then renamed.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from tabulate import tabulate

from slabpolicy.analysis.formats import FORMATS as TABLE_FORMATS
from slabpolicy.analysis.metrics import DEFAULT_METRICS
from slabpolicy.runs import matrix
from slabpolicy.kernel import geometry as geometry_mod
from slabpolicy.errors import SlabpolicyError
from slabpolicy.api.plugin_manager import build_policy, make_plugin_manager, policy_registry
from slabpolicy.cli.progress import end_progress_line, run_progress
from slabpolicy.interrupts import Terminated, user_stops
from slabpolicy.runs.budget import Budget, check_budget, estimate
from slabpolicy.runs.monitor import DEFAULT_RUN_TIMEOUT
from slabpolicy.runs.policy_args import with_options
from slabpolicy.runs.results import result_filename, write_result
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.units import UnitError, format_size, parse_size
from slabpolicy.workloads.spec import load_workload
from slabpolicy.workloads.trust import trusted_plugins

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Simulate SLUB with per-memcg kmem caches and compare dead-cache policies.")

FORMATS_TABLE_JSON = ("table", "json")

#: ``--budget`` and ``--yes`` of run and compare (see slabpolicy/runs/budget.py).
BudgetOption = Annotated[Optional[float], typer.Option(
    "--budget", min=1, help="the most events one run may process (default 1e8); a run estimated "
                            "past it is refused", show_default=False)]
YesOption = Annotated[bool, typer.Option("--yes", help="run even past the budget")]
#: ``--allow-workload-plugins`` of validate, run, compare and sweep (see README, 'Trust').
AllowPluginsOption = Annotated[bool, typer.Option(
    "--allow-workload-plugins", help="load the plugin files a workload's plugins: lists "
                                     "(they run code; see README, 'Trust')")]
#: ``--run-timeout`` of run, compare and sweep (see slabpolicy/runs/monitor.py).
RunTimeoutOption = Annotated[float, typer.Option(
    "--run-timeout", min=0, help="stop a run that does not advance simulated time for this many "
                                 "seconds, naming the plugin running (0: never)")]
#: The options compare and sweep share: which policies, seeds and figures, and where
#: the results go.
PolicyOption = Annotated[Optional[list[str]], typer.Option(
    help="policy name or workload label to run, optionally with options: "
         "'NAME:key=value,...' (repeatable; default: each workload's list)")]
OptionOption = Annotated[Optional[list[str]], typer.Option(
    help="key=value: an option for every --policy (repeatable)")]
BaselineOption = Annotated[Optional[str], typer.Option(
    help="the policy the others are compared with (default: the first)")]
OutOption = Annotated[Optional[Path], typer.Option(
    help="the results directory; finished runs in it are reused "
         "(default: results/WORKLOAD-TIMESTAMP)", show_default=False)]
TableFormatOption = Annotated[str, typer.Option(
    "--format", help="plain, github, latex, html, csv or json")]
PluginOption = Annotated[Optional[list[Path]], typer.Option(help="load a local plugin module")]
SetOption = Annotated[Optional[list[str]], typer.Option(
    "--set", help="override dotted.key=value")]


def _budget(events: Optional[float], yes: bool) -> Budget:
    return Budget(unlimited=True) if yes else Budget() if events is None else Budget(events=events)


def _fail(error: SlabpolicyError) -> None:
    typer.echo(str(error), err=True)
    raise typer.Exit(code=error.exit_code)


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a SlabpolicyError becomes its message and exit code."""
    try:
        return fn()
    except SlabpolicyError as exc:
        _fail(exc)


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"use one of {', '.join(allowed)}", param_hint="--format")
    return value


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=False)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="the workload YAML file")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override dotted.key=value")] = None,
    plugin: Annotated[Optional[list[Path]], typer.Option(help="load a local plugin module")] = None,
    allow_workload_plugins: AllowPluginsOption = False,
) -> None:
    """Check a workload file (and its policies' options) without running it."""
    def go():
        workload = load_workload(file, set_ or ())
        pm = make_plugin_manager(tuple(map(str, plugin or ())) + trusted_plugins(
            workload, allow_workload_plugins, plugin or ()))
        runs = resolve_policies(workload, [], policy_registry(pm))
        for r in runs:           # a factory's own checks, before anything runs
            build_policy(r.entry, r.options, r.label)
        typer.echo(f"{file}: ok: {workload.name}, {len(workload.caches)} caches, "
                   f"{len(workload.groups)} cgroup groups, policies "
                   f"{', '.join(r.label for r in runs)}")
        typer.echo(f"estimate: {estimate(workload).describe()}")
    _guarded(go)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="the workload YAML file")],
    policy: Annotated[Optional[list[str]], typer.Option(
        help="policy name or workload label to run, optionally with options: "
             "'NAME:key=value,...' (repeatable; default: the workload's list)")] = None,
    option: Annotated[Optional[list[str]], typer.Option(
        help="key=value: an option for every --policy (repeatable)")] = None,
    seed: Annotated[Optional[list[int]], typer.Option(
        min=0, help="seed (repeatable; default: the workload's)")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override dotted.key=value")] = None,
    out: Annotated[Optional[Path], typer.Option(help="write one JSON result per run here")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    plugin: Annotated[Optional[list[Path]], typer.Option(help="load a local plugin module")] = None,
    strict: Annotated[bool, typer.Option(help="stop at the first accounting violation")] = False,
    budget: BudgetOption = None,
    yes: YesOption = False,
    run_timeout: RunTimeoutOption = DEFAULT_RUN_TIMEOUT,
    allow_workload_plugins: AllowPluginsOption = False,
) -> None:
    """Run a workload under one or more policies and seeds; print a summary."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    plugin_paths = tuple(map(str, plugin or ()))

    def prepare():
        workload = load_workload(file, set_ or ())
        pm = make_plugin_manager(plugin_paths + trusted_plugins(
            workload, allow_workload_plugins, plugin_paths))
        runs = resolve_policies(workload, with_options(list(policy or ()), list(option or ())),
                                policy_registry(pm))
        check_budget(workload, _budget(budget, yes), len(runs) * len(seed or [0]))
        if out is not None:
            _prepare_out(out)   # an unusable --out fails before anything runs
        return workload, runs

    workload, runs = _guarded(prepare)
    seeds = list(seed) if seed else [workload.seed]
    results: list[dict] = []
    jobs = [(r, s) for r in runs for s in seeds]
    try:
        with _progress(len(jobs)) as advance, user_stops():
            for policy_run, s in jobs:
                result = run_one(workload, policy_run, s, plugin_paths=plugin_paths, strict=strict,
                                 run_timeout=run_timeout or None,
                                 on_progress=run_progress() if len(jobs) == 1 else None)
                results.append(result)
                if out is not None:
                    _write_result(out, result)
                advance()
    except SlabpolicyError as exc:
        end_progress_line()
        if results:
            _emit(results, fmt, single=len(jobs) == 1)
        _fail(exc)
    except KeyboardInterrupt as exc:          # Ctrl-C, SIGTERM, SIGHUP (see interrupts.py)
        end_progress_line()
        if results:
            _emit(results, fmt, single=False)
        figures = getattr(exc, "figures", None)
        typer.echo(f"interrupted{f': {exc}' if isinstance(exc, Terminated) else ''}"
                   f"{f'; {figures}' if figures else ''}", err=True)
        raise typer.Exit(code=128 + getattr(exc, "signum", 2))
    end_progress_line()
    _emit(results, fmt, single=len(jobs) == 1)


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SlabpolicyError(f"--out {out}: cannot create the directory: "
                              f"{exc.strerror or exc}") from exc


def _write_result(out: Path, result: dict) -> None:
    try:
        write_result(out / result_filename(result), result)
    except OSError as exc:
        raise SlabpolicyError(f"--out {out}: cannot write {result_filename(result)}: "
                              f"{exc.strerror or exc}") from exc


def _emit(results: list[dict], fmt: str, single: bool) -> None:
    """JSON: one object if one run was asked for, else an array (even if cut short)."""
    if fmt == "json":
        typer.echo(_dump(results[0] if single else results))
    else:
        typer.echo(summary_table(results))


class _progress:
    """A rich progress bar on stderr when it is a terminal and there is more than one run."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None

    def __enter__(self) -> Callable[[], None]:
        if self.total > 1 and sys.stderr.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                                       TimeRemainingColumn)
            self.bar = Progress("runs", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                transient=True, console=_stderr_console())
            self.bar.start()
            task = self.bar.add_task("runs", total=self.total)
            return lambda: self.bar.advance(task)
        return lambda: None

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _stderr_console():
    from rich.console import Console
    return Console(stderr=True)


SUMMARY_ROWS = (
    ("slab pages, mean", lambda r: round(r["memory"]["slab_pages"]["mean"], 1)),
    ("slab pages, peak", lambda r: r["memory"]["slab_pages"]["peak"]),
    ("dead-cache pages, mean", lambda r: round(r["memory"]["dead_cache_pages"]["mean"], 1)),
    ("dead caches, final", lambda r: r["memory"]["dead_caches"]["final"]),
    ("dying memcgs, final", lambda r: r["memory"]["dying_memcgs"]["final"]),
    ("utilization, mean", lambda r: round(r["memory"]["utilization"]["mean"], 4)),
    ("allocs (fast/slow)", lambda r: f"{r['ops']['alloc_fast']}/{r['ops']['alloc_slow']}"),
    ("frees (fast/slow)", lambda r: f"{r['ops']['free_fast']}/{r['ops']['free_slow']}"),
    ("alloc p99 ns", lambda r: r["latency_ns"]["alloc"]["p99"]),
    ("free p99 ns", lambda r: r["latency_ns"]["free"]["p99"]),
    ("offline p99 ns", lambda r: r["latency_ns"]["offline"]["p99"]),
    ("list_lock acquisitions", lambda r: r["locks"].get("list_lock", {}).get("acquisitions", 0)),
    ("list_lock contentions", lambda r: r["locks"].get("list_lock", {}).get("contentions", 0)),
    ("list_lock wait ns", lambda r: r["locks"].get("list_lock", {}).get("wait_ns_total", 0)),
    ("accounting violations", lambda r: r["accounting"]["violations"]),
    ("simulated ops/s (wall)", lambda r: round((r["ops"]["alloc"] + r["ops"]["free"])
                                               / max(r["wall_seconds"], 1e-9))),
)


def summary_table(results: list[dict]) -> str:
    """One column per run (policy, seed), one row per headline figure."""
    headers = ["figure"] + [f"{r['policy']['label']}\nseed {r['seed']}" for r in results]
    rows = [[name] + [get(r) for r in results] for name, get in SUMMARY_ROWS]
    title = f"workload {results[0]['workload']['name']}" if results else ""
    return f"{title}\n" + tabulate(rows, headers=headers, disable_numparse=True)


def _report():
    """The report module, imported when a command first needs it: it brings numpy and
    scipy.stats (:mod:`slabpolicy.analysis.formats`), which no other command pays for."""
    from slabpolicy.analysis import report
    return report


def _load_report_meanwhile() -> None:
    """Import the report's modules while compare's workers run (the parent only waits
    on them then), rather than before they start or after they end.  An import that
    fails here fails again, with its message, where the report needs it, once every
    finished result is written."""
    try:
        _report()
    except ImportError:
        pass


def _usage(message: str) -> SlabpolicyError:
    """A bad argument: one line, exit status 2."""
    error = SlabpolicyError(message)
    error.exit_code = 2
    return error


def _check_baseline(baseline: Optional[str], labels: list[str]) -> None:
    if baseline is not None and baseline not in labels:
        raise _usage(f"--baseline {baseline}: not one of the policies compared "
                     f"({', '.join(labels)})")


def _check_metrics(metrics: list[str], results: list[dict]) -> None:
    """Each ``--metric`` must name a figure of the result documents."""
    report = _report()
    for metric in metrics:
        for result in results:
            try:
                report.metric_value(result, metric)
            except KeyError as exc:
                message = str(exc) if isinstance(exc, SlabpolicyError) else f"unknown metric {exc}"
                raise _usage(f"--metric {metric}: {message}") from None


def _render(results: list[dict], baseline: Optional[str], metrics: list[str], fmt: str,
            wide: bool = False) -> str:
    report = _report()
    labels = list(dict.fromkeys(r["policy"]["label"] for r in results))
    _check_baseline(baseline, labels)
    _check_metrics(metrics, results)
    from slabpolicy.analysis import sweep_report      # a sweep's results: by grid point
    if sweep_report.is_sweep(results):
        return sweep_report.render(sweep_report.sweep_table(
            results, baseline=baseline, metrics=metrics or None), fmt, wide=wide)
    table = report.comparison_table(results, baseline=baseline, metrics=metrics or None)
    return report.render(table, fmt, wide=wide)


WIDE_HELP = "every statistic: sd, median, p(t), p(W) where it can reach significance, d_z"
METRIC_HELP = ("a figure to compare, as a dotted path into the result (repeatable; "
               "`slabpolicy metrics` lists them all); default: " + ", ".join(DEFAULT_METRICS))


@app.command()
def compare(
    files: Annotated[Optional[list[Path]], typer.Argument(
        help="workload YAML files (default: the bundled default experiment)",
        show_default=False)] = None,
    policy: PolicyOption = None,
    option: OptionOption = None,
    seeds: Annotated[int, typer.Option(
        min=1, help="seeds per workload: the workload's seed and the next N-1")] = matrix.DEFAULT_SEEDS,
    baseline: BaselineOption = None,
    metric: Annotated[Optional[list[str]], typer.Option(help=METRIC_HELP)] = None,
    jobs: Annotated[Optional[int], typer.Option(
        min=1, help="worker processes (default: one per cpu; 1 runs in this process)",
        show_default=False)] = None,
    out: OutOption = None,
    fmt: TableFormatOption = "plain",
    plugin: PluginOption = None,
    set_: SetOption = None,
    wide: Annotated[bool, typer.Option(help=WIDE_HELP)] = False,
    budget: BudgetOption = None,
    yes: YesOption = False,
    run_timeout: RunTimeoutOption = DEFAULT_RUN_TIMEOUT,
    allow_workload_plugins: AllowPluginsOption = False,
) -> None:
    """Run workloads under several policies and seeds, in parallel; print a comparison.

    Every run is written to the results directory as it finishes, with a
    manifest.json; running the same command again (same --out) reuses finished
    runs and runs only what is missing.
    """
    _check_format(fmt, TABLE_FORMATS)
    metrics = list(metric or ())

    def prepare():
        plan = matrix.plan_experiment(
            list(files or ()), policies=with_options(list(policy or ()), list(option or ())),
            seeds=seeds, overrides=list(set_ or ()), plugin_paths=list(plugin or ()),
            allow_workload_plugins=allow_workload_plugins)
        _check_baseline(baseline, plan.labels)
        for workload in plan.workloads:
            check_budget(workload, _budget(budget, yes),
                         sum(1 for r in plan.runs if r.workload is workload))
        directory = out if out is not None else matrix.default_out(plan)
        # a bad --metric fails before anything runs when a finished result can show it
        if metrics and directory.is_dir():
            matrix.find_reusable(plan, directory)
            ready = [r.result for r in plan.runs if r.result is not None]
            if ready:
                _check_metrics(metrics, ready[:1])
        return plan, directory

    plan, directory = _guarded(prepare)
    checked = {"metrics": False}

    def on_result(run) -> None:
        if metrics and not checked["metrics"]:
            checked["metrics"] = True
            _check_metrics(metrics, [run.result])

    outcome = _guarded(lambda: matrix.run_experiment(
        plan, directory, jobs=jobs, progress=_progress, on_result=on_result,
        run_timeout=run_timeout, meanwhile=_load_report_meanwhile))
    typer.echo(f"{directory}: {len(plan.runs)} runs ({outcome.ran} new, "
               f"{outcome.reused} reused); `slabpolicy report {directory}` shows them again",
               err=True)
    _echo(_guarded(lambda: _render(outcome.results, baseline, metrics, fmt, wide)))


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="a results directory written by compare")],
    baseline: Annotated[Optional[str], typer.Option(
        help="the policy the others are compared with (default: the first)")] = None,
    metric: Annotated[Optional[list[str]], typer.Option(help=METRIC_HELP)] = None,
    fmt: Annotated[str, typer.Option("--format", help="plain, github, latex, html, csv or json")] = "plain",
    wide: Annotated[bool, typer.Option(help=WIDE_HELP)] = False,
    html: Annotated[Optional[Path], typer.Option(
        help="also write one self-contained HTML page here: the tables, a forest plot per "
             "metric, the plots, the workload and the provenance", show_default=False)] = None,
) -> None:
    """Render the comparison of a results directory again, without running anything."""
    report_mod = _guarded(lambda: _report())
    _check_format(fmt, tuple(report_mod.FORMATS))

    def go():
        results = matrix.load_results(
            directory, warn=lambda message: typer.echo(message, err=True))
        text = _render(results, baseline, list(metric or ()), fmt, wide)
        if html is not None:
            from slabpolicy.analysis.html import write_report_page
            write_report_page(html, results, directory, baseline=baseline,
                              metrics=list(metric or ()) or None)
            typer.echo(f"{html}: the report page", err=True)
        return text

    _echo(_guarded(go))


@app.command()
def plot(
    directory: Annotated[Path, typer.Argument(help="a results directory written by compare")],
    out: Annotated[Optional[Path], typer.Option(help="where to write the PNGs (default: DIR)")] = None,
) -> None:
    """Plot a results directory: memory over time, latency percentiles, lock wait (PNG).

    Needs matplotlib: pip install 'slabpolicy[plot]'.
    """
    from slabpolicy.analysis.plots import plot_results

    def go():
        results = matrix.load_results(
            directory, warn=lambda message: typer.echo(message, err=True))
        from slabpolicy.analysis import sweep_plot, sweep_report     # a sweep: by parameter
        if sweep_report.is_sweep(results):
            return sweep_plot.plot_sweep(results, out or directory)
        return plot_results(results, out or directory)

    for path in _guarded(go):
        typer.echo(str(path))


def _echo(text: str) -> None:
    typer.echo(text, nl=not text.endswith("\n"))


@app.command()
def policies(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    plugin: Annotated[Optional[list[Path]], typer.Option(help="load a local plugin module")] = None,
) -> None:
    """List the installed policies: name, version, source, kernel and description."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    registry = _guarded(lambda: policy_registry(make_plugin_manager(tuple(map(str, plugin or ())))))
    rows = [{"name": name, "version": e.spec.version, "source": e.source,
             "kernel": e.spec.kernel_for(e.spec.parse_options({})[0]),
             "description": e.spec.description,
             "options": {o.name: {"type": o.type, "default": o.default, "help": o.help}
                         for o in e.spec.options}}
            for name, e in registry.items()]
    if fmt == "json":
        typer.echo(_dump(rows))
    else:
        typer.echo(tabulate([[r["name"], r["version"], r["source"], r["kernel"], r["description"]]
                             for r in rows],
                            headers=["name", "version", "source", "kernel", "description"],
                            disable_numparse=True))


@app.command()
def geometry(
    sizes: Annotated[list[str], typer.Argument(help="slot sizes: 192, 624, 4KiB ...")],
    cpus: Annotated[int, typer.Option(help="cpu count (default: this machine's)")] = 0,
    page_size: Annotated[str, typer.Option(help="page size")] = "4KiB",
    max_order: Annotated[int, typer.Option(help="slub_max_order")] = 3,
    min_objects: Annotated[int, typer.Option(help="slub_min_objects (0: from the cpu count)")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """What SLUB does for an object size, in each SLUB era (3.4 and 6.x) side by side:
    order, objects per slab, min_partial, cpu_partial (and 6.x's cpu_partial_slabs)."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    try:
        page = parse_size(page_size)
        nr_cpus = cpus or os.cpu_count() or 1
        rows = [[geometry_mod.geometry(parse_size(size), nr_cpus=nr_cpus, page_size=page,
                                       max_order=max_order, min_objects=min_objects, era=era)
                 for era in geometry_mod.SLUB_ERAS]
                for size in sizes]
    except (UnitError, ValueError) as exc:
        typer.echo(f"geometry: {exc}", err=True)
        raise typer.Exit(code=2)
    if fmt == "json":
        typer.echo(_dump([g.as_dict() for row in rows for g in row]))
        return
    typer.echo(f"{nr_cpus} cpus, {format_size(page)} pages, slub_max_order={max_order}; "
               f"objects per slab; cpu_partial in objects, cpu_partial_slabs in slabs")
    per_era = {"order": "order", "objects_per_slab": "objects", "cpu_partial": "cpu_partial"}
    headers = ["object_size", "min_partial",
               *(f"{era} {label}" for era in geometry_mod.SLUB_ERAS for label in per_era.values()),
               "6.x cpu_partial_slabs"]
    table = [[row[0].object_size, row[0].min_partial,
              *(getattr(g, f) for g in row for f in per_era), row[-1].cpu_partial_slabs]
             for row in rows]
    typer.echo(tabulate(table, headers=headers))
