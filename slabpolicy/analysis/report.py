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
(``plain``, narrow enough for an 80-column terminal unless ``wide``), GitHub
markdown, LaTeX and HTML, with the legend, notes and warnings under the table
(the caption for LaTeX and HTML); ``csv`` and ``json`` carry every statistic,
the per-seed values, the notes and the warnings.  Undefined numbers (``nan``)
are empty in CSV and ``null`` in JSON; infinities are ``inf``/``-inf`` in both.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tabulate import tabulate

from slabpolicy.errors import SlabpolicyError
from slabpolicy.kernel.locks import LockClass
from slabpolicy.analysis.formats import FORMATS
from slabpolicy.analysis.metrics import DEFAULT_METRICS, lookup, metric_paths, suggest
from slabpolicy.analysis.stats import (EXACT_ABS, EXACT_REL, MIN_N_TEST, Paired,
                                       Summary, holm, paired, seeds_needed, summarize,
                                       wilcoxon_min_n, wilcoxon_min_p)

SCHEMA = "slabpolicy.comparison/2"


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
        close = suggest(metric, metric_paths(result))
        hint = f" (did you mean {close!r}?)" if close else ""
        return MetricError(f"unknown metric {metric!r}{hint}: {why}; valid top-level keys: "
                           f"{top}; `slabpolicy metrics` lists every metric")

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
    one of the Holm family: it is when the paired t-test was run (enough pairs,
    a difference that is not the same in every seed); ``p_holm`` is its
    adjusted p-value and ``significant`` whether that is below alpha.  For a
    tested comparison that is not significant, ``seeds_needed`` is how many
    seeds would detect a true difference of the size seen (80 % power at the
    Holm threshold for the smallest p, alpha / m), ``None`` if beyond reach.
    ``crashed`` lists the runs of the policy that hit a crash-class violation
    (``(seed, result["crashed"])``, by seed): a kernel would have oopsed, so the
    row shows where instead of numbers, and is compared with nothing.
    """

    workload: str
    policy: str
    metric: str
    unit: str
    seeds: list[int]
    values: list[float]
    summary: Summary
    is_baseline: bool
    vs_baseline: Paired | None = None
    paired_seeds: list[int] = field(default_factory=list)
    tested: bool = False
    p_holm: float = float("nan")
    significant: bool = False
    seeds_needed: int | None = None
    crashed: list[tuple[int, dict]] = field(default_factory=list)

    @property
    def exact(self) -> str:
        """``"abs"``/``"rel"`` when the difference is the same in every seed, else ``""``."""
        return self.vs_baseline.exact if self.vs_baseline is not None else ""


@dataclass
class ComparisonTable:
    """The rows of a comparison, in order (workload, then metric, then policy), and
    what the footer says about them.

    ``n_comparisons`` is the size of the Holm family: every row whose
    ``tested`` is true.  ``warnings`` are what threatens the comparison (too few
    seeds for the difference seen, unpaired seeds, duplicates); ``notes`` say
    which tests were left out and why.  :meth:`footer` adds the legend.
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
    notes: list[str] = field(default_factory=list)

    def row(self, workload: str, policy: str, metric: str) -> Row:
        """The row of (workload, policy, metric); ``KeyError`` if there is none."""
        for r in self.rows:
            if (r.workload, r.policy, r.metric) == (workload, policy, metric):
                return r
        raise KeyError((workload, policy, metric))

    @property
    def wilcoxon_shown(self) -> bool:
        """Whether any row has a Wilcoxon p-value (enough pairs for it to mean something)."""
        return any(r.vs_baseline is not None and not math.isnan(r.vs_baseline.wilcoxon_p)
                   for r in self.rows)

    def legend(self, wide: bool = False) -> list[str]:
        """The lines that say how to read the table (alpha, correction, CI, columns)."""
        pct = f"{100 * self.confidence:g}%"
        lines = [
            f"* : p < {self.alpha:g} in a paired (by seed) t-test, Holm-adjusted over the "
            f"{self.n_comparisons} comparisons of the table",
            f"mean ± half-width of the {pct} Student-t CI over seeds, or [low, high] where "
            f"the interval was cut at the metric's bounds",
            f"Δ: the mean's difference from {self.baseline}'s as a % of it, with its {pct} CI "
            f"(Fieller's, for the ratio of the paired means; cut at -100% for a count), "
            f"or in the metric's unit where the baseline mean is 0; \"in every seed\": the "
            f"same difference (or ratio) in every seed: exact, so not tested",
        ]
        if wide:
            lines.append("p(t): paired t-test; p(W): Wilcoxon signed-rank, unadjusted; d_z: "
                         "mean / sd of the paired differences")
        return lines

    def footer(self, wide: bool = False) -> list[str]:
        """The legend, the notes, then the warnings, each prefixed ``warning: ``."""
        notes = [n for n in self.notes if wide or "Wilcoxon" not in n]
        return (self.legend(wide) + [f"note: {n}" for n in notes]
                + [f"warning: {w}" for w in self.warnings])


