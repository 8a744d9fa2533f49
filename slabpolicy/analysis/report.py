"""The comparison table of ``slabpolicy compare``: result documents in, a table out.

:func:`comparison_table` groups result documents by (workload name, policy label),
reads each metric (a dotted path such as ``memory.slab_pages.mean``, see
:func:`metric_value`) from every run, summarizes it over seeds and compares every
policy with the baseline policy, paired by seed (seed ``s`` of both policies ran
the same arrivals, so the per-seed differences are what is tested).  Every
comparison of the table, across all workloads, policies and metrics, is one
family for the Holm-Bonferroni correction, so the significance mark keeps its
meaning however many metrics are shown.

:func:`render` prints the table in one of :data:`FORMATS`: aligned text
(``plain``), GitHub markdown, LaTeX and HTML through tabulate, with the legend
and warnings under the table (the caption for LaTeX and HTML); ``csv`` (one row
per workload, policy and metric, raw numbers, no footer) and ``json`` (the same
plus the per-seed values and the warnings).  Undefined numbers (``nan``) are
empty in CSV and ``null`` in JSON; so are infinities in JSON, which has none.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from tabulate import tabulate

from slabpolicy.errors import SlabpolicyError
from slabpolicy.kernel.locks import LockClass
from slabpolicy.analysis.stats import MAX_REL_SD, MIN_N_TEST, Paired, Summary, holm, paired, summarize, warnings_for

SCHEMA = "slabpolicy.comparison/1"

FORMATS = ("plain", "github", "latex", "html", "csv", "json")

DEFAULT_METRICS: tuple[str, ...] = (
    "memory.slab_pages.mean",
    "memory.slab_pages.peak",
    "memory.dead_cache_pages.mean",
    "memory.dying_memcgs.final",
    "latency_ns.alloc.p99",
    "latency_ns.free.p99",
    "latency_ns.offline.p99",
    "locks.list_lock.contentions",
    "accounting.violations",
)

#: The statistics of a lock class (as /proc/lock_stat); a class no lock of a run
#: belonged to is absent from the run's ``locks`` and reads as 0.
LOCK_FIELDS: tuple[str, ...] = tuple(LockClass("").as_dict())


class MetricError(SlabpolicyError, KeyError):
    """A metric path that does not name a number in a result document.

    A :class:`KeyError` (as asked of :func:`metric_value`) and a
    :class:`SlabpolicyError`, so the CLI prints ``str(error)``: one line, without
    the quotes ``KeyError`` would add.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ComparisonError(SlabpolicyError, ValueError):
    """Results that cannot be compared as asked (none at all, an unknown baseline)."""


def metric_value(result: dict, metric: str) -> float:
    """The number at the dotted path ``metric`` of one result document, as a float.

    ``memory.slab_pages.mean`` is ``result["memory"]["slab_pages"]["mean"]``.  A
    lock class that no lock of the run belonged to is absent from ``locks``, and
    ``locks.CLASS.FIELD`` then reads 0 (no acquisitions, no contentions, no
    waiting), provided FIELD is one of :data:`LOCK_FIELDS`.  A ``null`` (such as
    ``accounting.first_violation_ns`` when there was no violation) reads ``nan``.

    Anything else that does not lead to a number raises :class:`MetricError` (a
    ``KeyError``) whose message names the bad part, the keys valid at that level
    and the valid top-level keys.
    """
    parts = metric.split(".")
    top = ", ".join(k for k in result if isinstance(result.get(k), dict))

    def fail(why: str) -> MetricError:
        return MetricError(f"unknown metric {metric!r}: {why}; valid top-level keys: {top}")

    if not metric or any(not p for p in parts):
        raise fail("use a dotted path such as memory.slab_pages.mean")
    node: Any = result
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the result"
        if not isinstance(node, dict):
            raise fail(f"{where} is a value, not a mapping, so it has no {part!r}")
        if part not in node:
            if (depth == 1 and parts[0] == "locks" and len(parts) == 3
                    and parts[2] in LOCK_FIELDS):
                return 0.0
            valid = ", ".join(map(str, node)) or "none"
            raise fail(f"{where} has no {part!r} (valid: {valid})")
        node = node[part]
    if node is None:
        return float("nan")
    if isinstance(node, dict):
        raise fail(f"it is a mapping, not a number; add one of: {', '.join(map(str, node))}")
    if isinstance(node, (int, float)):
        return float(node)
    raise fail(f"its value is a {type(node).__name__}, not a number")


