"""One self-contained HTML page of a results directory, to share.

:func:`report_page` puts together what a reader needs to judge a comparison
without the directory or a network: the comparison table (as ``compare``
prints it, with its legend, notes and warnings), a forest plot per workload and
metric (each policy's difference from the baseline with its interval, drawn as
inline SVG), the plots of :mod:`slabpolicy.analysis.plots` embedded as PNG data
URIs (when matplotlib is installed), the workload file, and the provenance the
manifest records (versions, host, command line, times, policies and options).
Nothing is fetched: no script, font, style sheet or image comes from elsewhere.
"""
from __future__ import annotations

import base64
import html
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from slabpolicy.analysis.report import ComparisonTable, Row, blocks, delta_cell, html_table
from slabpolicy.errors import SlabpolicyError

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
td, th { padding: 2px 8px; } tr.metric th { background: #eef; padding-top: 6px; }
tr.significant td { font-weight: bold; }
caption { font-size: 0.85em; color: #444; padding-top: 0.5em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #444; }
img { max-width: 100%; } dt { font-weight: bold; } dd { margin: 0 0 0.4em 1.5em; }
.note { color: #844; }
"""

#: forest plot geometry (px)
FOREST_WIDTH, FOREST_LEFT, FOREST_RIGHT, FOREST_ROW = 760, 190, 210, 22


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _scale(values: list[float], width: float) -> tuple[float, float]:
    """(x0, px per unit) mapping the range of ``values`` (and 0) onto ``width``."""
    low, high = min(values + [0.0]), max(values + [0.0])
    if high == low:
        high, low = low + 1.0, low - 1.0
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    return low, width / (high - low)


def _tick(value: float) -> str:
    return f"{value:+.3g}"


def _forest_point(r: Row, relative: bool) -> tuple[float, float, float] | None:
    """Estimate and interval of one row on the plot's axis, or None if undefined."""
    p = r.vs_baseline
    if p is None or math.isnan(p.diff):
        return None
    if relative:
        return 100 * p.rel_diff, 100 * p.rel_ci_low, 100 * p.rel_ci_high
    return p.diff, p.diff_ci_low, p.diff_ci_high


def forest_svg(rows: list[Row], unit: str) -> str:
    """An inline SVG: one line per policy, its difference from the baseline (a dot;
    a diamond when exact) and its interval (a bar), with the zero line.  Relative
    (%) when the baseline mean is not 0, else in the metric's unit."""
    compared = [r for r in rows if r.vs_baseline is not None]
    if not compared:
        return ""
    relative = not math.isnan(compared[0].vs_baseline.rel_diff)
    points = [(r, _forest_point(r, relative)) for r in compared]
    finite = [v for _, pt in points if pt for v in pt if math.isfinite(v)]
    plot_w = FOREST_WIDTH - FOREST_LEFT - FOREST_RIGHT
    x0, per = _scale(finite, plot_w)

    def x(v: float) -> float:
        return FOREST_LEFT + (v - x0) * per

    height = FOREST_ROW * (len(points) + 1) + 10
    axis = "Δ vs baseline (%)" if relative else f"Δ vs baseline ({unit or 'value'})"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{FOREST_WIDTH}" height="{height}" '
           f'role="img" aria-label="{_esc(axis)}">',
           f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{height - FOREST_ROW:.1f}" '
           f'stroke="#999" stroke-dasharray="3,3"/>']
    for i, (r, pt) in enumerate(points):
        y = FOREST_ROW * (i + 1)
        out.append(f'<text x="{FOREST_LEFT - 8}" y="{y + 4}" text-anchor="end" '
                   f'font-size="12">{_esc(r.policy)}</text>')
        out.append(f'<text x="{FOREST_WIDTH - FOREST_RIGHT + 8}" y="{y + 4}" '
                   f'font-size="11">{_esc(delta_cell(r))}</text>')
        if pt is None:
            continue
        est, low, high = pt
        colour = "#c33" if r.significant else ("#36c" if r.exact else "#555")
        if math.isfinite(low) and math.isfinite(high) and not r.exact:
            out.append(f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" '
                       f'stroke="{colour}" stroke-width="2"/>')
        if r.exact:
            out.append(f'<path d="M{x(est):.1f},{y - 5} l5,5 l-5,5 l-5,-5 z" fill="{colour}"/>')
        else:
            fill = colour if r.significant else "white"
            out.append(f'<circle cx="{x(est):.1f}" cy="{y}" r="4" fill="{fill}" '
                       f'stroke="{colour}" stroke-width="2"/>')
    low_end, high_end = x0, x0 + plot_w / per
    for value, anchor, at in ((low_end, "start", FOREST_LEFT),
                              (high_end, "end", FOREST_LEFT + plot_w)):
        out.append(f'<text x="{at:.1f}" y="{height - 4}" text-anchor="{anchor}" font-size="10" '
                   f'fill="#666">{_esc(_tick(value))}</text>')
    out.append(f'<text x="{FOREST_LEFT + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
               f'font-size="11">{_esc(axis)}; 0 at the dashed line</text>')
    out.append("</svg>")
    return "\n".join(out)


def _forests(table: ComparisonTable) -> list[str]:
    out = ["<h2>Differences from the baseline</h2>",
           f"<p>Each policy against {_esc(table.baseline)}: the difference of the means "
           f"with its {100 * table.confidence:g}% interval (bar); filled red: significant "
           f"after Holm; blue diamond: the same difference in every seed (exact, not "
           f"tested); hollow: not separated.</p>"]
    for workload, heading, rows in blocks(table):
        svg = forest_svg(rows, rows[0].unit)
        if svg:
            out.append(f"<figure>{svg}<figcaption>{_esc(workload)}: {_esc(heading)}"
                       f"</figcaption></figure>")
    return out


def _plots(results: list[dict]) -> list[str]:
    """The PNG plots, embedded; a note instead when matplotlib is missing."""
    from slabpolicy.analysis.plots import plot_results

    out = ["<h2>Plots</h2>"]
    with tempfile.TemporaryDirectory(prefix="slabpolicy-html-") as tmp:
        try:
            paths = plot_results(results, Path(tmp))
        except SlabpolicyError as exc:
            return out + [f'<p class="note">{_esc(exc)}</p>']
        for path in paths:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(path.stem)}">'
                       f"<figcaption>{_esc(path.stem)}</figcaption></figure>")
    return out