def _group(results: list[dict]) -> tuple[dict[str, dict[str, dict[int, dict]]], list[str],
                                         list[str], list[str]]:
    """results by workload name, policy label and seed; the policies in order of first
    appearance; warnings about duplicates and workloads that are not one file."""
    groups: dict[str, dict[str, dict[int, dict]]] = {}
    policies: list[str] = []
    warns: list[str] = []
    digests: dict[str, list[str]] = {}
    eras: dict[str, list[str]] = {}
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
        era = (result.get("machine") or {}).get("slub")
        if era and era not in eras.setdefault(workload, []):
            eras[workload].append(era)
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
    for workload, found in eras.items():
        if len(found) > 1:
            warns.append(f"{workload}: results come from SLUB eras {', '.join(sorted(found))} "
                         f"(machine.slub); they are compared as one")
    return groups, policies, list(groups), warns


def _crashes(by_seed: dict[int, dict]) -> list[tuple[int, dict]]:
    """The runs that crashed (a crash-class violation), as (seed, crashed), by seed."""
    return [(seed, doc["crashed"]) for seed, doc in sorted(by_seed.items())
            if doc.get("crashed")]


def crash_cell(r: Row) -> str:
    """"crashed at t" for a row whose runs crashed: the earliest crash, and how many
    of the policy's runs crashed."""
    seed, first = min(r.crashed, key=lambda c: (c[1]["t_ns"], c[0]))
    return (f"crashed at {_num(first['t_ns'] / 1e9, 3)} s (seed {seed}; "
            f"{len(r.crashed)} run{'s' if len(r.crashed) > 1 else ''} crashed)")


def _seed_list(seeds: Sequence[int]) -> str:
    return ", ".join(str(s) for s in seeds)


def _bounds(metric: str) -> tuple[str, float | None, float | None]:
    """Unit and bounds of a metric from the catalogue; a metric it lacks is unbounded."""
    info = lookup(metric)
    if info is None:
        return "", None, None
    return info.unit, info.lower, info.upper