@dataclass
class Row:
    """One (workload, policy, metric) of the table.

    ``seeds`` (ascending) and ``values`` are the runs behind ``summary``.  For a
    policy other than the baseline, ``vs_baseline`` compares it with the baseline
    on ``paired_seeds`` (the seeds both have); it is ``None`` for the baseline
    itself and when no seed is shared.  ``tested`` says whether the comparison is
    one of the Holm family (it is not when the metric is ``constant``: the same
    in every run of the workload, or when the test is undefined); ``p_holm`` is its adjusted
    paired-t p-value and ``significant`` whether that is below alpha.
    """

    workload: str
    policy: str
    metric: str
    seeds: list[int]
    values: list[float]
    summary: Summary
    is_baseline: bool
    vs_baseline: Paired | None = None
    paired_seeds: list[int] = field(default_factory=list)
    tested: bool = False
    constant: bool = False
    p_holm: float = float("nan")
    significant: bool = False


@dataclass
class ComparisonTable:
    """The rows of a comparison, in order (workload, then metric, then policy), and
    what the footer says about them.

    ``n_comparisons`` is the size of the Holm family: every row whose
    ``tested`` is true.  ``warnings`` are the footer's warnings; :meth:`footer`
    adds the legend.
    """

    rows: list[Row]
    baseline: str
    alpha: float
    confidence: float
    metrics: tuple[str, ...]
    workloads: list[str]
    policies: list[str]
    n_comparisons: int
    warnings: list[str] = field(default_factory=list)

    def row(self, workload: str, policy: str, metric: str) -> Row:
        """The row of (workload, policy, metric); ``KeyError`` if there is none."""
        for r in self.rows:
            if (r.workload, r.policy, r.metric) == (workload, policy, metric):
                return r
        raise KeyError((workload, policy, metric))

    def legend(self) -> list[str]:
        """The lines that say how to read the table (alpha, correction, CI, columns)."""
        pct = f"{100 * self.confidence:g}%"
        lines = [
            f"* : Holm-adjusted paired t-test p < {self.alpha:g} over "
            f"{self.n_comparisons} comparisons",
            f"baseline: {self.baseline}; mean ± half-width of the {pct} Student-t CI over seeds; "
            f"Δ: (mean - baseline mean) / |baseline mean| with the {pct} CI of the paired "
            f"(by seed) differences, the baseline mean held fixed",
            "p(t): paired t-test; p(W): Wilcoxon signed-rank; p(Holm): p(t) adjusted over "
            "the whole table; d_z: mean / sd of the paired differences",
        ]
        if any(r.vs_baseline is not None and _zero_base(r.vs_baseline) for r in self.rows):
            lines.append("(abs): the baseline mean is 0, so the absolute difference is shown")
        return lines

    def footer(self) -> list[str]:
        """The legend, then the warnings, each prefixed ``warning: ``."""
        return self.legend() + [f"warning: {w}" for w in self.warnings]


def _zero_base(p: Paired) -> bool:
    return p.baseline_mean == 0.0


