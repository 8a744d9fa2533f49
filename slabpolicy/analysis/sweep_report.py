"""The report of a sweep: per metric, the policies at each grid point.

A sweep's results carry their grid point as ``parameters``.  At each point the
policies are compared with the baseline exactly as ``compare`` compares them:
the results are handed to :func:`slabpolicy.analysis.report.comparison_table`
with the point standing in for the workload, so the statistics (summaries,
paired differences by seed, the Holm family over the whole sweep, the warnings)
are that module's.  This module only lays the rows out by metric, then point,
then policy, with the parameters as the leading columns.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Sequence

from tabulate import tabulate

from slabpolicy.analysis import report
from slabpolicy.runs.grid import short_names

FORMATS = report.FORMATS


def is_sweep(results: Sequence[dict]) -> bool:
    """Do these results come from a sweep (they carry grid parameters)?"""
    return any(r.get("parameters") for r in results)


def parameter_paths(results: Sequence[dict]) -> list[str]:
    """The grid's paths, in the order the results first name them."""
    paths: dict[str, None] = {}
    for r in results:
        for path in r.get("parameters") or {}:
            paths.setdefault(path, None)
    return list(paths)


@dataclass
class SweepTable:
    """A comparison table whose "workloads" are grid points."""

    table: report.ComparisonTable
    workload: str                          # the workload swept (its name)
    paths: list[str]                       # the grid's parameter paths
    points: dict[str, dict[str, str]]      # point label -> its parameters, in grid order

    @property
    def names(self) -> list[str]:
        """The parameters' column names (:func:`~slabpolicy.runs.grid.short_names`)."""
        return short_names(self.paths)

    def rows(self) -> list[report.Row]:
        """The rows by metric, then point (grid order), then policy."""
        order = {label: i for i, label in enumerate(self.points)}
        metrics = {m: i for i, m in enumerate(self.table.metrics)}
        policies = {p: i for i, p in enumerate(self.table.policies)}
        return sorted(self.table.rows, key=lambda r: (metrics[r.metric], order[r.workload],
                                                      policies[r.policy]))


def _label(parameters: dict[str, str], paths: list[str], names: list[str]) -> str:
    return " ".join(f"{n}={parameters.get(p, '-')}" for p, n in zip(paths, names))


def sweep_table(results: list[dict], *, baseline: str | None = None,
                metrics: Sequence[str] | None = None, alpha: float = 0.05) -> SweepTable:
    """Compare the policies with the baseline at each grid point of ``results``."""
    paths = parameter_paths(results)
    names = short_names(paths)
    points: dict[str, dict[str, str]] = {}
    relabelled = []
    for r in results:
        parameters = r.get("parameters") or {}
        label = _label(parameters, paths, names)
        points.setdefault(label, dict(parameters))
        relabelled.append({**r, "workload": {**r["workload"], "name": label}})
    table = report.comparison_table(relabelled, baseline=baseline, metrics=metrics, alpha=alpha)
    workload = results[0]["workload"]["name"] if results else ""
    return SweepTable(table, workload, paths, points)


def _cells(sweep: SweepTable, rows: list[report.Row], cols: list[report.Column]
           ) -> list[list[str]]:
    out = []
    previous = None
    for r in rows:
        parameters = sweep.points[r.workload]
        first = r.workload != previous
        previous = r.workload
        out.append([parameters.get(p, "-") if first else "" for p in sweep.paths]
                   + [c.cell(r) for c in cols])
    return out


def render(sweep: SweepTable, fmt: str, wide: bool = False) -> str:
    """``sweep`` as text in ``fmt`` (one of :data:`FORMATS`).

    plain, github, latex, html: one table per metric, the parameters then the
    columns of :func:`slabpolicy.analysis.report.columns` (``wide``: all of
    them), then the legend, notes and warnings of the whole sweep.  csv and json:
    :func:`slabpolicy.analysis.report.render`'s content with the workload's name
    and one column (csv) or a ``parameters`` mapping (json) per grid parameter.
    """
    table = sweep.table
    if fmt == "json":
        doc = report.to_json_doc(table)
        for row in doc["rows"]:
            row["parameters"] = sweep.points[row["workload"]]
            row["workload"] = sweep.workload
        doc["workloads"] = [sweep.workload]
        doc["parameters"] = sweep.paths
        doc["points"] = list(sweep.points.values())
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(report.render(table, "csv"))))
        buf = io.StringIO()
        fields = ["kind", "workload", *sweep.paths,
                  *(f for f in report.CSV_FIELDS if f not in ("kind", "workload"))]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:           # a note or warning line has no workload, so no point
            point = sweep.points[row["workload"]] if row["kind"] == "row" else {}
            writer.writerow({**row, **point, "workload": sweep.workload})
        return buf.getvalue()
    if fmt not in FORMATS:
        raise report.ComparisonError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    cols = report.columns(table, wide)
    headers = [*sweep.names, *(c.header for c in cols)]
    align = ["left"] * len(sweep.paths) + [c.align for c in cols]
    tablefmt = "simple" if fmt == "plain" else fmt
    parts = [f"sweep of {sweep.workload} over {', '.join(sweep.paths)}: "
             f"{len(sweep.points)} points"]
    rows = sweep.rows()
    for metric in table.metrics:
        mine = [r for r in rows if r.metric == metric]
        unit = f" [{mine[0].unit}]" if mine and mine[0].unit else ""
        body = tabulate(_cells(sweep, mine, cols), headers=headers, tablefmt=tablefmt,
                        disable_numparse=True, colalign=align)
        parts.append(f"{metric}{unit}\n{body}")
    footer = table.footer(wide)
    if fmt == "plain":
        footer = report.wrap_footer(footer)
    return "\n\n".join(parts) + "\n\n" + "\n".join(footer) + "\n"