def comparison_table(results: list[dict], *, baseline: str | None = None,
                     metrics: Sequence[str] | None = None, alpha: float = 0.05) -> ComparisonTable:
    """Compare the policies of ``results`` with the baseline, metric by metric.

    Results are grouped by (workload name, policy label); policies are ordered
    as they first appear in ``results``, and the baseline is ``baseline`` (a
    label) or else the first policy.  For each (workload, policy, metric) the
    values over seeds are summarized (:func:`slabpolicy.analysis.stats.summarize`, CIs at
    ``1 - alpha``, cut at the metric's bounds from the catalogue), and a policy
    other than the baseline is compared with it
    (:func:`slabpolicy.analysis.stats.paired`) on the seeds both have, paired by seed.

    Every paired t-test in the table (all workloads, policies and metrics) is
    one Holm family; a row is marked significant when its Holm-adjusted p is
    below ``alpha``.  A difference that is the same in every seed is exact and
    not tested; nor is a comparison on fewer than MIN_N_TEST (3) shared seeds.

    The warnings are about what threatens the paired comparison: a difference
    tested and not found although it may be real (how many seeds its size would
    need), seeds one side of a comparison lacks, duplicate results and a
    workload name shared by different workload files.  The notes say which
    tests could not be run at these n, and what n they need.

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
    for workload in workloads:
        by_policy = groups[workload]
        labels = [p for p in policies if p in by_policy]
        crashes = {label: _crashes(by_policy[label]) for label in labels}
        base_runs = by_policy.get(baseline)
        if base_runs is None:
            warns.append(f"{workload}: no results for the baseline {baseline}, "
                         f"so nothing is compared")
        elif crashes[baseline]:
            warns.append(f"{workload}: the baseline {baseline} crashed, so nothing is compared")
            base_runs = None
        else:
            warns += _seed_notes(workload, baseline, by_policy, labels)
        for metric in metrics:
            unit, lower, upper = _bounds(metric)
            values = {label: {seed: metric_value(doc, metric)
                              for seed, doc in sorted(by_policy[label].items())}
                      for label in labels if not crashes[label]}
            for label in labels:
                if crashes[label]:
                    rows.append(Row(workload, label, metric, unit, [], [], summarize([]),
                                    is_baseline=(label == baseline), crashed=crashes[label]))
                    continue
                seeds = list(values[label])
                vals = [values[label][s] for s in seeds]
                row = Row(workload, label, metric, unit, seeds, vals,
                          summarize(vals, confidence, lower=lower, upper=upper),
                          is_baseline=(label == baseline))
                if base_runs is not None and label != baseline:
                    common = [s for s in seeds if s in values[baseline]]
                    if common:
                        row.paired_seeds = common
                        row.vs_baseline = paired([values[baseline][s] for s in common],
                                                 [values[label][s] for s in common],
                                                 confidence, lower=lower, alpha=alpha)
                        row.tested = not math.isnan(row.vs_baseline.t_p)
                rows.append(row)

    adjusted = holm([r.vs_baseline.t_p if r.tested else float("nan") for r in rows])
    n_comparisons = sum(r.tested for r in rows)
    for r, p in zip(rows, adjusted):
        r.p_holm = p
        r.significant = r.tested and p < alpha
        if r.tested and not r.significant:
            r.seeds_needed = seeds_needed(r.vs_baseline.effect_size, alpha / n_comparisons)
    warns += _power_warnings(rows, alpha, n_comparisons)
    return ComparisonTable(rows=rows, baseline=baseline, alpha=alpha, confidence=confidence,
                           metrics=metrics, workloads=workloads, policies=policies,
                           n_comparisons=n_comparisons, warnings=warns,
                           notes=_test_notes(rows, alpha))


def _seed_notes(workload: str, baseline: str, by_policy: dict[str, dict[int, dict]],
                labels: list[str]) -> list[str]:
    """A warning per policy whose seeds are not the baseline's: pairs are lost."""
    out = []
    theirs = set(by_policy[baseline])
    for label in labels:
        mine = set(by_policy[label])
        if label == baseline or mine == theirs:
            continue
        parts = []
        if theirs - mine:
            parts.append(f"lacks seed(s) {_seed_list(sorted(theirs - mine))} of the baseline")
        if mine - theirs:
            parts.append(f"has seed(s) {_seed_list(sorted(mine - theirs))} the baseline lacks")
        out.append(f"{workload} / {label}: {' and '.join(parts)}; compared on the "
                   f"{len(mine & theirs)} seed(s) both have")
    return out


def _power_warnings(rows: list[Row], alpha: float, m: int) -> list[str]:
    """One line per (workload, metric) listing the policies whose difference was
    tested and not found although more seeds could find it: with the spread of
    its paired differences, how many seeds a real difference of that size would
    need.  A difference that would need more than
    :data:`~slabpolicy.analysis.stats.MAX_SEEDS_NEEDED` seeds is noise, not a
    threat to the comparison, and is not warned about."""
    found: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if not r.tested or r.significant or r.seeds_needed is None:
            continue
        found.setdefault((r.workload, r.metric), []).append(
            f"{r.policy} (d_z {_num(r.vs_baseline.effect_size, 2)}: "
            f"about {r.seeds_needed} seeds)")
    return [f"{workload} / {metric}: not separated from the baseline with {rows_n} seeds; "
            f"a true difference of the size seen would need, for 80% power at "
            f"p < {alpha:g}/{m}: {', '.join(items)}"
            for (workload, metric), items in found.items()
            for rows_n in [_n_of(rows, workload, metric)]]