def _group(results: list[dict]) -> tuple[dict[str, dict[str, dict[int, dict]]], list[str],
                                         list[str], list[str]]:
    """results by workload name, policy label and seed; the policies in order of first
    appearance; warnings about duplicates and workloads that are not one file."""
    groups: dict[str, dict[str, dict[int, dict]]] = {}
    policies: list[str] = []
    warns: list[str] = []
    digests: dict[str, list[str]] = {}
    duplicates: dict[tuple[str, str], list[int]] = {}
    for i, result in enumerate(results):
        try:
            workload = str(result["workload"]["name"])
            label = str(result["policy"]["label"])
            seed = result["seed"]
        except (KeyError, TypeError) as exc:
            raise ComparisonError(f"result #{i + 1} is not a slabpolicy result document "
                                  f"(no {exc})") from None
        by_seed = groups.setdefault(workload, {}).setdefault(label, {})
        if label not in policies:
            policies.append(label)
        digest = result["workload"].get("sha256")
        if digest and digest not in digests.setdefault(workload, []):
            digests[workload].append(digest)
        if seed in by_seed:
            duplicates.setdefault((workload, label), []).append(seed)
            continue
        by_seed[seed] = result
    for (workload, label), seeds in duplicates.items():
        warns.append(f"{workload} / {label}: more than one result for seed(s) "
                     f"{_seed_list(sorted(set(seeds)))}; the first of each was used")
    for workload, found in digests.items():
        if len(found) > 1:
            warns.append(f"{workload}: results come from {len(found)} different workload files "
                         f"(sha256 {', '.join(d[:12] for d in found)}); they are compared as one")
    return groups, policies, list(groups), warns


def _seed_list(seeds: Sequence[int]) -> str:
    return ", ".join(str(s) for s in seeds)


def comparison_table(results: list[dict], *, baseline: str | None = None,
                     metrics: Sequence[str] | None = None, alpha: float = 0.05) -> ComparisonTable:
    """Compare the policies of ``results`` with the baseline, metric by metric.

    Results are grouped by (workload name, policy label); policies are ordered
    as they first appear in ``results``, and the baseline is ``baseline`` (a
    label) or else the first policy.  For each (workload, policy, metric) the
    values over seeds are summarized (:func:`slabpolicy.analysis.stats.summarize`, CIs at
    ``1 - alpha``), and a policy other than the baseline is compared with it
    (:func:`slabpolicy.analysis.stats.paired`) on the seeds both have, paired by seed.

    Every comparison in the table (all workloads, policies and metrics) is one
    Holm family; a row is marked significant when its Holm-adjusted paired-t p
    is below ``alpha``.  A metric with the same value in every run of a workload
    is not tested (there is nothing to test), nor is a comparison on fewer than
    MIN_N_TEST (3) shared seeds (a t-test on 2 pairs with equal differences
    gives p = 0: no evidence, a false mark); neither counts in the family.

    The footer warns about: too few seeds (for any test, or for Wilcoxon to
    reach p < 0.05), a standard deviation over 10 % of the mean, seeds one side
    of a comparison lacks, constant metrics, duplicate results and a workload
    name shared by different workload files.

    Raises :class:`MetricError` (a ``KeyError``) for a metric the results do not
    have and :class:`ComparisonError` (a ``ValueError``) for no results, an
    unknown baseline or an alpha outside (0, 1).
    """
    if not 0.0 < alpha < 1.0:
        raise ComparisonError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not results:
        raise ComparisonError("no results to compare")
    metrics = tuple(DEFAULT_METRICS if metrics is None else metrics)
    if not metrics:
        raise ComparisonError("no metrics to compare")
    confidence = 1.0 - alpha
    groups, policies, workloads, warns = _group(results)
    if baseline is None:
        baseline = policies[0]
    elif baseline not in policies:
        raise ComparisonError(f"baseline {baseline!r}: no result has that policy label; "
                              f"the labels are: {', '.join(policies)}")

    rows: list[Row] = []
    constant: dict[str, list[str]] = {}
    seed_notes: list[str] = []
    n_by_group: dict[tuple[str, str], int] = {}
    for workload in workloads:
        by_policy = groups[workload]
        labels = [p for p in policies if p in by_policy]
        base_runs = by_policy.get(baseline)
        if base_runs is None:
            warns.append(f"{workload}: no results for the baseline {baseline}, "
                         f"so nothing is compared")
        for label in labels:
            n_by_group[(workload, label)] = len(by_policy[label])
            if base_runs is not None and label != baseline:
                mine, theirs = set(by_policy[label]), set(base_runs)
                if mine != theirs:
                    parts = []
                    if theirs - mine:
                        parts.append(f"lacks seed(s) {_seed_list(sorted(theirs - mine))} "
                                     f"of the baseline")
                    if mine - theirs:
                        parts.append(f"has seed(s) {_seed_list(sorted(mine - theirs))} "
                                     f"the baseline lacks")
                    seed_notes.append(f"{workload} / {label}: {' and '.join(parts)}; compared "
                                      f"on the {len(mine & theirs)} seed(s) both have")
        for metric in metrics:
            values = {label: {seed: metric_value(doc, metric)
                              for seed, doc in sorted(by_policy[label].items())}
                      for label in labels}
            every = [v for per_seed in values.values() for v in per_seed.values()]
            is_constant = len(every) > 1 and all(v == every[0] for v in every)
            if is_constant and len(labels) > 1:
                constant.setdefault(workload, []).append(f"{metric} ({_num(every[0])})")
            for label in labels:
                seeds = list(values[label])
                vals = [values[label][s] for s in seeds]
                row = Row(workload, label, metric, seeds, vals, summarize(vals, confidence),
                          is_baseline=(label == baseline), constant=is_constant)
                if base_runs is not None and label != baseline:
                    common = [s for s in seeds if s in values[baseline]]
                    if common:
                        row.paired_seeds = common
                        row.vs_baseline = paired([values[baseline][s] for s in common],
                                                 [values[label][s] for s in common], confidence)
                        row.tested = (not is_constant and len(common) >= MIN_N_TEST
                                      and not math.isnan(row.vs_baseline.t_p))
                rows.append(row)

    adjusted = holm([r.vs_baseline.t_p if r.tested else float("nan") for r in rows])
    n_comparisons = sum(r.tested for r in rows)
    for r, p in zip(rows, adjusted):
        r.p_holm = p
        r.significant = r.tested and p < alpha

    warns += seed_notes
    warns += _n_warnings(n_by_group)
    warns += _spread_warnings(rows)
    for workload, names in constant.items():
        warns.append(f"{workload}: the same in every run, so not tested: {', '.join(names)}")
    return ComparisonTable(rows=rows, baseline=baseline, alpha=alpha, confidence=confidence,
                           metrics=metrics, workloads=workloads, policies=policies,
                           n_comparisons=n_comparisons, warnings=warns)


