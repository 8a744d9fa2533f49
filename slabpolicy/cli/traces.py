"""Commands for real workloads: ``trace stats`` (and, with the modules they use,
``record`` and ``replay-check``)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tabulate import tabulate

from slabpolicy.cli.app import FORMATS_TABLE_JSON, _check_format, _dump, _guarded, app
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