def _n_of(rows: list[Row], workload: str, metric: str) -> str:
    sizes = sorted({r.vs_baseline.n for r in rows if r.vs_baseline is not None
                    and (r.workload, r.metric) == (workload, metric)})
    return "/".join(map(str, sizes))


def _test_notes(rows: list[Row], alpha: float) -> list[str]:
    """What could not be tested at the n of the table, and the n it needs."""
    sizes = sorted({r.vs_baseline.n for r in rows if r.vs_baseline is not None})
    if not sizes:
        return []
    out = []
    small = [n for n in sizes if n < MIN_N_TEST]
    if small:
        out.append(f"no p-values where {_ns(small)}: the paired t-test needs at least "
                   f"{MIN_N_TEST} seeds (--seeds {MIN_N_TEST})")
    need_w = wilcoxon_min_n(alpha)
    low_w = [n for n in sizes if n < need_w]
    if low_w:
        out.append(f"p(W) not shown where {_ns(low_w)}: with n pairs the Wilcoxon "
                   f"signed-rank test cannot go below p = 2/2^n "
                   f"({_p(wilcoxon_min_p(max(low_w)))} for n={max(low_w)}); it needs at "
                   f"least {need_w} seeds to reach p < {alpha:g}")
    return out


def _ns(sizes: list[int]) -> str:
    return "n=" + "/".join(map(str, sizes))


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


def _unit(value: str, unit: str) -> str:
    """``value`` followed by the unit, unless the unit is a pure ratio (1) or unknown."""
    return f"{value} {unit}" if unit and unit != "1" else value


def _mean_cell(s: Summary) -> str:
    if not _finite(s.ci_high) or not _finite(s.mean):
        return _num(s.mean)
    if s.clipped:
        return f"{_num(s.mean)} [{_num(s.ci_low, 3)}, {_num(s.ci_high, 3)}]"
    return f"{_num(s.mean)} ± {_num(s.ci_high - s.mean, 3)}"


def _interval(low: float, high: float, scale: float = 1.0) -> str:
    if not (_finite(low) and _finite(high)):
        return ""
    return f" [{_num(scale * low, 3, signed=True)}, {_num(scale * high, 3, signed=True)}]"


def delta_cell(r: Row) -> str:
    """The Δ column: the difference from the baseline, relative where the baseline
    mean is not 0, exact ("in every seed") where every seed agrees."""
    if r.is_baseline:
        return "(baseline)"
    p = r.vs_baseline
    if p is None or math.isnan(p.diff):
        return "-"
    relative = not math.isnan(p.rel_diff)
    if p.exact == EXACT_ABS:
        if p.diff == 0:
            return "same in every seed"
        return f"{_unit(_num(p.diff, 4, signed=True), r.unit)} in every seed"
    if p.exact == EXACT_REL:
        return f"{_num(100 * p.rel_diff, 3, signed=True)}% in every seed"
    one = " (1 seed)" if p.n == 1 else ""
    if relative:
        return (f"{_num(100 * p.rel_diff, 3, signed=True)}%"
                + _interval(p.rel_ci_low, p.rel_ci_high, 100.0) + one)
    return _num(p.diff, 4, signed=True) + _interval(p.diff_ci_low, p.diff_ci_high) + one


# ---------------------------------------------------------------- the text table

@dataclass(frozen=True)
class Column:
    """A column of the rendered table: header, alignment, and the cell of a row."""

    header: str
    align: str
    cell: Callable[[Row], str]


def _tested(text: Callable[[Paired], str]) -> Callable[[Row], str]:
    """A cell shown only for a comparison that was tested."""
    return lambda r: text(r.vs_baseline) if r.tested else ""


COLUMNS = {
    "policy": Column("policy", "left", lambda r: r.policy),
    "n": Column("n", "right", lambda r: str(len(r.crashed) if r.crashed else r.summary.n)),
    "mean": Column("mean ± CI", "right",
                   lambda r: crash_cell(r) if r.crashed else _mean_cell(r.summary)),
    "sd": Column("sd", "right", lambda r: _num(r.summary.sd, 3)),
    "median": Column("median", "right", lambda r: _num(r.summary.median)),
    "delta": Column("Δ vs baseline [CI]", "right", delta_cell),
    "p_t": Column("p(t)", "right", _tested(lambda p: _p(p.t_p))),
    "p_w": Column("p(W)", "right", _tested(lambda p: _p(p.wilcoxon_p))),
    "p_holm": Column("p(Holm)", "right", lambda r: _p(r.p_holm) if r.tested else ""),
    "d_z": Column("d_z", "right", _tested(lambda p: _num(p.effect_size, 3))),
    "mark": Column("", "left", lambda r: "*" if r.significant else ""),
}
NARROW = ("policy", "n", "mean", "delta", "p_holm", "mark")
WIDE = ("policy", "n", "mean", "sd", "median", "delta", "p_t", "p_w", "p_holm", "d_z", "mark")