def _spread_warnings(rows: list[Row]) -> list[str]:
    """One line per (workload, metric) naming the policies whose sd is over
    :data:`~slabpolicy.analysis.stats.MAX_REL_SD` of their mean (the condition of
    :func:`~slabpolicy.analysis.stats.warnings_for`), so identical policies do not repeat it."""
    spread: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if not any("standard deviation" in w for w in warnings_for(r.summary, "")):
            continue
        s = r.summary
        what = "mean 0" if s.mean == 0 else f"{100 * s.sd / abs(s.mean):.1f}%"
        spread.setdefault((r.workload, r.metric), []).append(f"{r.policy} {what}")
    return [f"{workload} / {metric}: the standard deviation is more than "
            f"{100 * MAX_REL_SD:g}% of the mean: {', '.join(items)}"
            for (workload, metric), items in spread.items()]


def _n_warnings(n_by_group: dict[tuple[str, str], int]) -> list[str]:
    """The too-few-seeds warnings (:func:`~slabpolicy.analysis.stats.warnings_for`): one line
    per distinct n that is too small, naming the (workload, policy) groups that
    have it, or "every workload and policy" when they all do."""
    blank = float("nan")
    sizes = set(n_by_group.values())
    if len(sizes) == 1:
        (n,) = sizes
        return warnings_for(Summary(n, blank, blank, blank, blank, blank),
                            "every workload and policy")
    by_n: dict[int, list[str]] = {}
    for (workload, label), n in n_by_group.items():
        by_n.setdefault(n, []).append(f"{workload} / {label}")
    out = []
    for n in sorted(by_n):
        out += warnings_for(Summary(n, blank, blank, blank, blank, blank), ", ".join(by_n[n]))
    return out


# ---------------------------------------------------------------- number formatting

