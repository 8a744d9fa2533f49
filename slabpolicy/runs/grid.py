"""Sweep grids: the values each workload parameter takes, and the points they make.

A grid axis is a ``--set`` path (``cgroups[0].arrival.rate``, ``machine.cpus``)
with a list of values written as ``--set`` takes them (``4/s``, ``16``, ``{dist:
fixed, value: 5ms}``).  Axes come from a workload's ``sweep:`` section
(:class:`~slabpolicy.workloads.spec.SweepAxis`, checked by the workload loader)
and from ``--grid PATH=V1,V2,...`` options, which replace the section's axis of
the same path or add one.  The grid is the cross product of the axes, the first
axis varying slowest; a point is applied to the workload as extra ``--set``
overrides, so a point's workload is loaded and checked exactly like ``--set``.

:func:`load_points` loads the workload at every point before anything runs and
reports every problem a grid value causes, pointed at the value: ``--grid:
PATH: message`` for a ``--grid`` value, ``FILE:LINE: sweep.PATH[i]: message``
for a value of the ``sweep:`` section, and a problem elsewhere in the file
(values that clash with another field) with the point that causes it.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import re
from dataclasses import dataclass
from typing import Sequence

import yaml
from yaml.nodes import SequenceNode

from slabpolicy.errors import Problem, WorkloadError
from slabpolicy.workloads.spec import (OVERRIDE_FILE, SweepAxis, Workload, load_workload,
                                       set_path, yaml_text)
from slabpolicy.workloads.units import UnitError, parse_duration, parse_rate, parse_size

#: The ``file`` of a problem found in a ``--grid`` option.
GRID_OPTION = "--grid"


def parse_grid(text: str) -> SweepAxis:
    """One ``--grid PATH=V1,V2,...`` option as an axis; a :class:`WorkloadError` if bad.

    The values are read as the items of a YAML flow list, so a value may be
    quoted or be a mapping (``{dist: fixed, value: 5ms}``) with commas inside.
    """
    def bad(path: str, message: str) -> WorkloadError:
        return WorkloadError([Problem(GRID_OPTION, 0, path, message)])

    key, sep, values = text.partition("=")
    path = set_path(key) if sep else None
    if path is None:
        raise bad("", f"bad grid {text!r}: expected PATH=V1,V2,... with a --set path, "
                      f"e.g. machine.cpus=4,16,64")
    try:
        node = yaml.compose(f"[{values}]", Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise bad(path, f"bad values {values!r}: not a comma-separated list of YAML values: "
                        f"{reason}") from None
    items = node.value if isinstance(node, SequenceNode) else []
    texts = [yaml_text(item) for item in items]
    if not texts or any(t in ("", "null") for t in texts):
        raise bad(path, f"bad values {values!r}: expected one or more values separated by commas")
    duplicates = sorted({t for t in texts if texts.count(t) > 1})
    if duplicates:
        raise bad(path, f"duplicate value {', '.join(duplicates)}")
    return SweepAxis(path, tuple(texts), GRID_OPTION, 0, (0,) * len(texts))


def grid_axes(workload: Workload, grid: Sequence[str], overrides: Sequence[str] = ()
              ) -> tuple[SweepAxis, ...]:
    """The axes of a sweep: the workload's ``sweep:`` section with each ``--grid``
    replacing the axis of its path or adding one.  An axis whose path a ``--set``
    also sets, a path given twice to ``--grid``, or no axis at all, is an error."""
    axes = {axis.path: axis for axis in workload.sweep}
    given: set[str] = set()
    problems: list[Problem] = []
    for text in grid:
        try:
            axis = parse_grid(text)
        except WorkloadError as exc:
            problems += exc.problems
            continue
        if axis.path in given:
            problems.append(Problem(GRID_OPTION, 0, axis.path, "given twice; give each path once"))
        given.add(axis.path)
        axes[axis.path] = axis
    set_paths = {set_path(o.partition("=")[0]) for o in overrides}
    for axis in axes.values():
        if axis.path in set_paths:
            problems.append(_problem_at(axis, None, axis.path,
                                        "also set by --set; a parameter is swept or set, not both"))
    if problems:
        raise WorkloadError(problems)
    if not axes:
        raise WorkloadError([Problem(workload.path, 0, "sweep", "nothing to sweep: give --grid "
                                     "PATH=V1,V2,... or a sweep: section in the workload")])
    return tuple(axes.values())


@dataclass(frozen=True)
class Point:
    """One point of a grid: the value of each axis (``(path, value text)``, in axis
    order) and each value's index on its axis."""

    values: tuple[tuple[str, str], ...]
    index: tuple[int, ...]

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.values)

    def overrides(self) -> list[str]:
        """The point as ``--set`` overrides."""
        return [f"{path}={value}" for path, value in self.values]

    def label(self, paths: Sequence[str]) -> str:
        """``rate=4/s cpus=16``: each axis (of the grid's ``paths``) by its short name
        (:func:`short_names`)."""
        return " ".join(f"{name}={value}"
                        for name, (_, value) in zip(short_names(paths), self.values))