def columns(table: ComparisonTable, wide: bool = False) -> list[Column]:
    """The columns shown: :data:`NARROW` (what decides a comparison) or :data:`WIDE`
    (every statistic), without p(W) when no row has enough pairs for it and
    without the tests' columns when nothing was tested (the notes say why)."""
    names = WIDE if wide else NARROW
    hidden = set() if table.wilcoxon_shown else {"p_w"}
    if not table.n_comparisons:
        hidden |= {"p_t", "p_w", "p_holm", "d_z", "mark"}
    return [COLUMNS[c] for c in names if c not in hidden]


def blocks(table: ComparisonTable) -> list[tuple[str, str, list[Row]]]:
    """The rows by (workload, metric), in order: (workload, heading, rows)."""
    out: list[tuple[str, str, list[Row]]] = []
    for r in table.rows:
        if not out or (out[-1][2][0].workload, out[-1][2][0].metric) != (r.workload, r.metric):
            unit = f" [{r.unit}]" if r.unit else ""
            out.append((r.workload, f"{r.metric}{unit}", []))
        out[-1][2].append(r)
    return out


def _plain(table: ComparisonTable, cols: list[Column]) -> list[str]:
    """Aligned text: a workload line, a metric line, then the policies indented.

    The headings take no column width, so the table is as wide as its numbers."""
    indent = "    "
    cells = [[c.header for c in cols]] + [[c.cell(r) for c in cols] for r in table.rows]
    cells[0][0] = indent + cells[0][0]
    for row in cells[1:]:
        row[0] = indent + row[0]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]

    def line(row: list[str]) -> str:
        parts = [cell.ljust(w) if c.align == "left" else cell.rjust(w)
                 for cell, w, c in zip(row, widths, cols)]
        return "  ".join(parts).rstrip()

    out = [line(cells[0])]
    i = 1
    workload = None
    for name, heading, rows in blocks(table):
        if name != workload:
            out.append(name)
            workload = name
        out.append("  " + heading)
        for _ in rows:
            out.append(line(cells[i]))
            i += 1
    return out


def wrap_footer(lines: list[str], width: int | None = None) -> list[str]:
    """Footer lines wrapped to ``width`` (FOOTER_WIDTH), continuation lines indented
    (the plain-text tables of compare, report and sweep)."""
    width = FOOTER_WIDTH if width is None else width
    out = []
    for text in lines:
        out += textwrap.wrap(text, width=width, subsequent_indent="  ",
                             break_long_words=False, break_on_hyphens=False) or [""]
    return out


#: The width footer lines are wrapped to: an 80-column terminal.
FOOTER_WIDTH = 80


def _md(text: str) -> str:
    """``text`` with the characters GitHub markdown would take for markup escaped."""
    return "".join("\\" + c if c in "*_|<>[]`\\" else c for c in text)


def _github(table: ComparisonTable, cols: list[Column]) -> str:
    rows = []
    workload = None
    for name, heading, block in blocks(table):
        title = _md(heading) if name == workload else f"{_md(name)}: {_md(heading)}"
        workload = name
        rows.append([f"**{title}**"] + [""] * (len(cols) - 1))
        rows += [[_md(c.cell(r)) for c in cols] for r in block]
    return tabulate(rows, headers=[c.header for c in cols], tablefmt="github",
                    disable_numparse=True, colalign=[c.align for c in cols])


