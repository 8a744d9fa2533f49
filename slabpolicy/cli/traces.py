"""Commands for real workloads: ``trace stats`` (and, with the modules they use,
``record`` and ``replay-check``)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from tabulate import tabulate

from slabpolicy.cli.app import FORMATS_TABLE_JSON, _check_format, _dump, _guarded, app
from slabpolicy.workloads.units import UnitError, parse_duration
from slabpolicy.traces.check import DEFAULT_POLICY, replay_check
from slabpolicy.traces.record import Recorder
from slabpolicy.traces.stats import trace_stats
from slabpolicy.traces.tracefile import TraceFile

trace_app = typer.Typer(no_args_is_help=True, help="Look into recorded or plain ftrace traces.")
app.add_typer(trace_app, name="trace")

_SUMMARY = ("allocs", "frees", "paired", "unpaired_frees", "never_freed",
            "reallocated_without_free", "null_frees", "failed_allocs", "irq_allocs", "irq_frees",
            "lost_events", "other_events", "markers", "forks")


@trace_app.command("stats")
def stats(
    file: Annotated[Path, typer.Argument(help="a recorded trace or plain ftrace text (gzip or not)")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    strict: Annotated[bool, typer.Option(help="stop at the first line that cannot be read")] = False,
) -> None:
    """What a trace holds: allocations, frees, pairs by pointer, per cache."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    doc = _guarded(lambda: trace_stats(TraceFile(file, strict=strict)))
    if fmt == "json":
        typer.echo(_dump(doc))
        return
    unparsed = doc["unparsed_lines"]
    rows = [(key.replace("_", " "), doc[key]) for key in _SUMMARY]
    rows += [("large kmallocs (alloc/free)",
              f"{doc['large_kmalloc']['allocs']}/{doc['large_kmalloc']['frees']}"),
             ("cgroup mkdir/rmdir/attach", "/".join(str(v) for v in doc["cgroup_events"].values())),
             ("unparsed lines", f"{unparsed['count']}" + (
                 f" (lines {', '.join(map(str, unparsed['first']))}"
                 f"{', ...' if unparsed['count'] > len(unparsed['first']) else ''})"
                 if unparsed["count"] else "")),
             ("time span", f"{doc['time_span_ns'] / 1e9:.6f} s"
              + ("" if doc["timestamps"] else " (no timestamps: 1 us per line)")),
             ("cpus seen", ", ".join(map(str, doc["cpus_seen"])))]
    typer.echo(f"{file}\n" + tabulate(rows, tablefmt="plain", disable_numparse=True))
    cache_rows = [(name, *row.values()) for name, row in doc["caches"].items()]
    typer.echo("\n" + tabulate(cache_rows, headers=["cache", "allocs", "frees", "paired",
                                                    "unpaired frees", "never freed",
                                                    "bytes alloc"]))


def _seconds(value: Optional[str], option: str) -> Optional[float]:
    if value is None:
        return None
    try:
        ns = parse_duration(value)
    except UnitError as e:
        raise typer.BadParameter(str(e), param_hint=option) from None
    if ns <= 0:
        raise typer.BadParameter("must be greater than 0", param_hint=option)
    return ns / 1e9


@app.command()
def record(
    out: Annotated[Path, typer.Option(help="the trace file to write (gzip-compressed)")],
    command: Annotated[Optional[list[str]], typer.Argument(
        help="the command to run while recording (after --)")] = None,
    duration: Annotated[Optional[str], typer.Option(
        help="how long to record (e.g. 5s; default: until the command exits, else 10s)")] = None,
    cgroup: Annotated[Optional[str], typer.Option(
        help="run the command in this new memory cgroup (e.g. jobs/build), removed at the end")] = None,
    poll: Annotated[str, typer.Option(help="how often to read the memcgs' kmem counters")] = "100ms",
    watch: Annotated[Optional[str], typer.Option(
        help="the cgroup subtree whose counters are read and whose tasks' events are kept "
             "(default: --cgroup's top, else all)")] = None,
    all_tasks: Annotated[bool, typer.Option(
        help="keep every task's events, not only the watched subtree's")] = False,
) -> None:
    """Record this kernel's slab traffic per memcg with ftrace (Linux, root)."""
    recorder = Recorder(str(out), list(command or ()), _seconds(duration, "--duration"),
                        cgroup, _seconds(poll, "--poll"), watch, all_tasks)
    _guarded(recorder.run)
    typer.echo(f"{out}: recorded")


def _figure(value) -> str:
    if value is None:
        return "-"
    return f"{value:+.1%}" if isinstance(value, float) and abs(value) < 100 else f"{value:,}"


@app.command("replay-check")
def replay_check_command(
    trace: Annotated[Path, typer.Argument(help="a trace recorded by 'slabpolicy record'")],
    policy: Annotated[str, typer.Option(
        help="the policy of the recording kernel")] = DEFAULT_POLICY,
    min_allocs: Annotated[int, typer.Option(
        help="list the caches with at least this many allocations in the trace")] = 200,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Replay a recorded trace and set the model's counters against the kernel's."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    doc = _guarded(lambda: replay_check(str(trace), policy, min_allocs))
    if fmt == "json":
        typer.echo(_dump(doc))
        return
    rows = [(r["what"], f"{r['predicted']:,}", f"{r['measured']:,}", f"{r['error']:+,}",
             _figure(r["relative_error"]), r["unit"]) for r in doc["rows"]]
    typer.echo(f"{trace}: Linux {doc['kernel']}, recorded {doc['recorded_at']}, replayed under "
               f"{policy}: {doc['events']:,} events, {doc['unpaired_frees']:,} unpaired frees, "
               f"{doc['never_freed']:,} objects never freed, {doc['lost_events']} lost events")
    typer.echo(tabulate(rows, headers=["counter", "predicted", "measured", "error", "relative",
                                       "unit"], disable_numparse=True))