def _workloads(manifest: dict | None, results: list[dict]) -> list[str]:
    out = ["<h2>Workloads</h2>"]
    entries = (manifest or {}).get("workloads") or [
        {"name": r["workload"]["name"], "path": r["workload"].get("path"),
         "sha256": r["workload"].get("sha256")} for r in results]
    seen = set()
    for w in entries:
        if w.get("name") in seen:
            continue
        seen.add(w.get("name"))
        out.append(f"<h3>{_esc(w.get('name'))}</h3><p>{_esc(w.get('path'))}, sha256 "
                   f"<code>{_esc(w.get('sha256'))}</code>"
                   + (f"; --set {_esc(' '.join(w['overrides']))}" if w.get("overrides") else "")
                   + "</p>")
        path = Path(str(w.get("abspath") or w.get("path") or ""))
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError, ValueError):
            out.append('<p class="note">the workload file is not readable here</p>')
            continue
        out.append(f"<pre>{_esc(text)}</pre>")
    return out


def _provenance(manifest: dict | None) -> list[str]:
    out = ["<h2>Provenance</h2>"]
    if not manifest:
        return out + ['<p class="note">no manifest.json in the results directory</p>']
    fields = [("slabpolicy", manifest.get("slabpolicy")),
              ("Python", f"{manifest.get('python')} ({manifest.get('implementation')})"),
              ("host", f"{manifest.get('host')}, {manifest.get('platform')}"),
              ("command", " ".join(map(str, manifest.get("command") or ()))),
              ("started", manifest.get("started")), ("finished", manifest.get("finished")),
              ("status", manifest.get("status")),
              ("runs", f"{manifest.get('finished_runs')} of {manifest.get('planned')}")]
    out.append("<dl>" + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in fields)
               + "</dl>")
    rows = "".join(f"<tr><td>{_esc(p.get('label'))}</td><td>{_esc(p.get('name'))}</td>"
                   f"<td>{_esc(p.get('version'))}</td><td>{_esc(p.get('source'))}</td>"
                   f"<td>{_esc(json.dumps(p.get('options')))}</td></tr>"
                   for p in manifest.get("policies") or ())
    out.append("<table><thead><tr><th>label</th><th>policy</th><th>version</th><th>source</th>"
               f"<th>options</th></tr></thead><tbody>{rows}</tbody></table>")
    return out


def report_page(results: list[dict], table: ComparisonTable, manifest: dict | None,
                title: str) -> str:
    """The whole page as a string (UTF-8 HTML5, no external resource)."""
    body = [f"<h1>{_esc(title)}</h1>",
            f"<p>{len(results)} runs; {len(table.policies)} policies against the baseline "
            f"{_esc(table.baseline)}, paired by seed.</p>",
            "<h2>Comparison</h2>", html_table(table)]
    body += _forests(table) + _plots(results) + _workloads(manifest, results)
    body += _provenance(manifest)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_report_page(path: Path, results: list[dict], directory: Path, *,
                      baseline: str | None = None, metrics: list[str] | None = None) -> None:
    """Write the page of the results of ``directory`` to ``path``, whole or not at all."""
    from slabpolicy.analysis.report import comparison_table
    from slabpolicy.runs.matrix import read_manifest
    from slabpolicy.runs.results import write_atomic

    table = comparison_table(results, baseline=baseline, metrics=metrics)
    title = f"slabpolicy: {', '.join(table.workloads)}"
    page = report_page(results, table, read_manifest(directory), title)
    try:
        write_atomic(path, lambda f: f.write(page), mode="w")
    except OSError as exc:
        raise SlabpolicyError(f"--html {path}: cannot write it: {exc.strerror or exc}") from exc