def html_table(table: ComparisonTable, wide: bool = False) -> str:
    """The table as an HTML ``<table>``: a heading row per workload and metric,
    the footer as the caption; every text escaped."""
    cols = columns(table, wide)
    esc = html.escape
    out = ['<table class="comparison">',
           '<caption style="caption-side: bottom; text-align: left">'
           + "<br>\n".join(esc(line) for line in table.footer(wide)) + "</caption>",
           "<thead><tr>" + "".join(f"<th>{esc(c.header)}</th>" for c in cols)
           + "</tr></thead>", "<tbody>"]
    workload = None
    for name, heading, rows in blocks(table):
        title = esc(heading) if name == workload else f"{esc(name)}: {esc(heading)}"
        workload = name
        out.append(f'<tr class="metric"><th colspan="{len(cols)}" style="text-align: left">'
                   f"{title}</th></tr>")
        for r in rows:
            cls = ' class="significant"' if r.significant else ""
            out.append(f"<tr{cls}>" + "".join(
                f'<td style="text-align: {c.align}">{esc(c.cell(r))}</td>' for c in cols)
                + "</tr>")
    out += ["</tbody>", "</table>"]
    return "\n".join(out) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _latex(text: str) -> str:
    escaped = "".join(_LATEX_ESCAPES.get(c, c) for c in text)
    return escaped.replace("±", r"$\pm$").replace("Δ", r"$\Delta$")


