"""Figures of a sweep: each metric against the swept parameter, one line per policy.

:func:`plot_sweep` writes ``sweep-<metric>.png`` per metric.  The x axis is the
grid's first parameter whose values are all numbers (a rate, a duration, a
size or a plain number; :func:`slabpolicy.runs.grid.numeric`), on a log scale
when the values grow geometrically, labelled with the values as written; a grid
with more parameters gets one row of panels per combination of the others.
Left: each policy's mean over seeds with its confidence interval as a band
(on a log scale too, on a geometric grid, when every interval is above 0).
Right: each policy's difference from the baseline, in percent of the baseline's
mean, with the CI of the paired differences.  The numbers are those of
:func:`slabpolicy.analysis.sweep_report.sweep_table`, so the figure and the
table agree.  matplotlib is imported only when plotting (``slabpolicy[plot]``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from slabpolicy.analysis import plots
from slabpolicy.analysis.sweep_report import SweepTable, sweep_table
from slabpolicy.errors import SlabpolicyError
from slabpolicy.runs.grid import is_geometric, numeric

#: What ``plot DIR`` draws for a sweep.
DEFAULT_METRICS = ("memory.slab_pages.mean", "memory.dead_cache_pages.mean",
                   "memory.dying_memcgs.final", "latency_ns.free.p99", "latency_ns.offline.p99")


def plot_sweep(results: list[dict], out_dir: Path, metrics: Sequence[str] | None = None,
               baseline: str | None = None) -> list[Path]:
    """Write one PNG per metric of the sweep ``results`` into ``out_dir``; return them."""
    plt = plots._pyplot()
    if not results:
        raise SlabpolicyError("no results to plot")
    sweep = sweep_table(results, baseline=baseline, metrics=tuple(metrics or DEFAULT_METRICS))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    style = plots._policy_styles(sweep.table.policies)
    x_path = _x_axis(sweep)
    written = []
    for metric in sweep.table.metrics:
        path = out_dir / f"sweep-{plots._safe(metric)}.png"
        _plot_metric(plt, sweep, metric, x_path, style, path)
        written.append(path)
    return written


def _x_axis(sweep: SweepTable) -> str:
    """The first parameter whose every value is a number, else the first one."""
    for path in sweep.paths:
        if all(numeric(p[path]) is not None for p in sweep.points.values() if path in p):
            return path
    return sweep.paths[0]


def _plot_metric(plt, sweep: SweepTable, metric: str, x_path: str, style, path: Path) -> None:
    others = [p for p in sweep.paths if p != x_path]
    panels: dict[tuple[str, ...], list[str]] = {}        # other values -> point labels
    for label, parameters in sweep.points.items():
        panels.setdefault(tuple(parameters.get(p, "-") for p in others), []).append(label)
    texts = list(dict.fromkeys(p.get(x_path, "-") for p in sweep.points.values()))
    numbers = [numeric(t) for t in texts]
    if all(n is not None for n in numbers):
        where = dict(zip(texts, numbers))
        log = is_geometric(numbers)
    else:
        where, log = {t: float(i) for i, t in enumerate(texts)}, False
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 4.2 * len(panels)), squeeze=False)
    rows = [r for r in sweep.rows() if r.metric == metric]
    names = dict(zip(sweep.paths, sweep.names))
    for (ax_mean, ax_delta), (values, labels) in zip(axes, panels.items()):
        for policy in sweep.table.policies:
            mine = sorted((r for r in rows if r.policy == policy and r.workload in labels),
                          key=lambda r: where[sweep.points[r.workload].get(x_path, "-")])
            if not mine:
                continue
            xs = [where[sweep.points[r.workload].get(x_path, "-")] for r in mine]
            s = [r.summary for r in mine]
            _line(ax_mean, xs, [v.mean for v in s], [v.ci_low for v in s], [v.ci_high for v in s],
                  policy, style[policy])
            if policy != sweep.table.baseline:
                pairs = [r.vs_baseline for r in mine]
                _line(ax_delta, xs, [_pct(p, "rel_diff") for p in pairs],
                      [_pct(p, "rel_ci_low") for p in pairs],
                      [_pct(p, "rel_ci_high") for p in pairs], policy, style[policy])
        means = [r.summary.ci_low for r in rows if r.workload in labels]
        if log and means and all(math.isfinite(m) and m > 0 for m in means):
            ax_mean.set_yscale("log")       # a geometric grid, values that span decades
        ax_delta.axhline(0.0, color="black", linewidth=0.8, label=f"{sweep.table.baseline} "
                                                                 f"(baseline)")
        at = ", ".join(f"{names[p]}={v}" for p, v in zip(others, values))
        ax_mean.set_title(f"{metric}{' at ' + at if at else ''}", fontsize=10)
        ax_delta.set_title(f"difference from {sweep.table.baseline}", fontsize=10)
        ax_mean.set_ylabel(metric)
        ax_delta.set_ylabel("% of the baseline's mean")
        for ax in (ax_mean, ax_delta):
            if log:
                ax.set_xscale("log")
                ax.minorticks_off()
            ax.set_xticks(list(where.values()), list(where))
            ax.set_xlabel(x_path)
            ax.grid(True, alpha=0.3)
    n = sorted({r.summary.n for r in rows})
    seeds = f"{n[0]}" if len(n) == 1 else f"{n[0]}-{n[-1]}"
    pct = f"{100 * sweep.table.confidence:g}%"
    axes[0][0].legend(fontsize=8)
    axes[0][1].legend(fontsize=8)
    fig.suptitle(f"{sweep.workload}: {metric} against {names[x_path]}", fontsize=11)
    fig.text(0.01, 0.005, f"lines: mean over {seeds} seeds; bands: {pct} Student-t CI of the mean "
                          f"(left) and of the paired, by seed, differences (right)", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    plots._save(plt, fig, path)


def _pct(paired, name: str) -> float:
    value = getattr(paired, name) if paired is not None else math.nan
    return 100.0 * value


def _line(ax, xs, ys, lows, highs, label: str, style) -> None:
    ax.plot(xs, ys, label=label, color=style["color"], linestyle=style["linestyle"],
            marker=style["marker"], markersize=4)
    if all(math.isfinite(v) for v in lows + highs):
        ax.fill_between(xs, lows, highs, color=style["color"], alpha=0.15, linewidth=0)
