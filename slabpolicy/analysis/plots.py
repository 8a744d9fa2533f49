"""Figures of result documents: memory over time, latency percentiles, lock wait.

:func:`plot_results` takes result documents (as :mod:`slabpolicy.runs.runner` builds
them, any number of workloads, policies and seeds) and writes PNG files per
workload into a directory:

``<workload>-slab_pages.png``, ``-dead_cache_pages.png``, ``-dying_memcgs.png``
    The figure over simulated time, one line per policy: the mean across seeds,
    with the min-max spread across seeds as a band.
``<workload>-latency.png``
    alloc, free and offline latency.  A result stores percentiles only (p50,
    p90, p99, p99.9, max), not a histogram, so these are percentile points
    joined as a step, not full CDFs: per policy the median across seeds, with
    the min-max across seeds as horizontal bars.
``<workload>-lock_wait.png``
    Per lock class, grouped bars per policy: total wait time (annotated with
    the contentions) and total hold time (annotated with the acquisitions), the
    mean across seeds with min-max error bars.

Colours and line styles follow the policy label and are the same in every
figure of one call.  matplotlib is an optional dependency (``slabpolicy[plot]``)
and is imported only when plotting.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from slabpolicy.errors import SlabpolicyError

#: time series figures drawn: series key, y-axis quantity (None: pages) and title
SERIES_FIGURES = (
    ("slab_pages", None, "Slab pages (all caches)"),
    ("dead_cache_pages", None, "Pages held by dead (offlined memcgs') caches"),
    ("dying_memcgs", "dying memcgs (count)", "Dying memcgs (offlined, not yet released)"),
)
LATENCY_KINDS = ("alloc", "free", "offline")
#: percentile points as a result document stores them, and where they go on the
#: "nines" axis (-log10(1 - q)); max has no finite place and is put one step past p99.9
PERCENTILE_POINTS = (("p50", "p50", 50.0), ("p90", "p90", 90.0), ("p99", "p99", 99.0),
                     ("p999", "p99.9", 99.9), ("max", "max", None))
MAX_NINES = 4.0
DPI = 120
_MISSING = "plots need matplotlib: pip install 'slabpolicy[plot]'"
_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def plot_results(results: list[dict], out_dir: Path) -> list[Path]:
    """Write the figures of ``results`` into ``out_dir``; return the files written.

    Results are grouped by ``workload.name`` (results of one name but different
    workload files, by sha256, are kept apart: their file names get the sha's
    first 8 digits).  Raises :class:`SlabpolicyError` if matplotlib is missing
    or there is nothing to plot.
    """
    plt = _pyplot()
    if not results:
        raise SlabpolicyError("no results to plot")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = sorted({r["policy"]["label"] for r in results})
    style = _policy_styles(labels)
    written: list[Path] = []
    for name, group in _by_workload(results):
        by_policy: dict[str, list[dict]] = defaultdict(list)
        for r in group:
            by_policy[r["policy"]["label"]].append(r)
        for runs in by_policy.values():
            runs.sort(key=lambda r: r.get("seed", 0))
        policies = {label: by_policy[label] for label in labels if label in by_policy}
        stem = _safe(name)
        unit = _page_unit(group[0])
        for key, quantity, title in SERIES_FIGURES:
            path = out_dir / f"{stem}-{key}.png"
            _plot_series(plt, name, key, title, quantity or unit, policies, style, path)
            written.append(path)
        path = out_dir / f"{stem}-latency.png"
        _plot_latency(plt, name, policies, style, path)
        written.append(path)
        path = out_dir / f"{stem}-lock_wait.png"
        _plot_locks(plt, name, policies, style, path)
        written.append(path)
    return written


# -- setup ---------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SlabpolicyError(_MISSING) from exc
    return plt


def _safe(text: str) -> str:
    """A file-name-safe version of ``text``, as :func:`results.result_filename` makes."""
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", text)


def _by_workload(results: list[dict]) -> list[tuple[str, list[dict]]]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in results:
        wl = r.get("workload", {})
        groups[(wl.get("name", "workload"), wl.get("sha256", ""))].append(r)
    shas: dict[str, set[str]] = defaultdict(set)
    for name, sha in groups:
        shas[name].add(sha)
    out = []
    for (name, sha), group in sorted(groups.items()):
        out.append((f"{name}@{sha[:8]}" if len(shas[name]) > 1 else name, group))
    return out


def _page_unit(result: dict) -> str:
    """"pages (4 KiB)" when the result says the page size, else "pages"."""
    size = None
    for holder in (result.get("machine"), result.get("workload")):
        if isinstance(holder, dict):
            size = holder.get("page_size", size)
    if isinstance(size, int) and size > 0:
        return f"pages ({_bytes(size)})"
    return "pages"


def _bytes(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def _policy_styles(labels: list[str]) -> dict[str, dict[str, Any]]:
    """One colour, line style and marker per policy label, fixed for the whole call."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: {"color": cmap(i % cmap.N), "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
                    "marker": _MARKERS[i % len(_MARKERS)]}
            for i, label in enumerate(labels)}