def _latex_table(table: ComparisonTable, cols: list[Column], wide: bool) -> str:
    spec = "".join(c.align[0] for c in cols)
    lines = ["\\begin{table}", "\\centering", f"\\begin{{tabular}}{{{spec}}}", "\\hline",
             " & ".join(_latex(c.header) for c in cols) + " \\\\", "\\hline"]
    workload = None
    for name, heading, rows in blocks(table):
        title = heading if name == workload else f"{name}: {heading}"
        workload = name
        lines.append(f"\\multicolumn{{{len(cols)}}}{{l}}{{\\textbf{{{_latex(title)}}}}} \\\\")
        lines += [" & ".join(_latex(c.cell(r)) for c in cols) + " \\\\" for r in rows]
    caption = " ".join(_latex(line if line.endswith(".") else line + ".")
                       for line in table.footer(wide))
    lines += ["\\hline", "\\end{tabular}", f"\\caption{{{caption}}}", "\\end{table}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- csv and json

def jnum(x: Any) -> Any:
    """A number for JSON: nan (undefined, missing) becomes null; an infinity, which
    JSON lacks, the string ``"inf"`` or ``"-inf"``, as CSV writes it."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _paired_dict(r: Row, baseline: str) -> dict[str, Any] | None:
    p = r.vs_baseline
    if p is None:
        return None
    return {"baseline": baseline, "n": p.n, "seeds": list(r.paired_seeds),
            "baseline_mean": jnum(p.baseline_mean), "mean": jnum(p.mean),
            "diff": jnum(p.diff), "diff_sd": jnum(p.diff_sd),
            "diff_ci_low": jnum(p.diff_ci_low), "diff_ci_high": jnum(p.diff_ci_high),
            "rel_diff": jnum(p.rel_diff), "rel_ci_low": jnum(p.rel_ci_low),
            "rel_ci_high": jnum(p.rel_ci_high), "rel_method": p.rel_method,
            "exact": p.exact, "t_p": jnum(p.t_p), "wilcoxon_p": jnum(p.wilcoxon_p),
            "effect_size": jnum(p.effect_size), "tested": r.tested,
            "p_holm": jnum(r.p_holm), "significant": r.significant,
            "seeds_needed": r.seeds_needed}


def to_json_doc(table: ComparisonTable) -> dict[str, Any]:
    """The ``json`` format as a Python object (``slabpolicy.comparison/2``)."""
    rows = []
    for r in table.rows:
        s = r.summary
        rows.append({"workload": r.workload, "policy": r.policy, "metric": r.metric,
                     "unit": r.unit, "n": s.n, "mean": jnum(s.mean), "sd": jnum(s.sd),
                     "ci_low": jnum(s.ci_low), "ci_high": jnum(s.ci_high),
                     "ci_clipped": s.clipped, "median": jnum(s.median),
                     "seeds": list(r.seeds), "values": [jnum(v) for v in r.values],
                     "vs_baseline": _paired_dict(r, table.baseline),
                     "crashed": [{"seed": seed, **c} for seed, c in r.crashed] or None})
    return {"schema": SCHEMA, "alpha": table.alpha, "confidence": table.confidence,
            "correction": "holm", "comparisons": table.n_comparisons,
            "baseline": table.baseline, "workloads": list(table.workloads),
            "policies": list(table.policies), "metrics": list(table.metrics),
            "rows": rows, "notes": list(table.notes), "warnings": list(table.warnings)}


#: The CSV columns: ``kind`` is ``row`` for a (workload, policy, metric), ``note``
#: or ``warning`` for a footer line (its text in ``message``, the rest empty).
CSV_FIELDS = ("kind", "workload", "policy", "metric", "unit", "n", "mean", "sd", "ci_low",
              "ci_high", "ci_clipped", "median", "seeds", "values", "baseline", "n_pairs",
              "baseline_mean", "diff", "diff_sd", "diff_ci_low", "diff_ci_high", "rel_diff",
              "rel_ci_low", "rel_ci_high", "rel_method", "exact", "t_p", "wilcoxon_p",
              "effect_size", "tested", "p_holm", "significant", "seeds_needed", "crashed",
              "message")


def csv_value(x: Any) -> Any:
    """A value for CSV: nan empty, infinities ``inf``/``-inf``, floats exact (repr),
    booleans 1/0, lists space-separated."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(x)
    if isinstance(x, list):
        return " ".join(str(csv_value(v)) for v in x)
    return "" if x is None else x


def _render_csv(table: ComparisonTable) -> str:
    """The JSON document's content, flat: a line per row, then the notes and warnings."""
    doc = to_json_doc(table)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r, row in zip(table.rows, doc["rows"]):
        flat = {k: v for k, v in row.items() if k not in ("vs_baseline", "crashed")}
        if r.crashed:
            flat["crashed"] = crash_cell(r)
        flat.update(kind="row", ci_clipped=r.summary.clipped, values=r.values,
                    mean=r.summary.mean, sd=r.summary.sd, ci_low=r.summary.ci_low,
                    ci_high=r.summary.ci_high, median=r.summary.median)
        p = r.vs_baseline
        if p is not None:
            flat.update({k: getattr(p, k) for k in (
                "baseline_mean", "diff", "diff_sd", "diff_ci_low", "diff_ci_high", "rel_diff",
                "rel_ci_low", "rel_ci_high", "rel_method", "exact", "t_p", "wilcoxon_p",
                "effect_size")})
            flat.update(baseline=table.baseline, n_pairs=p.n, tested=r.tested,
                        p_holm=r.p_holm, significant=r.significant,
                        seeds_needed=r.seeds_needed)
        writer.writerow({k: csv_value(v) for k, v in flat.items()})
    for kind, lines in (("note", table.notes), ("warning", table.warnings)):
        for line in lines:
            writer.writerow({"kind": kind, "message": line})
    return buf.getvalue()


def render(table: ComparisonTable, fmt: str, wide: bool = False) -> str:
    """``table`` as text in ``fmt``, one of :data:`FORMATS`.

    ``plain``: aligned columns under a heading line per workload and metric,
    then the footer (legend, notes, warnings) wrapped to :data:`FOOTER_WIDTH`;
    the :data:`NARROW` columns fit an 80-column terminal, ``wide`` gives
    :data:`WIDE`.  ``github``: a GitHub markdown table (a bold heading row per
    metric) and the footer as a list.  ``latex``: a ``table`` environment with
    the footer as its caption.  ``html``: :func:`html_table`.  ``csv`` and
    ``json`` carry the same content whatever ``wide`` says: every statistic of
    every row, the notes and the warnings; nan is empty in CSV and null in
    JSON, an infinity ``inf``/``-inf`` in both.
    """
    if fmt not in FORMATS:
        raise ComparisonError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return _render_csv(table)
    if fmt == "json":
        return json.dumps(to_json_doc(table), indent=2, allow_nan=False) + "\n"
    if fmt == "html":
        return html_table(table, wide)
    cols = columns(table, wide)
    if fmt == "latex":
        return _latex_table(table, cols, wide)
    if fmt == "github":
        footer = "\n".join(f"- {_md(line)}" for line in table.footer(wide))
        return _github(table, cols) + "\n\n" + footer + "\n"
    return ("\n".join(_plain(table, cols)) + "\n\n"
            + "\n".join(wrap_footer(table.footer(wide))) + "\n")