def grid_points(axes: Sequence[SweepAxis]) -> list[Point]:
    """The cross product of the axes' values, the first axis varying slowest."""
    ranges = [range(len(axis.values)) for axis in axes]
    return [Point(tuple((axis.path, axis.values[i]) for axis, i in zip(axes, index)), index)
            for index in itertools.product(*ranges)]


def short_names(paths: Sequence[str]) -> list[str]:
    """Each path's last field name (``rate`` for ``cgroups[0].arrival.rate``), or the
    whole path where two would share the short name."""
    shorts = [re.sub(r"\[-?\d+\]", "", path).rsplit(".", 1)[-1] for path in paths]
    return [s if shorts.count(s) == 1 else path for s, path in zip(shorts, paths)]


def point_tags(points: Sequence[Point], axes: Sequence[SweepAxis]) -> list[str]:
    """A file-name-safe tag per point (``rate=4_s``); when two points would get the
    same tag, every tag gets the first 8 hex digits of its point's sha1."""
    paths = [axis.path for axis in axes]
    tags = [re.sub(r"[^A-Za-z0-9_.+=-]+", "_", p.label(paths).replace(" ", "+")) for p in points]
    if len(set(tags)) == len(tags):
        return tags
    return [f"{tag}-{hashlib.sha1(repr(p.values).encode()).hexdigest()[:8]}"
            for tag, p in zip(tags, points)]


def _problem_at(axis: SweepAxis, index: int | None, path: str, message: str) -> Problem:
    """A problem about ``axis`` (its value ``index``, if known), where it was written."""
    if axis.file == GRID_OPTION:
        return Problem(GRID_OPTION, 0, path, message)
    if index is None:
        return Problem(axis.file, axis.line, f"sweep.{axis.path}", message)
    return Problem(axis.file, axis.value_lines[index], f"sweep.{axis.path}[{index}]",
                   f"{axis.values[index]}: {message}")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def load_points(path: str, overrides: Sequence[str], axes: Sequence[SweepAxis],
                points: Sequence[Point]) -> list[Workload]:
    """The workload at every point (``overrides`` first, then the point's values).

    Raises one :class:`WorkloadError` with every problem, each pointed at the grid
    value that causes it (see the module's docstring): first each value is tried
    alone, so that a bad value is reported once; if every value is good alone, the
    points whose values clash are reported with the point.  The workload without
    the grid must load (the caller loads it first).
    """
    problems: dict[Problem, None] = {}
    if len(axes) > 1:
        for axis in axes:
            for i, value in enumerate(axis.values):
                alone = Point(((axis.path, value),), (i,))
                for problem in _try(path, overrides, alone)[1]:
                    problems.setdefault(_blame(problem, [axis], alone, None))
        if problems:
            raise WorkloadError(list(problems))
    workloads: list[Workload] = []
    paths = [axis.path for axis in axes]
    for point in points:
        workload, found = _try(path, overrides, point)
        for problem in found:
            problems.setdefault(_blame(problem, axes, point,
                                       point.label(paths) if len(axes) > 1 else None))
        if workload is not None:
            workloads.append(workload)
    if problems:
        raise WorkloadError(list(problems))
    return workloads


def _try(path: str, overrides: Sequence[str], point: Point
         ) -> tuple[Workload | None, list[Problem]]:
    """The workload at ``point``, or its problems."""
    try:
        return load_workload(path, [*overrides, *point.overrides()]), []
    except WorkloadError as exc:
        return None, exc.problems


def _blame(problem: Problem, axes: Sequence[SweepAxis], point: Point,
           label: str | None) -> Problem:
    """``problem`` of the workload at ``point``, pointed at the grid value causing it,
    with the point's ``label`` if given."""
    at = f" (at sweep point {label})" if label else ""
    if problem.file == OVERRIDE_FILE:
        for axis, i in zip(axes, point.index):
            if _under(problem.path, axis.path):
                return _problem_at(axis, i, problem.path, problem.message + at)
    return Problem(problem.file, problem.line, problem.path,
                   problem.message + (at or f" (at sweep point {point.label([a.path for a in axes])})"))


# --------------------------------------------------------------------------- #
# Values as numbers, for plots
# --------------------------------------------------------------------------- #

def numeric(text: str) -> float | None:
    """A grid value as a number: a plain number, a rate per second, a duration in
    ns or a size in bytes; None for anything else (a mapping, a word)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    for parse in (parse_rate, parse_duration, parse_size):
        try:
            return float(parse(value))
        except UnitError:
            continue
    return None


def is_geometric(numbers: Sequence[float], tolerance: float = 0.05) -> bool:
    """Do the (sorted) values grow by a roughly constant factor, above 1, from a
    positive start?  Such a grid is drawn on a log axis.  Three values at least."""
    xs = sorted(numbers)
    if len(xs) < 3 or xs[0] <= 0:
        return False
    ratios = [b / a for a, b in zip(xs, xs[1:])]
    return ratios[0] > 1.5 and all(abs(r / ratios[0] - 1) <= tolerance for r in ratios)