def _save(plt, fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# -- memory over time --------------------------------------------------------------


def _stack(runs: list[dict], key: str):
    """The series ``key`` of each run on one common time grid (seconds).

    Each sample holds until the next one (as the result's time-weighted mean
    takes it), so a run sampled at other times is read off at the grid's times;
    a run that ended earlier has no value (NaN) past its end.
    """
    import numpy as np

    grids = [np.asarray(r["series"]["t_ns"], dtype=float) for r in runs]
    t = np.unique(np.concatenate(grids)) if grids else np.zeros(0)
    rows = []
    for r, tr in zip(runs, grids):
        raw = r["series"].get(key) or [None] * len(tr)
        v = np.array([math.nan if x is None else float(x) for x in raw], dtype=float)
        idx = np.searchsorted(tr, t, side="right") - 1
        row = np.where(idx >= 0, v[np.clip(idx, 0, len(v) - 1)], math.nan)
        row[t > tr[-1]] = math.nan
        rows.append(row)
    return t / 1e9, np.vstack(rows)


def _plot_series(plt, workload: str, key: str, title: str, quantity: str,
                 policies: dict[str, list[dict]], style, path: Path) -> None:
    import warnings

    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(11, 5.2))
    top = 0.0
    seeds = set()
    for label, runs in policies.items():
        runs = [r for r in runs if r.get("series", {}).get("t_ns")]
        if not runs:
            continue
        seeds.add(len(runs))
        t, values = _stack(runs, key)
        with warnings.catch_warnings():         # a column that is all NaN at some time
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0)
            low = np.nanmin(values, axis=0)
            high = np.nanmax(values, axis=0)
        finite = high[np.isfinite(high)]
        peak = float(finite.max()) if finite.size else 0.0
        top = max(top, peak)
        s = style[label]
        note = "0 throughout" if peak == 0 else f"peak {_num(peak)}"
        ax.plot(t, mean, drawstyle="steps-post", color=s["color"], linestyle=s["linestyle"],
                linewidth=1.8, label=f"{label}  ({note})", zorder=3)
        if len(runs) > 1 and np.any(high > low):
            ax.fill_between(t, low, high, step="post", color=s["color"], alpha=0.10,
                            linewidth=0, zorder=1)
    if top == 0:
        ax.set_ylim(-0.05, 1)
        ax.text(0.5, 0.5, "0 for every policy and seed", transform=ax.transAxes,
                ha="center", va="center", fontsize=13, color="0.4")
    else:
        ax.set_ylim(-0.02 * top, top * 1.05)      # lines at 0 stay visible above the axis
    ax.set_xlim(left=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel(quantity)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{workload}: {title}\n{_seed_note(seeds, 'mean', 'line', 'band')}",
                 fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False,
              title="policy  (peak, any seed)")
    fig.tight_layout()
    _save(plt, fig, path)