def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _num(x: float | None, sig: int = 4, signed: bool = False) -> str:
    """``x`` with about ``sig`` significant digits, no exponent for ordinary
    magnitudes, integers as integers; ``-`` for nan."""
    if x is None or math.isnan(x):
        return "-"
    sign = "+" if signed else ""
    if math.isinf(x):
        return f"{x:{sign}}"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 10 ** sig or (float(x).is_integer() and ax < 1e15):
        return f"{x:{sign}.0f}"
    if ax >= 1e-4:
        decimals = max(0, sig - 1 - math.floor(math.log10(ax)))
        text = f"{x:{sign}.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return f"{x:{sign}.{sig - 1}e}"


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "-"
    if p == 0:
        return "0"
    return f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}"


def _mean_cell(s: Summary) -> str:
    if not _finite(s.ci_high) or not _finite(s.mean):
        return _num(s.mean)
    return f"{_num(s.mean)} ± {_num(s.ci_high - s.mean, 3)}"


def _delta_cell(r: Row) -> str:
    if r.is_baseline:
        return "(baseline)"
    p = r.vs_baseline
    if p is None:
        return "-"
    if _zero_base(p):
        return f"{_num(p.mean - p.baseline_mean, 4, signed=True)} (abs)"
    if math.isnan(p.rel_diff):
        return "-"
    text = f"{_num(100 * p.rel_diff, 3, signed=True)}%"
    if _finite(p.rel_ci_low) and _finite(p.rel_ci_high):
        text += (f" [{_num(100 * p.rel_ci_low, 3, signed=True)}, "
                 f"{_num(100 * p.rel_ci_high, 3, signed=True)}]")
    return text


HEADERS = ("workload", "policy", "metric", "n", "mean ± CI", "sd", "median",
           "Δ vs baseline % [CI]", "p(t)", "p(W)", "p(Holm)", "d_z", "")
_ALIGN = ("left", "left", "left", "right", "right", "right", "right", "right", "right",
          "right", "right", "right", "left")


def _cells(table: ComparisonTable) -> list[list[str]]:
    out = []
    previous: tuple[str, str] | None = None
    for r in table.rows:
        p = r.vs_baseline
        key = (r.workload, r.metric)
        same_block = key == previous
        previous = key
        out.append([
            "" if same_block else r.workload,
            r.policy,
            "" if same_block else r.metric,
            str(r.summary.n),
            _mean_cell(r.summary),
            _num(r.summary.sd, 3),
            _num(r.summary.median),
            _delta_cell(r),
            _p(p.t_p) if p and not r.constant else "",
            _p(p.wilcoxon_p) if p and not r.constant else "",
            _p(r.p_holm) if r.tested else "",
            _num(p.effect_size, 3) if p and not r.constant else "",
            "*" if r.significant else "",
        ])
    return out


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _latex(text: str) -> str:
    escaped = "".join(_LATEX_ESCAPES.get(c, c) for c in text)
    return escaped.replace("±", r"$\pm$").replace("Δ", r"$\Delta$")


