"""``slabpolicy metrics``: the metric catalogue, every figure a result document holds.

What ``--metric`` accepts, with its unit and meaning, including the figures the
installed plugins (and any ``--plugin`` file) declare.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer
from tabulate import tabulate

from slabpolicy.analysis.metrics import DEFAULT_METRICS, Metric, catalogue
from slabpolicy.api.plugin_manager import make_plugin_manager
from slabpolicy.cli.app import FORMATS_TABLE_JSON, _check_format, _guarded, app


def _bounds(m: Metric) -> str:
    if m.lower is None and m.upper is None:
        return ""
    low = "-inf" if m.lower is None else f"{m.lower:g}"
    high = "inf" if m.upper is None else f"{m.upper:g}"
    return f"[{low}, {high}]"


def metrics_table(metrics: list[Metric], width: int) -> str:
    """path, unit, bounds and the description (with a plugin's source) wrapped to
    fit ``width``."""
    rows = [["*" if any(m.matches(d) for d in DEFAULT_METRICS) else "", m.path, m.unit,
             _bounds(m), m.description + ("" if m.source == "slabpolicy" else
                                          f" (from {m.source})")] for m in metrics]
    headers = ["", "path", "unit", "bounds", "description"]
    fixed = sum(max(2, *(len(str(r[i])) for r in rows + [headers])) + 2 for i in range(4))
    text = tabulate(rows, headers=headers, disable_numparse=True,
                    maxcolwidths=[None] * 4 + [max(30, width - fixed)])
    return (text + "\n\n* : shown by compare and report when no --metric is given; a "
            "<name> segment stands for any name of a family\n")


@app.command()
def metrics(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    plugin: Annotated[Optional[list[Path]], typer.Option(
        help="load a local plugin module, whose metrics are listed too")] = None,
) -> None:
    """List every metric of a result document: its path, unit and meaning.

    These are what --metric of compare and report accepts (the time-weighted
    mean, the final and the peak value of each memory figure, latency
    percentiles, lock statistics, ...), with those the plugins declare.
    """
    _check_format(fmt, FORMATS_TABLE_JSON)
    found = _guarded(lambda: catalogue(make_plugin_manager(tuple(map(str, plugin or ())))))
    if fmt == "json":
        typer.echo(json.dumps([m.as_dict() for m in found], indent=2))
    else:
        typer.echo(metrics_table(found, shutil.get_terminal_size((100, 24)).columns), nl=False)