def _seed_note(counts: set[int], centre: str, mark: str, spread: str) -> str:
    """What the ``mark`` and ``spread`` of a figure mean, for the seeds each policy has.

    ``_seed_note({3}, "mean", "line", "band")`` is "line: mean of 3 seeds; band:
    min–max across seeds"; with one seed per policy there is no spread to explain.
    """
    if not counts or max(counts) == 1:
        return f"{mark}: one seed per policy"
    n = f"{min(counts)}–{max(counts)}" if len(counts) > 1 else str(max(counts))
    return f"{mark}: {centre} of {n} seeds; {spread}: min–max across seeds"


def _num(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


# -- latency percentiles -----------------------------------------------------------


def _nines(q: float | None) -> float:
    return MAX_NINES if q is None else -math.log10(1 - q / 100.0)


def _ns(x: float) -> str:
    """A time in ns as a short human string: 0, 7 ns, 12 µs, 1.5 ms, 2 s."""
    if x == 0:
        return "0"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(x) >= scale:
            v = x / scale
            return f"{v:.3g} {unit}"
    return f"{x:.3g} ns"


def _decade_ticks(low: float, high: float) -> list[float]:
    """Powers of ten from ``low`` to ``high``, every 1, 2 or 3 decades: at most 7."""
    first = math.floor(math.log10(max(low, 1)))
    last = math.ceil(math.log10(max(high, 10)))
    step = 1 if last - first <= 6 else 2 if last - first <= 12 else 3
    first -= first % step
    return [10.0 ** k for k in range(first, last + 1, step)]


def _time_axis(ax, values: list[float]) -> None:
    """A log latency axis over ``values``, with room for 0 (symlog) when one of them is 0.

    Ticks carry their unit (ns, µs, ms, s).
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    positive = [v for v in values if v > 0] or [10.0]
    low, high = min(positive), max(positive)
    zero = any(v == 0 for v in values)
    ticks = _decade_ticks(10 if zero else low / 2.5, high)
    right = high * 3
    if len(ticks) > 1 and ticks[1] / ticks[0] > 10:
        right = max(right, ticks[-1] * 1.5)   # sparse ticks: show the one past the data
    if zero:
        ax.set_xscale("symlog", linthresh=1, linscale=0.7)
        ticks = [0.0] + [t for t in ticks if 10 <= t <= right]
        ax.set_xlim(-0.6, right)
    else:
        ax.set_xscale("log")
        ticks = [t for t in ticks if low / 2.5 <= t <= right]
        ax.set_xlim(low / 2.5, right)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _ns(x)))


def _plot_latency(plt, workload: str, policies: dict[str, list[dict]], style,
                  path: Path) -> None:
    import numpy as np
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.6))
    names = list(policies)
    nudge = min(0.07, 0.5 / max(len(names), 1))
    offsets = {label: (i - (len(names) - 1) / 2) * nudge for i, label in enumerate(names)}
    rows = np.array([_nines(q) for _, _, q in PERCENTILE_POINTS])
    handles: dict[str, Any] = {}
    for ax, kind in zip(axes, LATENCY_KINDS):
        shown: list[float] = []
        counts: list[int] = []
        silent = []
        for label, runs in policies.items():
            summaries = [r.get("latency_ns", {}).get(kind) for r in runs]
            summaries = [s for s in summaries if s and s.get("count", 0) > 0]
            if not summaries:
                silent.append(label)
                continue
            counts += [s["count"] for s in summaries]
            points = np.array([[float(s[p]) for p, _, _ in PERCENTILE_POINTS]
                               for s in summaries])
            med = np.median(points, axis=0)
            low, high = points.min(axis=0), points.max(axis=0)
            y = rows + offsets[label]
            s = style[label]
            cdf = _cdf([r.get("latency_hist", {}).get(kind) for r in runs])
            if cdf is not None:
                ax.plot(cdf[0], cdf[1] + offsets[label], drawstyle="steps-post",
                        color=s["color"], linestyle=s["linestyle"], linewidth=1.5,
                        alpha=0.9, clip_on=False, zorder=3)
            line, = ax.plot(med, y, linestyle="none" if cdf is not None else s["linestyle"],
                            drawstyle="steps-post", color=s["color"], linewidth=1.5,
                            marker=s["marker"], markersize=6, alpha=0.9, clip_on=False,
                            zorder=3)
            if cdf is not None:          # the legend shows the line and the marker
                line = Line2D([], [], color=s["color"], linestyle=s["linestyle"],
                              linewidth=1.5, marker=s["marker"], markersize=6)
            if len(summaries) > 1 and np.any(high > low):
                ax.errorbar(med, y, xerr=[med - low, high - med], fmt="none",
                            ecolor=s["color"], elinewidth=1, capsize=3, alpha=0.8, zorder=2)
            handles.setdefault(label, line)
            shown += list(low) + list(high)
        _time_axis(ax, shown)
        ax.set_ylim(-0.12, rows[-1] + 0.35)
        ax.set_yticks([0.0] + list(rows), ["min"] + [name for _, name, _ in PERCENTILE_POINTS])
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("latency (ns, log scale)")
        ax.set_ylabel("percentile")
        if counts:
            span = (_count(min(counts)) if min(counts) == max(counts)
                    else f"{_count(min(counts))}–{_count(max(counts))}")
            ax.set_title(f"{kind}: {span} events per run", fontsize=11)
        else:
            ax.set_title(kind, fontsize=11)
            ax.text(0.5, 0.5, f"no {kind} events", transform=ax.transAxes, ha="center",
                    va="center", fontsize=13, color="0.4")
        if counts and silent:
            ax.text(0.99, 0.02, "no events: " + ", ".join(silent), transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=8, color="0.4")
    seeds = {len(runs) for runs in policies.values()}
    fig.suptitle(f"{workload}: latency CDF (line: the histograms of every seed merged, "
                 f"on a nines scale) and percentile points\n"
                 f"{_seed_note(seeds, 'median', 'marker', 'whisker')}; "
                 "policies nudged up/down so equal ones stay visible", fontsize=11)
    _figure_legend(fig, names, handles)
    _save(plt, fig, path)


def _cdf(hists: list) -> tuple | None:
    """The CDF of the runs' latency histograms merged (``[[ns, count], ...]`` each), as
    (values, nines of the fraction at or below each value), or None when a run has
    none (results written before the histograms were kept)."""
    import numpy as np

    if not hists or any(not h for h in hists):
        return None
    counts: dict[int, int] = {}
    for hist in hists:
        for value, n in hist:
            counts[value] = counts.get(value, 0) + n
    values = np.array(sorted(counts), dtype=float)
    cum = np.cumsum([counts[v] for v in sorted(counts)]) / sum(counts.values())
    with np.errstate(divide="ignore"):
        nines = np.minimum(-np.log10(np.maximum(1.0 - cum, 0.0)), MAX_NINES)
    # start at the smallest value with nothing below it
    return np.concatenate([[values[0]], values]), np.concatenate([[0.0], nines])


def _figure_legend(fig, names: list[str], handles: dict[str, Any]) -> None:
    """One legend under the subplots, in policy order; then lay out and leave it room."""
    present = [k for k in names if k in handles]
    ncol = min(len(present), 6) or 1
    if present:
        fig.legend([handles[k] for k in present], present, loc="lower center", ncol=ncol,
                   fontsize=9, frameon=False, title="policy")
    lines = math.ceil(len(present) / ncol) if present else 0
    fig.tight_layout(rect=(0, 0.05 + 0.04 * lines, 1, 1))


# -- lock statistics ---------------------------------------------------------------


#: the lock figure's panels: the summed time, the count annotated on each bar, titles
LOCK_PANELS = (("wait_ns_total", "contentions", "time waited for the lock, total",
                "wait time · contentions"),
               ("hold_ns_total", "acquisitions", "time the lock was held, total",
                "hold time · acquisitions"))


def _plot_locks(plt, workload: str, policies: dict[str, list[dict]], style,
                path: Path) -> None:
    classes = sorted({c for runs in policies.values() for r in runs
                      for c in r.get("locks", {})})
    fig, axes = plt.subplots(1, 2, figsize=(16, 5.8))
    names = list(policies)
    handles: dict[str, Any] = {}
    for ax, panel in zip(axes, LOCK_PANELS):
        _lock_panel(ax, panel, classes, policies, style, handles)
    seeds = {len(runs) for runs in policies.values()}
    fig.suptitle(f"{workload}: lock statistics per lock class (as /proc/lock_stat)\n"
                 f"{_seed_note(seeds, 'mean', 'bar', 'whisker')}; "
                 "no such lock: the policy has no lock of that class", fontsize=11)
    _figure_legend(fig, names, handles)
    _save(plt, fig, path)


def _lock_panel(ax, panel, classes, policies, style, handles) -> None:
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    field, count_field, ylabel, what = panel
    ax.set_title(f"{what.split(' · ')[0]}  (bar label: mean {what})", fontsize=10)
    ax.set_xlabel("lock class")
    if not classes:
        ax.text(0.5, 0.5, "no lock statistics in these results", transform=ax.transAxes,
                ha="center", va="center", fontsize=13, color="0.4")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"{ylabel} (ns)")
        return
    names = list(policies)
    width = 0.8 / len(names)
    bars = []                # (x, label, mean, low, high, count); mean None: class unused
    for ci, cls in enumerate(classes):
        for pi, label in enumerate(names):
            x = ci + (pi - (len(names) - 1) / 2) * width
            stats = [r["locks"][cls] for r in policies[label] if cls in r.get("locks", {})]
            if not stats:
                bars.append((x, label, None, None, None, None))
                continue
            v = np.array([st.get(field, 0) for st in stats], dtype=float)
            n = float(np.mean([st.get(count_field, 0) for st in stats]))
            bars.append((x, label, float(v.mean()), float(v.min()), float(v.max()), n))
    positive = [b[2] for b in bars if b[2]]
    top = max([b[4] for b in bars if b[4] is not None], default=0.0)
    log = bool(positive) and max(positive) / min(positive) > 50
    base = min(positive) / 3 if log else 0.0        # where bars start on a log axis
    for x, label, mean, low, high, n in bars:
        if mean is None:
            ax.annotate("no such lock", (x, base), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", rotation=90, fontsize=7.5, color="0.5")
            continue
        s = style[label]
        bar = ax.bar(x, max(mean - base, 0.0), bottom=base, width=width * 0.9,
                     color=s["color"], edgecolor="white", linewidth=0.5)
        handles.setdefault(label, bar[0])
        if high > low:
            ax.errorbar(x, mean, yerr=[[mean - low], [high - mean]], fmt="none",
                        ecolor="0.2", elinewidth=1, capsize=2)
        text = f"{_ns(mean)}{' ns' if mean == 0 else ''} · {_count(n)}"
        ax.annotate(text, (x, max(high, base)), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", rotation=90, fontsize=7.5)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_xlim(-0.55, len(classes) - 0.45)
    ax.grid(True, axis="y", alpha=0.3)
    ns = FuncFormatter(lambda y, _: _ns(y))
    if log:
        ax.set_yscale("log")
        ax.set_ylim(base, top * 40)           # room above for the rotated labels
        ax.yaxis.set_major_formatter(ns)
        ax.set_ylabel(f"{ylabel} (ns, log scale)")
    elif top > 0:
        ax.set_ylim(0, top * 1.5)
        ax.yaxis.set_major_formatter(ns)
        ax.set_ylabel(f"{ylabel} (ns)")
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([0], ["0"])
        ax.set_ylabel(f"{ylabel} (ns)")
        ax.text(0.5, 0.55, "0 ns in every lock class, policy and seed",
                transform=ax.transAxes, ha="center", va="center", fontsize=12, color="0.4")


def _count(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    if n >= 1e4:
        return f"{n / 1e3:.3g}k"
    return _num(round(n, 1))