def _jnum(x: Any) -> Any:
    """A number for JSON: non-finite floats become null (JSON has no nan or inf)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _paired_dict(r: Row, baseline: str) -> dict[str, Any] | None:
    p = r.vs_baseline
    if p is None:
        return None
    return {"baseline": baseline, "n": p.n, "seeds": list(r.paired_seeds),
            "baseline_mean": _jnum(p.baseline_mean), "mean": _jnum(p.mean),
            "rel_diff": _jnum(p.rel_diff), "rel_ci_low": _jnum(p.rel_ci_low),
            "rel_ci_high": _jnum(p.rel_ci_high), "t_p": _jnum(p.t_p),
            "wilcoxon_p": _jnum(p.wilcoxon_p), "effect_size": _jnum(p.effect_size),
            "tested": r.tested, "p_holm": _jnum(r.p_holm), "significant": r.significant}


def to_json_doc(table: ComparisonTable) -> dict[str, Any]:
    """The ``json`` format as a Python object (``slabpolicy.comparison/1``)."""
    rows = []
    for r in table.rows:
        s = r.summary
        vs = _paired_dict(r, table.baseline)
        rows.append({"workload": r.workload, "policy": r.policy, "metric": r.metric,
                     "n": s.n, "mean": _jnum(s.mean), "sd": _jnum(s.sd),
                     "ci_low": _jnum(s.ci_low), "ci_high": _jnum(s.ci_high),
                     "median": _jnum(s.median), "seeds": list(r.seeds),
                     "values": [_jnum(v) for v in r.values], "vs_baseline": vs})
    return {"schema": SCHEMA, "alpha": table.alpha, "confidence": table.confidence,
            "correction": "holm", "comparisons": table.n_comparisons,
            "baseline": table.baseline, "workloads": list(table.workloads),
            "policies": list(table.policies), "metrics": list(table.metrics),
            "rows": rows, "warnings": list(table.warnings)}


CSV_FIELDS = ("workload", "policy", "metric", "n", "mean", "sd", "ci_low", "ci_high", "median",
              "seeds", "baseline", "n_pairs", "baseline_mean", "rel_diff", "rel_ci_low",
              "rel_ci_high", "t_p", "wilcoxon_p", "effect_size", "tested", "p_holm",
              "significant")


def _csv_num(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return ""
    return repr(x) if isinstance(x, float) else x


def _render_csv(table: ComparisonTable) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in table.rows:
        s, p = r.summary, r.vs_baseline
        row: dict[str, Any] = {"workload": r.workload, "policy": r.policy, "metric": r.metric,
                               "n": s.n, "mean": s.mean, "sd": s.sd, "ci_low": s.ci_low,
                               "ci_high": s.ci_high, "median": s.median,
                               "seeds": " ".join(map(str, r.seeds)),
                               "baseline": table.baseline}
        if p is not None:
            row.update(n_pairs=p.n, baseline_mean=p.baseline_mean, rel_diff=p.rel_diff,
                       rel_ci_low=p.rel_ci_low, rel_ci_high=p.rel_ci_high, t_p=p.t_p,
                       wilcoxon_p=p.wilcoxon_p, effect_size=p.effect_size,
                       tested=int(r.tested), p_holm=r.p_holm, significant=int(r.significant))
        writer.writerow({k: _csv_num(v) for k, v in row.items()})
    return buf.getvalue()


def render(table: ComparisonTable, fmt: str) -> str:
    """``table`` as text in ``fmt``, one of :data:`FORMATS`.

    ``plain`` and ``github``: the tabulate table, a blank line and the footer
    (legend and warnings).  ``latex``: a ``table`` environment holding the
    tabular and the footer as its caption (every cell escaped; ``±`` and ``Δ``
    in math mode).  ``html``: the tabulate table with the footer as its
    ``<caption>`` (lines separated by ``<br>``).  ``csv``: :data:`CSV_FIELDS`,
    one row per (workload, policy, metric), floats written exactly (``repr``),
    seeds space-separated, empty for nan and for the comparison columns of the
    baseline; the footer is not in it.  ``json``: :func:`to_json_doc`, indented.
    """
    if fmt not in FORMATS:
        raise ComparisonError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return _render_csv(table)
    if fmt == "json":
        return json.dumps(to_json_doc(table), indent=2, allow_nan=False) + "\n"
    cells = _cells(table)
    footer = table.footer()
    if fmt in ("plain", "github"):
        body = tabulate(cells, headers=HEADERS, tablefmt=fmt, disable_numparse=True,
                        colalign=_ALIGN)
        return body + "\n\n" + "\n".join(footer) + "\n"
    if fmt == "html":
        body = tabulate(cells, headers=HEADERS, tablefmt="html", disable_numparse=True,
                        colalign=_ALIGN)
        caption = "<br>\n".join(html.escape(line) for line in footer)
        body = body.replace("<table>", f"<table>\n<caption style=\"caption-side: bottom; "
                                       f"text-align: left\">\n{caption}\n</caption>", 1)
        return body + "\n"
    # latex
    body = tabulate([[_latex(c) for c in row] for row in cells],
                    headers=[_latex(h) for h in HEADERS], tablefmt="latex_raw",
                    disable_numparse=True, colalign=_ALIGN)
    caption = " ".join(_latex(line if line.endswith(".") else line + ".") for line in footer)
    return ("\\begin{table}\n\\centering\n" + body + "\n\\caption{" + caption + "}\n"
            "\\end{table}\n")
