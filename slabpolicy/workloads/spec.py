"""Workload files: load, apply ``--set`` overrides, validate everything.

:func:`load_workload` reads a YAML file (safe YAML only: the node tree comes
from ``yaml.compose`` with the ``SafeLoader``, and values are built with the
``SafeConstructor``), applies ``--set dotted.key=value`` overrides to that tree,
then checks every field.  It either returns a :class:`Workload` or raises one
:class:`~slabpolicy.errors.WorkloadError` holding *every* problem found, each
as ``FILE:LINE: field.path: message`` (problems from ``--set`` are reported as
``--set: field.path: message``).  It never raises anything else.

The schema is documented in the module's ``SCHEMA`` string below (and in the
README); field paths are dotted with list indexes, e.g.
``cgroups[0].streams[1].rate``.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from slabpolicy.kernel.costs import DEFAULT_STEPS, default_costs
from slabpolicy.kernel.rcu import RCU_MODES
from slabpolicy.workloads.distributions import (
    Distribution,
    Exponential,
    Fixed,
    Forever,
    LogNormal,
    Mixture,
    Pareto,
)
from slabpolicy.errors import Problem, WorkloadError
from slabpolicy.kernel.geometry import DEFAULT_ERA, REMOTE_NODE_DEFRAG_RATIO, SLUB_ERAS, geometry
from slabpolicy.workloads import bundled, limits
from slabpolicy.workloads.reader import check_node_count, read_workload_bytes
from slabpolicy.workloads.units import UnitError, format_size, parse_duration, parse_rate, parse_size

__all__ = [
    "ReclaimOptions",
    "Machine",
    "CacheKind",
    "Stream",
    "Arrival",
    "CgroupGroup",
    "PolicyChoice",
    "SweepAxis",
    "Workload",
    "load_workload",
    "parse_distribution",
    "KNOWN_DISTRIBUTIONS",
    "ARRIVAL_PROCESSES",
    "CACHE_CREATION_MODES",
    "OVERRIDE_FILE",
    "DEFAULT_POLICY",
]

SCHEMA = """\
name: default-containers          # required, str
description: "..."                # [""]
seed: 1                           # [1] int >= 0
duration: 10s                     # required, > 0
sample_interval: 10ms             # [duration/100] > 0
tick_interval: 100ms              # [1s] > 0
machine:                          # required
  cpus: 4                         # required int >= 1
  nodes: 1                        # [1] 1 <= nodes <= cpus
  page_size: 4KiB                 # [4KiB] power of two >= 1KiB
  slub_max_order: 3               # [3] 0..10
  slub_min_objects: 0             # [0] >= 0
  slub_min_order: 0               # [0] 0..slub_max_order
  memory: 64MiB                   # [unlimited] size or unlimited: memory for slab pages (reclaim)
  slub: "3.4"                     # ["3.4"] "3.4" | "6.x": the SLUB era's cpu_partial limits,
                                  # slab orders and empty-slab tests (docs/model.md)
  remote_node_defrag_ratio: 1000  # [1000] 0..1000, s->remote_node_defrag_ratio (sysfs shows
                                  # a tenth): how often get_any_partial() takes another
                                  # node's partial slab (nodes > 1)
caches:                           # required, non-empty list, unique names
  - name: dentry                  # required str
    object_size: 192              # required size >= 8
    slot_size: 192                # [object_size rounded up to 8] >= object_size
    store_user: false             # [false]
    rcu: none                     # [none] none | call_rcu | typesafe | kfree_rcu (kernel/rcu.py)
memcg:
  cache_creation: lazy            # [lazy] lazy | eager
cgroups:                          # required, non-empty list, unique names
  - name: containers              # required; 'root' is the root cgroup's own tasks
    parent: root                  # [root] 'root' or an earlier group
    count: 100                    # required int >= 0 (1 for 'root')
    cpus: 2                       # [2; all for 'root'] cpus each cgroup's tasks run on:
                                  # a count (spread round-robin), a list, or all
    migration: 1/s                # [0] rate at which a task moves to another cpu
    arrival:                      # [{process: at_start}]
      process: poisson            # poisson (rate) | fixed (interval) | at_start
      rate: 10/s
      start: 0s                   # [0s]
    lifetime: 30s                 # [forever] a distribution
    memory: {high: 1MiB, max: 2MiB}   # [no limits] memory.high, memory.max (v1: limit_in_bytes = max)
    streams:                      # [] list
      - cache: dentry             # required, names a cache
        rate: 2000/s              # required, per cgroup
        lifetime: {dist: exponential, mean: 5ms}   # required distribution
        remote_free: 0.1          # [0.0] probability in [0, 1]
        unused_lifetime: 30s      # [absent: freed at the end of lifetime] a distribution: the
                                  # object then stays unused on its memcg's list_lru for this
                                  # long (forever: until reclaim frees it)
reclaim:                          # [{}] how reclaim scans (kernel/reclaim.py)
  vfs_cache_pressure: 100         # [100] int >= 0, the sysctl
  small_cache_pressure: false     # [false] Linux 4.19's minimal pressure on small lists
  memcg_aware_lru: true           # [true] false: per-superblock lists, as before Linux 4.0
policies: [leave-in-place]        # [[leave-in-place]] names or {name, label, options}
plugins: []                       # [] paths, relative to this file
costs: {alloc_fast: 6ns}          # [{}] step -> duration
trace:                            # [none] a trace to replay instead of caches and cgroups:
                                  # FILE or {file, tasks, caches, cgroups, start, end,
                                  # accounted_only, hierarchy} (docs/workloads.md)
sweep:                            # [{}] `slabpolicy sweep` only: --set path -> list of values
  cgroups[0].arrival.rate: [1/s, 4/s, 16/s]
"""

#: Distribution names accepted under ``dist:``.
KNOWN_DISTRIBUTIONS: tuple[str, ...] = ("exponential", "lognormal", "pareto", "fixed", "forever", "mixture")
ARRIVAL_PROCESSES: tuple[str, ...] = ("poisson", "fixed", "at_start")
CACHE_CREATION_MODES: tuple[str, ...] = ("lazy", "eager")
#: The ``file`` of a Problem found in a ``--set`` override.
OVERRIDE_FILE = "--set"
DEFAULT_POLICY = "leave-in-place"
ROOT_GROUP = "root"
#: ``cpus: all``: a task of the group may run on any cpu
ALL_CPUS = "all"
#: the default placement of a cgroup's tasks: two cpus (docs/model.md, "Placement")
DEFAULT_GROUP_CPUS = 2

NS_PER_S = 1_000_000_000


# --------------------------------------------------------------------------- #
# Result types (the engine is written against these exact names and fields)
# --------------------------------------------------------------------------- #

@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    nodes: int
    page_size: int
    slub_max_order: int
    slub_min_objects: int
    slub_min_order: int
    memory: int | None = None    # bytes of memory for slab pages (None: unlimited)
    slub: str = DEFAULT_ERA      # the SLUB era (kernel/geometry.py SLUB_ERAS)
    remote_node_defrag_ratio: int = REMOTE_NODE_DEFRAG_RATIO   # kmem_cache_open()'s default

    def node_of_cpu(self, cpu: int) -> int:
        """The NUMA node of ``cpu``: cpus are split in contiguous, (nearly) equal blocks."""
        return cpu * self.nodes // self.cpus

    def cpus_of_node(self, node: int) -> range:
        """The cpus of ``node`` (the inverse of :meth:`node_of_cpu`)."""
        # smallest cpu c with c * nodes // cpus >= node  is  ceil(node * cpus / nodes)
        first = -(-node * self.cpus // self.nodes)
        last = -(-(node + 1) * self.cpus // self.nodes)
        return range(first, last)


@dataclass(frozen=True, slots=True)
class CacheKind:
    name: str
    object_size: int
    slot_size: int
    store_user: bool
    rcu: str = "none"            # RCU_MODES


@dataclass(frozen=True, slots=True)
class Stream:
    cache: str
    rate_per_s: float
    lifetime: Distribution
    remote_free: float
    unused_lifetime: Distribution | None = None   # None: freed at the end of lifetime


@dataclass(frozen=True, slots=True)
class Arrival:
    process: str                 # "poisson" | "fixed" | "at_start"
    rate_per_s: float | None     # poisson only
    interval_ns: int | None      # fixed only
    start_ns: int


@dataclass(frozen=True, slots=True)
class CgroupGroup:
    name: str
    parent: str                  # "root" or the name of an earlier group
    count: int
    arrival: Arrival
    lifetime: Distribution       # how long each cgroup stays online
    streams: tuple[Stream, ...]
    #: the cpus each cgroup's tasks run on: a count placed round-robin across the
    #: machine, a tuple of cpu numbers, or ``ALL_CPUS``
    cpus: int | tuple[int, ...] | str = DEFAULT_GROUP_CPUS
    migration_per_s: float = 0.0   # rate at which one task moves to another cpu
    memory_high: int | None = None   # bytes (None: no limit)
    memory_max: int | None = None

    @property
    def is_root(self) -> bool:
        """The group of the root cgroup's own tasks (``name: root``)."""
        return self.name == ROOT_GROUP


@dataclass(frozen=True, slots=True)
class PolicyChoice:
    name: str
    label: str
    options: dict
    line: int                    # line of the item in the file (0 if defaulted or from --set)


@dataclass(frozen=True, slots=True)
class ReclaimOptions:
    vfs_cache_pressure: int = 100
    small_cache_pressure: bool = False
    memcg_aware_lru: bool = True


@dataclass(frozen=True, slots=True)
class SweepAxis:
    """One parameter of a sweep: a ``--set`` path and the values it takes, each as
    the YAML text ``--set`` would be given; where it was written (``file`` and
    ``line`` of the path, ``value_lines`` of each value; 0 for ``--grid``)."""

    path: str
    values: tuple[str, ...]
    file: str
    line: int
    value_lines: tuple[int, ...]


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    path: str
    sha256: str
    seed: int
    duration_ns: int
    sample_interval_ns: int
    tick_interval_ns: int
    machine: Machine
    caches: tuple[CacheKind, ...]
    cache_creation: str
    groups: tuple[CgroupGroup, ...]
    policies: tuple[PolicyChoice, ...]
    plugins: tuple[str, ...]
    costs: dict[str, int]
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    sweep: tuple[SweepAxis, ...] = ()
    reclaim: ReclaimOptions = ReclaimOptions()
    #: a slabpolicy.traces.source.TraceSource to replay instead of ``groups`` (None: generated)
    trace: Any = field(default=None, compare=False, repr=False)

    def locate(self, field_path: str) -> int:
        """Line of ``field_path`` or of its nearest ancestor present in the file (0 if none).

        Fields set by ``--set`` have line 0.
        """
        found = self._nearest(field_path)
        return 0 if found is None else self.lines[found]

    def problem(self, field_path: str, message: str) -> Problem:
        """A :class:`Problem` about ``field_path`` (e.g. a bad policy option)."""
        found = self._nearest(field_path)
        if found is not None and self.lines[found] == 0:
            return Problem(OVERRIDE_FILE, 0, field_path, message)
        return Problem(self.path, 0 if found is None else self.lines[found], field_path, message)

    def _nearest(self, field_path: str) -> str | None:
        p = field_path
        while p:
            if p in self.lines:
                return p
            p = _parent_path(p)
        return None


def _parent_path(path: str) -> str:
    """``a.b[2]`` -> ``a.b``; ``a.b`` -> ``a``; ``a`` -> ``''``."""
    if path.endswith("]"):
        i = path.rfind("[")
        if i > 0:
            return path[:i]
    i = path.rfind(".")
    return path[:i] if i > 0 else ""


# --------------------------------------------------------------------------- #
# Validation machinery
# --------------------------------------------------------------------------- #

class _Bad:
    """Sentinel: a field was present but wrong (a problem has been recorded)."""

    def __repr__(self) -> str:
        return "<bad>"


BAD: Any = _Bad()

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _quote(text: str) -> str:
    if len(text) > 40:                  # a 5000-digit number is not repeated whole
        text = text[:40] + "..."
    return repr(text) if "'" not in text else '"' + text + '"'


def _got(node: Node) -> str:
    """How a wrong value is described after 'got ...'."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "nothing"
    return _quote(str(node.value))


def _shown(node: Node) -> str:
    """A scalar's text as written, unquoted (for 'must be at least 1, got 0')."""
    if isinstance(node, ScalarNode):
        text = str(node.value)
        return text if len(text) <= 40 else text[:40] + "..."
    return _got(node)


def _did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    for c in choices:
        if c.lower() == word.lower():
            return c
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown(what: str, word: str, choices: Sequence[str], listing: str = "expected one of") -> str:
    """``unknown field 'cpu'; did you mean 'cpus'?`` (or the list of choices)."""
    guess = _did_you_mean(word, choices)
    if guess is not None:
        return f"unknown {what} {_quote(word)}; did you mean {_quote(guess)}?"
    return f"unknown {what} {_quote(word)}; {listing}: {', '.join(choices)}"


class _Checker:
    """Walks the node tree, collecting problems and field lines."""

    def __init__(self, file: str, base_dir: str):
        self.file = file
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.lines: dict[str, int] = {}
        self.override_ids: set[int] = set()
        self.constructor = SafeConstructor()

    # -- locations and problems ------------------------------------------- #
    def is_override(self, node: Node | None) -> bool:
        return node is not None and id(node) in self.override_ids

    def line(self, node: Node | None) -> int:
        if node is None or self.is_override(node):
            return 0
        return node.start_mark.line + 1

    def add(self, node: Node | None, path: str, message: str) -> None:
        if self.is_override(node):
            self.problems.append(Problem(OVERRIDE_FILE, 0, path, message))
        else:
            self.problems.append(Problem(self.file, self.line(node), path, message))

    def record(self, path: str, key_node: Node, value_node: Node) -> None:
        """Remember where ``path`` is (line 0 if its value came from --set)."""
        if self.is_override(value_node) or self.is_override(key_node):
            self.lines[path] = 0
        else:
            self.lines[path] = key_node.start_mark.line + 1

    def record_tree(self, node: Node, path: str) -> None:
        """Record every field under ``node`` (for free-form mappings like options)."""
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if isinstance(k, ScalarNode):
                    p = _join(path, str(k.value))
                    self.record(p, k, v)
                    self.record_tree(v, p)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                p = f"{path}[{i}]"
                self.record(p, item, item)
                self.record_tree(item, p)

    # -- structure ---------------------------------------------------------- #
    def tag_ok(self, node: Node, path: str) -> bool:
        """Report a tag safe_load would refuse (``!!python/...``, ``!custom``)."""
        if node.tag in self.constructor.yaml_constructors:
            return True
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        self.add(node, path, f"unsupported YAML tag {_quote(tag)} (only safe YAML is read)")
        return False

    def flatten(self, node: MappingNode, path: str) -> bool:
        """Apply YAML merge keys (``<<: *base``) as safe_load would."""
        if not any(k.tag == _MERGE_TAG for k, _ in node.value):
            return True
        try:
            self.constructor.flatten_mapping(node)
        except ConstructorError as e:
            self.add(node, path, f"bad merge key: {e.problem}")
            return False
        return True

    def mapping(self, node: Node, path: str, known: Sequence[str],
                required: Sequence[str] = (), what: str = "field") -> dict[str, Node] | None:
        """The fields of a mapping node, after reporting unknown, duplicate and missing ones."""
        if not self.tag_ok(node, path):
            return None
        if not isinstance(node, MappingNode):
            self.add(node, path, f"expected a mapping, got {_got(node)}")
            return None
        own: dict[str, Node] = {}
        for k, _ in node.value:
            if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG:
                key = str(k.value)
                if key in own:
                    self.add(k, _join(path, key),
                             f"duplicate {what} {_quote(key)} (first on line {self.line(own[key])})"
                             if self.line(own[key]) else f"duplicate {what} {_quote(key)}")
                else:
                    own[key] = k
        if not self.flatten(node, path):
            return None
        fields: dict[str, Node] = {}
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                self.add(k, path, f"{what} names must be plain strings, got {_got(k)}")
                continue
            key = str(k.value)
            p = _join(path, key)
            if key not in known:
                message = _unknown(what, key, known)
                if not path and _did_you_mean(key, known) is None:
                    nested = _did_you_mean(key, list(_NESTED_TOP))
                    if nested is not None:
                        message = f"unknown field {_quote(key)}; did you mean {_quote(_NESTED_TOP[nested])}?"
                self.add(k, p, message)
                continue
            fields[key] = v
            self.record(p, k, v)
        for key in required:
            if key not in fields:
                self.add(node, _join(path, key), f"missing required {what}")
        return fields

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        if not self.tag_ok(node, path):
            return None
        if not isinstance(node, SequenceNode):
            self.add(node, path, f"expected a list, got {_got(node)}")
            return None
        for i, item in enumerate(node.value):
            self.record(f"{path}[{i}]", item, item)
        return list(node.value)

    # -- scalars ------------------------------------------------------------ #
    def scalar(self, node: Node, path: str, expected: str) -> Any:
        if not self.tag_ok(node, path):
            return BAD
        if not isinstance(node, ScalarNode):
            self.add(node, path, f"expected {expected}, got {_got(node)}")
            return BAD
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as e:
            self.add(node, path, f"expected {expected}, got {_got(node)}: {e.problem}")
            return BAD
        except (ValueError, OverflowError):     # Python refuses ints of over 4300 digits
            self.add(node, path, f"expected {expected}, got a number of {len(str(node.value))} "
                                 f"characters: out of range")
            return BAD

    def integer(self, node: Node, path: str, lo: int | None = None,
                hi: int = limits.MAX_INT) -> Any:
        """An integer in ``lo..hi`` (every integer field is at most MAX_INT)."""
        v = self.scalar(node, path, "an integer")
        if v is BAD:
            return BAD
        if isinstance(v, bool) or not isinstance(v, int):
            self.add(node, path, f"expected an integer, got {_got(node)}")
            return BAD
        return self.in_range(node, path, v, lo, min(hi, limits.MAX_INT))

    def number(self, node: Node, path: str, lo: float | None = None, hi: float | None = None,
               positive: bool = False) -> Any:
        """A finite number; every one within +-MAX_NUMBER, a positive one at least
        MIN_POSITIVE_NUMBER (weights, sigma, alpha stay far from float overflow)."""
        v = self.scalar(node, path, "a number")
        if v is BAD:
            return BAD
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.add(node, path, f"expected a number, got {_got(node)}")
            return BAD
        if positive and not v > 0:
            self.add(node, path, f"must be greater than 0, got {_shown(node)}")
            return BAD
        if abs(v) > limits.MAX_NUMBER or (positive and v < limits.MIN_POSITIVE_NUMBER):
            low = limits.MIN_POSITIVE_NUMBER if positive else -limits.MAX_NUMBER
            self.add(node, path, f"must be between {low:g} and {limits.MAX_NUMBER:g} (what the "
                                 f"model represents), got {_shown(node)}")
            return BAD
        return self.in_range(node, path, float(v), lo, hi)

    def in_range(self, node: Node, path: str, v: Any, lo: Any, hi: Any) -> Any:
        shown = _shown(node)
        if lo is not None and hi is not None and isinstance(v, float) and not lo <= v <= hi:
            self.add(node, path, f"must be between {lo:g} and {hi:g}, got {shown}")
            return BAD
        if lo is not None and v < lo:
            self.add(node, path, f"must be at least {lo}, got {shown}")
            return BAD
        if hi is not None and v > hi:
            self.add(node, path, f"must be at most {hi}, got {shown}")
            return BAD
        return v

    def string(self, node: Node, path: str) -> Any:
        v = self.scalar(node, path, "a string")
        if v is BAD:
            return BAD
        if not isinstance(v, str):
            self.add(node, path, f"expected a string, got {_got(node)}")
            return BAD
        if not v.strip():
            self.add(node, path, "must not be empty")
            return BAD
        return v

    def boolean(self, node: Node, path: str) -> Any:
        v = self.scalar(node, path, "true or false")
        if v is BAD:
            return BAD
        if not isinstance(v, bool):
            self.add(node, path, f"expected true or false, got {_got(node)}")
            return BAD
        return v

    def choice(self, node: Node, path: str, choices: Sequence[str], what: str = "value") -> Any:
        v = self.scalar(node, path, f"one of {', '.join(choices)}")
        if v is BAD:
            return BAD
        if not isinstance(v, str) or v not in choices:
            if isinstance(v, str):
                self.add(node, path, _unknown(what, v, choices))
            else:
                self.add(node, path, f"expected one of {', '.join(choices)}, got {_got(node)}")
            return BAD
        return v

    def quantity(self, node: Node, path: str, parse: Any, kind: str, example: str) -> Any:
        if not isinstance(node, ScalarNode):
            self.add(node, path, f"expected a {kind} such as {example}, got {_got(node)}")
            return BAD
        v = self.scalar(node, path, f"a {kind} such as {example}")
        if v is BAD:
            return BAD
        try:
            return parse(v)
        except UnitError as e:
            self.add(node, path, str(e))
            return BAD

    def duration(self, node: Node, path: str, positive: bool = True) -> Any:
        """Integer ns, at most MAX_DURATION_NS (an int64 of ns, about 292 years)."""
        v = self.quantity(node, path, parse_duration, "duration", "5ms")
        if v is not BAD and positive and v <= 0:
            self.add(node, path, f"must be greater than 0, got {_shown(node)}")
            return BAD
        if v is not BAD and v > limits.MAX_DURATION_NS:
            self.add(node, path, f"must be at most {limits.MAX_DURATION_TEXT} (what the model "
                                 f"represents), got {_shown(node)}")
            return BAD
        return v

    def size(self, node: Node, path: str) -> Any:
        """Bytes, at most MAX_SIZE."""
        v = self.quantity(node, path, parse_size, "size", "64KiB")
        if v is not BAD and v > limits.MAX_SIZE:
            self.add(node, path, f"must be at most {format_size(limits.MAX_SIZE)}, "
                                 f"got {_shown(node)}")
            return BAD
        return v

    def rate(self, node: Node, path: str) -> Any:
        """Events per second in MIN_RATE_PER_S..MAX_RATE_PER_S (at most one per ns, at
        least one per MAX_DURATION_NS)."""
        v = self.quantity(node, path, parse_rate, "rate", "2000/s")
        if v is not BAD and not v > 0:
            self.add(node, path, f"must be greater than 0, got {_shown(node)}")
            return BAD
        if v is not BAD and not limits.MIN_RATE_PER_S <= v <= limits.MAX_RATE_PER_S:
            self.add(node, path, f"must be between 1 per {limits.MAX_DURATION_TEXT} and 1/ns "
                                 f"(what the model represents), got {_shown(node)}")
            return BAD
        return v

    def free_form(self, node: Node, path: str) -> Any:
        """Any safe YAML value (policy options); lines recorded for every field."""
        if not self.unique_keys(node, path):
            return BAD
        try:
            value = self.constructor.construct_object(node, deep=True)
        except ConstructorError as e:
            self.add(node, path, f"cannot read this value: {e.problem}")
            return BAD
        except TypeError as e:  # an unhashable key, e.g. a list used as a mapping key
            self.add(node, path, f"cannot read this value: {e}")
            return BAD
        except (ValueError, OverflowError):     # an int of over 4300 digits
            self.add(node, path, "cannot read this value: a number out of range")
            return BAD
        self.record_tree(node, path)
        return value

    def unique_keys(self, node: Node, path: str) -> bool:
        """Report every duplicate key in the mappings under ``node`` (safe_load would
        silently keep the last: ``{shrink: true, shrink: false}`` means false)."""
        ok = True
        stack, seen = [(node, path)], set()
        while stack:
            n, p = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if isinstance(n, MappingNode):
                first: dict[str, Node] = {}
                for k, v in n.value:
                    if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG:
                        key = str(k.value)
                        if key in first:
                            line = self.line(first[key])
                            self.add(k, _join(p, key), f"duplicate key {_quote(key)}"
                                     + (f" (first on line {line})" if line else ""))
                            ok = False
                        else:
                            first[key] = k
                        stack.append((v, _join(p, key)))
            elif isinstance(n, SequenceNode):
                stack.extend((item, f"{p}[{i}]") for i, item in enumerate(n.value))
        return ok

    # -- distributions ------------------------------------------------------ #
    _DIST_FIELDS: dict[str, tuple[str, ...]] = {
        "exponential": ("mean",),
        "lognormal": ("median", "sigma"),
        "pareto": ("scale", "alpha"),
        "fixed": ("value",),
        "forever": (),
        "mixture": ("of",),
    }

    def distribution(self, node: Node, path: str, component: bool = False) -> Any:
        """A Distribution (``component``: a mixture item, returns ``(weight, dist)``)."""
        extra = ("weight",) if component else ()
        if isinstance(node, ScalarNode) and not component:
            v = self.scalar(node, path, "a distribution")
            if v is BAD:
                return BAD
            if v == "forever":
                return Forever()
            if isinstance(v, str) and not re.match(r"\s*[-+.\d]", v):
                guess = _did_you_mean(v, ("forever",))
                hint = f" (did you mean 'forever'?)" if guess else ""
                self.add(node, path, "expected a duration (e.g. 5ms), 'forever' or a mapping with "
                                     f"'dist' ({', '.join(KNOWN_DISTRIBUTIONS)}), got {_got(node)}{hint}")
                return BAD
            ns = self.duration(node, path)
            return BAD if ns is BAD else Fixed(ns)
        if not isinstance(node, MappingNode):
            if component:
                self.add(node, path, f"expected a mapping with weight and dist, got {_got(node)}")
            else:
                self.add(node, path, "expected a duration (e.g. 5ms), 'forever' or a mapping with "
                                     f"'dist', got {_got(node)}")
            return BAD
        self.flatten(node, path)
        dist_node = None
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == "dist":
                dist_node = v
        name = BAD
        if dist_node is not None:
            name = self.choice(dist_node, _join(path, "dist"), KNOWN_DISTRIBUTIONS, "distribution")
        if name is BAD:
            # Report unknown keys against every distribution's fields, and a missing dist.
            all_fields = ("dist",) + tuple(sorted({f for fs in self._DIST_FIELDS.values() for f in fs})) + extra
            self.mapping(node, path, all_fields, ("dist",) + extra)
            return BAD
        params = self._DIST_FIELDS[name]
        fields = self.mapping(node, path, ("dist",) + params + extra, ("dist",) + params + extra)
        if fields is None:
            return BAD
        ok = all(p in fields for p in params + extra)
        weight = BAD
        if "weight" in fields:
            weight = self.number(fields["weight"], _join(path, "weight"), positive=True)
        dist: Any = BAD
        if name == "exponential":
            mean = self.duration(fields["mean"], _join(path, "mean")) if "mean" in fields else BAD
            if mean is not BAD:
                dist = Exponential(mean)
        elif name == "lognormal":
            median = self.duration(fields["median"], _join(path, "median")) if "median" in fields else BAD
            sigma = self.number(fields["sigma"], _join(path, "sigma"), positive=True) if "sigma" in fields else BAD
            if median is not BAD and sigma is not BAD:
                dist = LogNormal(median, sigma)
        elif name == "pareto":
            scale = self.duration(fields["scale"], _join(path, "scale")) if "scale" in fields else BAD
            alpha = self.number(fields["alpha"], _join(path, "alpha"), positive=True) if "alpha" in fields else BAD
            if scale is not BAD and alpha is not BAD:
                dist = Pareto(scale, alpha)
        elif name == "fixed":
            value = self.duration(fields["value"], _join(path, "value")) if "value" in fields else BAD
            if value is not BAD:
                dist = Fixed(value)
        elif name == "forever":
            dist = Forever()
        elif name == "mixture" and "of" in fields:
            items = self.sequence(fields["of"], _join(path, "of"))
            if items is not None:
                if not items:
                    self.add(fields["of"], _join(path, "of"), "a mixture needs at least one component")
                comps = [self.distribution(item, f"{path}.of[{i}]", component=True)
                         for i, item in enumerate(items)]
                if items and all(c is not BAD for c in comps):
                    dist = Mixture(tuple(comps))
        if not ok or dist is BAD:
            return BAD
        if component:
            return BAD if weight is BAD else (weight, dist)
        return dist


# --------------------------------------------------------------------------- #
# Overrides
# --------------------------------------------------------------------------- #

_SEGMENT_RE = re.compile(r"([^.\[\]=\s]+)((?:\[-?\d+\])*)$")


def _parse_override_key(key: str) -> list[tuple[str, Any]] | None:
    """``cgroups[0].count`` -> [('key','cgroups'), ('index',0), ('key','count')]."""
    steps: list[tuple[str, Any]] = []
    for part in key.split("."):
        m = _SEGMENT_RE.match(part)
        if not m:
            return None
        steps.append(("key", m.group(1)))
        for idx in re.findall(r"\[(-?\d+)\]", m.group(2)):
            if len(idx) > 18:         # no list is that long (and int() stops at 4300 digits)
                return None
            steps.append(("index", int(idx)))
    return steps


def set_path(key: str) -> str | None:
    """``key`` as the canonical ``--set`` path (``machine.cpus``, ``cgroups[0].count``),
    or None if it is not one."""
    steps = _parse_override_key(key.strip()) if key.strip() else None
    return _steps_path(steps) if steps else None


def _steps_path(steps: list[tuple[str, Any]]) -> str:
    out = ""
    for kind, v in steps:
        out = _join(out, v) if kind == "key" else f"{out}[{v}]"
    return out


def _mark_override(chk: _Checker, node: Node) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in chk.override_ids:
            continue
        chk.override_ids.add(id(n))
        if isinstance(n, MappingNode):
            for k, v in n.value:
                stack.extend((k, v))
        elif isinstance(n, SequenceNode):
            stack.extend(n.value)


def _own_copy(node: Node) -> Node:
    """A shallow copy with its own child list (anchors/aliases may share nodes)."""
    new = copy.copy(node)
    if isinstance(node, (MappingNode, SequenceNode)):
        new.value = list(node.value)
    return new


def _apply_override(chk: _Checker, root: MappingNode, text: str) -> None:
    if "=" not in text:
        chk.problems.append(Problem(OVERRIDE_FILE, 0, "",
                                    f"bad override {_quote(text)}: expected dotted.key=value "
                                    "(e.g. machine.cpus=8)"))
        return
    key, value_text = (s.strip() for s in text.split("=", 1))
    steps = _parse_override_key(key) if key else None
    if not steps:
        chk.problems.append(Problem(OVERRIDE_FILE, 0, key if len(key) <= 40 else key[:40] + "...",
                                    f"bad override {_quote(text)}: expected dotted.key=value with "
                                    "a key like machine.cpus or cgroups[0].count"))
        return
    path = _steps_path(steps)
    try:
        value = yaml.compose(value_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        reason = getattr(e, "problem", None) or str(e)
        chk.problems.append(Problem(OVERRIDE_FILE, 0, path,
                                    f"bad value {_quote(value_text)}: not valid YAML: {reason}"))
        return
    if value is None:
        value = ScalarNode(_NULL_TAG, "", None, None)
    _mark_override(chk, value)

    def fail(message: str) -> None:
        chk.problems.append(Problem(OVERRIDE_FILE, 0, path, message))

    node: Node = root
    for i, (kind, step) in enumerate(steps):
        last = i == len(steps) - 1
        here = _steps_path(steps[:i]) or "the top level"
        if kind == "key":
            if not isinstance(node, MappingNode):
                fail(f"cannot set {_quote(step)}: {here} is {_got(node)}, not a mapping")
                return
            if any(k.tag == _MERGE_TAG for k, _ in node.value):
                try:
                    chk.constructor.flatten_mapping(node)
                except ConstructorError:
                    fail(f"cannot set {_quote(step)}: {here} has a bad merge key")
                    return
            index = None
            for j, (k, _) in enumerate(node.value):
                if isinstance(k, ScalarNode) and k.value == step:
                    index = j  # the last one wins, as in safe_load
            if index is None:
                if not last and steps[i + 1][0] == "index":
                    fail(f"there is no {_quote(_steps_path(steps[:i + 1]))} to index")
                    return
                child = value if last else MappingNode(_MAP_TAG, [], None, None)
                key_node = ScalarNode(_STR_TAG, step, None, None)
                _mark_override(chk, key_node)
                _mark_override(chk, child)
                node.value.append((key_node, child))
                node = child
                continue
            k, v = node.value[index]
            child = value if last else _own_copy(v)
            node.value[index] = (k, child)
            node = child
        else:
            if not isinstance(node, SequenceNode):
                fail(f"cannot index {here}: it is {_got(node)}, not a list")
                return
            n = len(node.value)
            if not -n <= step < n:
                fail(f"index {step} is out of range: {here} has {n} item{'s' if n != 1 else ''}")
                return
            child = value if last else _own_copy(node.value[step])
            node.value[step] = child
            node = child


# --------------------------------------------------------------------------- #
# The workload
# --------------------------------------------------------------------------- #

_TOP = ("name", "description", "seed", "duration", "sample_interval", "tick_interval",
        "machine", "caches", "memcg", "cgroups", "reclaim", "policies", "plugins", "costs",
        "trace", "sweep")
_TOP_REQUIRED = ("name", "duration", "machine", "caches", "cgroups")
#: what a workload that replays a trace must name (slabpolicy.traces.source gives the rest)
_TOP_REQUIRED_TRACE = ("name",)
_MACHINE = ("cpus", "nodes", "page_size", "slub_max_order", "slub_min_objects", "slub_min_order",
            "memory", "slub", "remote_node_defrag_ratio")
_CACHE = ("name", "object_size", "slot_size", "store_user", "rcu")
_GROUP = ("name", "parent", "count", "cpus", "migration", "arrival", "lifetime", "memory",
          "streams")
_ARRIVAL = ("process", "rate", "interval", "start")
_STREAM = ("cache", "rate", "lifetime", "remote_free", "unused_lifetime")
_LIMITS = ("high", "max", "limit_in_bytes")
_RECLAIM = ("vfs_cache_pressure", "small_cache_pressure", "memcg_aware_lru")
_POLICY = ("name", "label", "options")
#: A field written at the top level that belongs in a section (``cpus: 4``).
_NESTED_TOP = {**{k: f"machine.{k}" for k in _MACHINE}, "cache_creation": "memcg.cache_creation",
               **{k: f"costs.{k}" for k in DEFAULT_STEPS}}


def _validate(chk: _Checker, root: Node, path_text: str, sha: str) -> Workload | None:
    replays = isinstance(root, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "trace"
        and not (isinstance(v, ScalarNode) and v.tag == _NULL_TAG) for k, v in root.value)
    top = chk.mapping(root, "", _TOP, _TOP_REQUIRED_TRACE if replays else _TOP_REQUIRED)
    if top is None:
        return None

    name = chk.string(top["name"], "name") if "name" in top else BAD
    description = ""
    if "description" in top:
        d = chk.scalar(top["description"], "description", "a string")
        if d is not BAD:
            if d is None:
                description = ""
            elif isinstance(d, str):
                description = d
            else:
                chk.add(top["description"], "description", f"expected a string, got {_got(top['description'])}")
    seed = chk.integer(top["seed"], "seed", lo=0) if "seed" in top else 1
    duration = chk.duration(top["duration"], "duration") if "duration" in top else BAD
    if "sample_interval" in top:
        sample = chk.duration(top["sample_interval"], "sample_interval")
    else:
        sample = BAD if duration is BAD else max(1, duration // 100)
    tick = chk.duration(top["tick_interval"], "tick_interval") if "tick_interval" in top else NS_PER_S

    machine = _machine(chk, top["machine"]) if "machine" in top else BAD

    trace = None
    if replays:             # events from a recorded trace instead of generated streams
        from slabpolicy.traces.source import check_trace_workload
        trace, duration, sample, machine = check_trace_workload(chk, top, duration, sample, machine)

    caches: list[Any] = []
    cache_names: dict[str, int] = {}
    if "caches" in top and not replays:
        items = chk.sequence(top["caches"], "caches")
        if items is None:
            caches.append(BAD)
        elif not items:
            chk.add(top["caches"], "caches", "must list at least one cache")
            caches.append(BAD)
        else:
            for i, item in enumerate(items):
                caches.append(_cache(chk, item, f"caches[{i}]", cache_names))

    cache_creation = "lazy"
    if "memcg" in top:
        memcg = chk.mapping(top["memcg"], "memcg", ("cache_creation",))
        if memcg is None:
            cache_creation = BAD
        elif "cache_creation" in memcg:
            cache_creation = chk.choice(memcg["cache_creation"], "memcg.cache_creation",
                                        CACHE_CREATION_MODES)

    groups: list[Any] = []
    if "cgroups" in top and not replays:
        items = chk.sequence(top["cgroups"], "cgroups")
        if items is None:
            groups.append(BAD)
        elif not items:
            chk.add(top["cgroups"], "cgroups", "must list at least one cgroup group")
            groups.append(BAD)
        else:
            all_names = _item_names(items)
            seen: dict[str, int] = {}
            known_caches = _known_caches(top.get("caches"))
            for i, item in enumerate(items):
                groups.append(_group(chk, item, f"cgroups[{i}]", seen, all_names, known_caches,
                                     None if machine is BAD else machine.cpus))

    reclaim = _reclaim(chk, top["reclaim"]) if "reclaim" in top else ReclaimOptions()
    policies = _policies(chk, top["policies"]) if "policies" in top else (
        PolicyChoice(DEFAULT_POLICY, DEFAULT_POLICY, {}, 0),)

    plugins: list[Any] = []
    if "plugins" in top:
        items = chk.sequence(top["plugins"], "plugins")
        if items is None:
            plugins.append(BAD)
        else:
            for i, item in enumerate(items):
                p = chk.string(item, f"plugins[{i}]")
                if p is not BAD:
                    base = os.getcwd() if chk.is_override(item) else chk.base_dir
                    p = os.path.normpath(os.path.join(base, os.path.expanduser(p)))
                plugins.append(p)

    costs = default_costs()
    if "costs" in top:
        fields = chk.mapping(top["costs"], "costs", tuple(DEFAULT_STEPS), what="cost step")
        if fields is not None:
            for step, node in fields.items():
                ns = chk.duration(node, f"costs.{step}", positive=False)
                if ns is not BAD:
                    costs[step] = ns

    sweep = _sweep(chk, top["sweep"]) if "sweep" in top else ()

    if chk.problems:
        return None
    _check_geometry(chk, machine, caches)
    if chk.problems:
        return None
    if trace is not None:
        caches = [CacheKind(c.name, c.object_size, c.slot_size, False) for c in trace.caches]
    return Workload(
        name=name, description=description, path=path_text, sha256=sha, seed=seed,
        duration_ns=duration, sample_interval_ns=sample, tick_interval_ns=tick,
        machine=machine, caches=tuple(caches), cache_creation=cache_creation,
        groups=tuple(groups), policies=tuple(policies), plugins=tuple(plugins),
        costs=costs, lines=dict(chk.lines), reclaim=reclaim, sweep=sweep, trace=trace,
    )


def _check_geometry(chk: _Checker, machine: Machine, caches: list[CacheKind]) -> None:
    """Each cache must have a slab layout on this machine, as kmem_cache_create()
    needs (calculate_order() in mm/slub.c fails for a slot too big for
    MAX_PAGE_ORDER, or a page holding over MAX_OBJS_PER_PAGE slots)."""
    for i, cache in enumerate(caches):
        try:
            geometry(cache.slot_size, nr_cpus=machine.cpus, page_size=machine.page_size,
                     max_order=machine.slub_max_order, min_objects=machine.slub_min_objects,
                     min_order=machine.slub_min_order, era=machine.slub)
        except ValueError as exc:
            path = f"caches[{i}].slot_size"
            if path not in chk.lines:
                path = f"caches[{i}].object_size"
            line = chk.lines.get(path, 0)
            chk.problems.append(Problem(chk.file if line else OVERRIDE_FILE, line, path,
                                        f"SLUB cannot lay out this cache on the machine: {exc}"))


def _machine(chk: _Checker, node: Node) -> Any:
    f = chk.mapping(node, "machine", _MACHINE, ("cpus",))
    if f is None:
        return BAD
    cpus = chk.integer(f["cpus"], "machine.cpus", lo=1, hi=limits.MAX_CPUS) if "cpus" in f else BAD
    nodes = chk.integer(f["nodes"], "machine.nodes", lo=1) if "nodes" in f else 1
    if nodes is not BAD and cpus is not BAD and nodes > cpus:
        chk.add(f["nodes"], "machine.nodes", f"must be at most cpus ({cpus}), got {nodes}")
        nodes = BAD
    page_size = 4096
    if "page_size" in f:
        page_size = chk.size(f["page_size"], "machine.page_size")
        if page_size is not BAD and (page_size < 1024 or page_size & (page_size - 1)):
            chk.add(f["page_size"], "machine.page_size",
                    f"must be a power of two of at least 1KiB, got {format_size(page_size)}")
            page_size = BAD
        elif page_size is not BAD and page_size > limits.MAX_PAGE_SIZE:
            chk.add(f["page_size"], "machine.page_size",
                    f"must be at most {format_size(limits.MAX_PAGE_SIZE)} (the largest Linux "
                    f"page size), got {format_size(page_size)}")
            page_size = BAD
    max_order = chk.integer(f["slub_max_order"], "machine.slub_max_order", 0, 10) \
        if "slub_max_order" in f else 3
    min_objects = chk.integer(f["slub_min_objects"], "machine.slub_min_objects", lo=0) \
        if "slub_min_objects" in f else 0
    min_order = 0
    if "slub_min_order" in f:
        min_order = chk.integer(f["slub_min_order"], "machine.slub_min_order", 0, 10)
        if min_order is not BAD and max_order is not BAD and min_order > max_order:
            chk.add(f["slub_min_order"], "machine.slub_min_order",
                    f"must be at most slub_max_order ({max_order}), got {min_order}")
            min_order = BAD
    memory = None
    unlimited = "memory" in f and isinstance(f["memory"], ScalarNode) \
        and f["memory"].value == "unlimited"
    if "memory" in f and not unlimited:
        memory = chk.size(f["memory"], "machine.memory")
        if memory is not BAD and page_size is not BAD and memory < page_size:
            chk.add(f["memory"], "machine.memory",
                    f"must be at least one page ({format_size(page_size)}), got {format_size(memory)}")
            memory = BAD
    era = _slub_era(chk, f["slub"]) if "slub" in f else DEFAULT_ERA
    ratio = chk.integer(f["remote_node_defrag_ratio"], "machine.remote_node_defrag_ratio",
                        0, REMOTE_NODE_DEFRAG_RATIO) \
        if "remote_node_defrag_ratio" in f else REMOTE_NODE_DEFRAG_RATIO
    values = (cpus, nodes, page_size, max_order, min_objects, min_order, memory, era, ratio)
    if any(v is BAD for v in values):
        return BAD
    return Machine(*values)


def _slub_era(chk: _Checker, node: Node) -> Any:
    """``machine.slub``: "3.4" or "6.x".  An unquoted 3.4 is a YAML float; its text is
    taken as written."""
    if not isinstance(node, ScalarNode):
        return chk.choice(node, "machine.slub", SLUB_ERAS, "SLUB era")
    if node.value not in SLUB_ERAS:
        chk.add(node, "machine.slub", _unknown("SLUB era", node.value, SLUB_ERAS))
        return BAD
    return node.value


def _cache(chk: _Checker, node: Node, path: str, names: dict[str, int]) -> Any:
    f = chk.mapping(node, path, _CACHE, ("name", "object_size"))
    if f is None:
        return BAD
    name = chk.string(f["name"], f"{path}.name") if "name" in f else BAD
    if name is not BAD:
        if name in names:
            chk.add(f["name"], f"{path}.name",
                    f"duplicate cache name {_quote(name)} (first on line {names[name]})"
                    if names[name] else f"duplicate cache name {_quote(name)}")
            name = BAD
        else:
            names[name] = chk.line(f["name"])
    object_size = BAD
    if "object_size" in f:
        object_size = chk.size(f["object_size"], f"{path}.object_size")
        if object_size is not BAD and object_size < 8:
            chk.add(f["object_size"], f"{path}.object_size",
                    f"must be at least 8 bytes, got {object_size}")
            object_size = BAD
    if "slot_size" in f:
        slot_size = chk.size(f["slot_size"], f"{path}.slot_size")
        if slot_size is not BAD and object_size is not BAD and slot_size < object_size:
            chk.add(f["slot_size"], f"{path}.slot_size",
                    f"must be at least object_size ({object_size}), got {slot_size}")
            slot_size = BAD
    else:
        slot_size = BAD if object_size is BAD else (object_size + 7) // 8 * 8
    store_user = chk.boolean(f["store_user"], f"{path}.store_user") if "store_user" in f else False
    rcu = chk.choice(f["rcu"], f"{path}.rcu", RCU_MODES, "rcu mode") if "rcu" in f else "none"
    values = (name, object_size, slot_size, store_user, rcu)
    if any(v is BAD for v in values):
        return BAD
    return CacheKind(*values)


def _item_names(items: list[Node]) -> dict[str, int]:
    """name -> index of the first item with that (readable, string) name."""
    out: dict[str, int] = {}
    for i, item in enumerate(items):
        if isinstance(item, MappingNode):
            for k, v in item.value:
                if isinstance(k, ScalarNode) and k.value == "name" and isinstance(v, ScalarNode) \
                        and v.tag == _STR_TAG:
                    out.setdefault(v.value, i)
    return out


def _known_caches(node: Node | None) -> dict[str, int] | None:
    """The cache names streams may use, or None when some cache has no readable
    name (then an 'unknown cache' error could be a false alarm)."""
    if not isinstance(node, SequenceNode) or not node.value:
        return None
    names = _item_names(node.value)
    named = sum(1 for item in node.value if isinstance(item, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "name" and isinstance(v, ScalarNode)
        and v.tag == _STR_TAG for k, v in item.value))
    return names if named == len(node.value) else None


def _group(chk: _Checker, node: Node, path: str, seen: dict[str, int],
           all_names: dict[str, int], caches: dict[str, int] | None,
           ncpus: int | None) -> Any:
    f = chk.mapping(node, path, _GROUP, ("name", "count"))
    if f is None:
        return BAD
    name = chk.string(f["name"], f"{path}.name") if "name" in f else BAD
    if name == ROOT_GROUP:
        _root_group_rules(chk, f, path)
    if name is not BAD:
        if name in seen:
            chk.add(f["name"], f"{path}.name",
                    f"duplicate group name {_quote(name)} (first on line {seen[name]})"
                    if seen[name] else f"duplicate group name {_quote(name)}")
            name = BAD
    parent = ROOT_GROUP
    if "parent" in f:
        ppath = f"{path}.parent"
        parent = chk.string(f["parent"], ppath)
        if parent is not BAD and parent != ROOT_GROUP and parent not in seen:
            if parent == name:
                chk.add(f["parent"], ppath, "a group cannot be its own parent")
            elif parent in all_names:
                chk.add(f["parent"], ppath,
                        f"group {_quote(parent)} is defined later (cgroups[{all_names[parent]}]); "
                        "a parent must come before its children")
            else:
                earlier = [ROOT_GROUP] + list(seen)
                chk.add(f["parent"], ppath,
                        _unknown("parent", parent, earlier, "expected 'root' or an earlier group"))
            parent = BAD
    if name is not BAD:
        seen[name] = chk.line(f["name"])
    count = chk.integer(f["count"], f"{path}.count", lo=0) if "count" in f else BAD
    arrival = _arrival(chk, f["arrival"], f"{path}.arrival") if "arrival" in f else \
        Arrival("at_start", None, None, 0)
    lifetime = chk.distribution(f["lifetime"], f"{path}.lifetime") if "lifetime" in f else Forever()
    limits = _limits(chk, f["memory"], f"{path}.memory") if "memory" in f else (None, None)
    streams: list[Any] = []
    if "streams" in f:
        items = chk.sequence(f["streams"], f"{path}.streams")
        if items is None:
            streams.append(BAD)
        else:
            for i, item in enumerate(items):
                streams.append(_stream(chk, item, f"{path}.streams[{i}]", caches))
    default_cpus = ALL_CPUS if name == ROOT_GROUP else DEFAULT_GROUP_CPUS
    cpus = _cpus(chk, f["cpus"], f"{path}.cpus", ncpus) if "cpus" in f else default_cpus
    migration = 0.0
    if "migration" in f and not (isinstance(f["migration"], ScalarNode)
                                 and f["migration"].value in ("0", "0/s")):
        migration = chk.rate(f["migration"], f"{path}.migration")
    values = (name, parent, count, arrival, lifetime, cpus, migration, limits)
    if any(v is BAD for v in values) or any(s is BAD for s in streams):
        return BAD
    return CgroupGroup(name, parent, count, arrival, lifetime, tuple(streams), cpus, migration,
                       *limits)


def _limits(chk: _Checker, node: Node, path: str) -> Any:
    """memory.high and memory.max in bytes; v1's limit_in_bytes is max."""
    f = chk.mapping(node, path, _LIMITS)
    if f is None:
        return BAD
    if "max" in f and "limit_in_bytes" in f:
        chk.add(f["limit_in_bytes"], f"{path}.limit_in_bytes",
                "limit_in_bytes is cgroup v1's name for max; give one of them")
        return BAD
    high = chk.size(f["high"], f"{path}.high") if "high" in f else None
    key = "max" if "max" in f else "limit_in_bytes"
    max_ = chk.size(f[key], f"{path}.{key}") if key in f else None
    if BAD in (high, max_):
        return BAD
    return high, max_


def _reclaim(chk: _Checker, node: Node) -> Any:
    f = chk.mapping(node, "reclaim", _RECLAIM)
    if f is None:
        return BAD
    pressure = chk.integer(f["vfs_cache_pressure"], "reclaim.vfs_cache_pressure", lo=0) \
        if "vfs_cache_pressure" in f else 100
    small = chk.boolean(f["small_cache_pressure"], "reclaim.small_cache_pressure") \
        if "small_cache_pressure" in f else False
    aware = chk.boolean(f["memcg_aware_lru"], "reclaim.memcg_aware_lru") \
        if "memcg_aware_lru" in f else True
    if BAD in (pressure, small, aware):
        return BAD
    return ReclaimOptions(pressure, small, aware)


def _root_group_rules(chk: _Checker, f: dict[str, Node], path: str) -> None:
    """A group named 'root' stands for the root cgroup's own tasks: one cgroup that
    is always there, so no parent, arrival, lifetime or memory limits, and a count of 1."""
    for key in ("parent", "arrival", "lifetime", "memory"):
        if key in f:
            chk.add(f[key], f"{path}.{key}",
                    f"the {_quote(ROOT_GROUP)} group is the root cgroup's own tasks: "
                    f"it has no {key}")
    if "count" in f and not (isinstance(f["count"], ScalarNode) and f["count"].value == "1"):
        chk.add(f["count"], f"{path}.count",
                f"the {_quote(ROOT_GROUP)} group is one cgroup: count must be 1")


def _cpus(chk: _Checker, node: Node, path: str, ncpus: int | None) -> Any:
    """``cpus:``: a count of cpus (1..machine.cpus), a list of cpu numbers, or all."""
    if isinstance(node, ScalarNode) and node.value == ALL_CPUS:
        return ALL_CPUS
    if isinstance(node, SequenceNode):
        cpus = [chk.integer(item, f"{path}[{i}]", lo=0,
                            hi=None if ncpus is None else ncpus - 1)
                for i, item in enumerate(node.value)]
        if not cpus:
            chk.add(node, path, "must list at least one cpu")
            return BAD
        if BAD in cpus:
            return BAD
        if len(set(cpus)) != len(cpus):
            chk.add(node, path, "a cpu is listed twice")
            return BAD
        return tuple(cpus)
    return chk.integer(node, path, lo=1, hi=limits.MAX_CPUS if ncpus is None else ncpus)


def _arrival(chk: _Checker, node: Node, path: str) -> Any:
    f = chk.mapping(node, path, _ARRIVAL, ("process",))
    if f is None:
        return BAD
    process = chk.choice(f["process"], f"{path}.process", ARRIVAL_PROCESSES, "arrival process") \
        if "process" in f else BAD
    start = chk.duration(f["start"], f"{path}.start", positive=False) if "start" in f else 0
    rate = interval = None
    if process is BAD:
        return BAD
    needs = {"poisson": "rate", "fixed": "interval", "at_start": None}[process]
    for param in ("rate", "interval"):
        if param in f and param != needs:
            users = [p for p, n in (("poisson", "rate"), ("fixed", "interval")) if n == param]
            chk.add(f[param], f"{path}.{param}",
                    f"only used with process {users[0]}, not {process}")
            return BAD
    if needs is not None and needs not in f:
        chk.add(node, f"{path}.{needs}", f"missing required field for process {process}")
        return BAD
    if needs == "rate":
        rate = chk.rate(f["rate"], f"{path}.rate")
    elif needs == "interval":
        interval = chk.duration(f["interval"], f"{path}.interval")
    if BAD in (rate, interval, start):
        return BAD
    return Arrival(process, rate, interval, start)


def _stream(chk: _Checker, node: Node, path: str, caches: dict[str, int] | None) -> Any:
    f = chk.mapping(node, path, _STREAM, ("cache", "rate", "lifetime"))
    if f is None:
        return BAD
    cache = chk.string(f["cache"], f"{path}.cache") if "cache" in f else BAD
    if cache is not BAD and caches is not None and cache not in caches:
        chk.add(f["cache"], f"{path}.cache", _unknown("cache", cache, list(caches), "known caches"))
        cache = BAD
    rate = chk.rate(f["rate"], f"{path}.rate") if "rate" in f else BAD
    lifetime = chk.distribution(f["lifetime"], f"{path}.lifetime") if "lifetime" in f else BAD
    remote = chk.number(f["remote_free"], f"{path}.remote_free", 0.0, 1.0) if "remote_free" in f else 0.0
    unused = chk.distribution(f["unused_lifetime"], f"{path}.unused_lifetime") \
        if "unused_lifetime" in f else None
    values = (cache, rate, lifetime, remote, unused)
    if any(v is BAD for v in values):
        return BAD
    return Stream(*values)


def _policies(chk: _Checker, node: Node) -> Any:
    items = chk.sequence(node, "policies")
    if items is None:
        return [BAD]
    if not items:
        chk.add(node, "policies", f"must list at least one policy (e.g. [{DEFAULT_POLICY}])")
        return [BAD]
    out: list[Any] = []
    labels: dict[str, tuple[str, int]] = {}
    for i, item in enumerate(items):
        path = f"policies[{i}]"
        label_node, label_path = item, path
        if isinstance(item, ScalarNode):
            name = chk.string(item, path)
            label, options = name, {}
        elif isinstance(item, MappingNode):
            f = chk.mapping(item, path, _POLICY, ("name",))
            if f is None:
                out.append(BAD)
                continue
            name = chk.string(f["name"], f"{path}.name") if "name" in f else BAD
            label = name
            if "label" in f:
                label_node, label_path = f["label"], f"{path}.label"
                label = chk.string(f["label"], label_path)
            options = {}
            if "options" in f:
                opts = f["options"]
                if isinstance(opts, ScalarNode) and opts.tag == _NULL_TAG:
                    options = {}
                elif not isinstance(opts, MappingNode):
                    chk.add(opts, f"{path}.options", f"expected a mapping, got {_got(opts)}")
                    options = BAD
                else:
                    options = chk.free_form(opts, f"{path}.options")
        else:
            chk.add(item, path, f"expected a policy name or a mapping with name, label and options, "
                                f"got {_got(item)}")
            out.append(BAD)
            continue
        if label is not BAD:
            if label in labels:
                first_path, first_line = labels[label]
                where = f"{first_path}, line {first_line}" if first_line else first_path
                chk.add(label_node, label_path,
                        f"duplicate label {_quote(label)} (also {where}); give each a distinct label")
                label = BAD
            else:
                labels[label] = (path, chk.line(item))
        if BAD in (name, label) or options is BAD:
            out.append(BAD)
            continue
        out.append(PolicyChoice(name, label, options, chk.line(item)))
    return out


def _sweep(chk: _Checker, node: Node) -> tuple[SweepAxis, ...]:
    """The ``sweep:`` section: ``--set`` paths, each with a non-empty list of distinct
    values.  Whether a value suits its field is checked by ``slabpolicy sweep``,
    which loads the workload at every point of the grid before running any."""
    if not chk.tag_ok(node, "sweep"):
        return ()
    if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
        return ()
    if not isinstance(node, MappingNode):
        chk.add(node, "sweep", f"expected a mapping of --set paths to lists of values, "
                               f"got {_got(node)}")
        return ()
    axes: list[SweepAxis] = []
    seen: dict[str, int] = {}
    for key, value in node.value:
        path = set_path(str(key.value)) if isinstance(key, ScalarNode) else None
        if path is None:
            chk.add(key, "sweep", f"expected a --set path such as machine.cpus or "
                                  f"cgroups[0].arrival.rate, got {_got(key)}")
            continue
        where = f"sweep.{path}"
        chk.record(where, key, value)
        if path in seen:
            chk.add(key, where, f"duplicate sweep parameter (first on line {seen[path]})")
            continue
        seen[path] = chk.line(key)
        items = chk.sequence(value, where)
        if items is None:
            continue
        if not items:
            chk.add(value, where, "must list at least one value")
            continue
        texts = [yaml_text(item) for item in items]
        for i, text in enumerate(texts):
            if text in texts[:i]:
                chk.add(items[i], f"{where}[{i}]",
                        f"duplicate value {text} (also {where}[{texts.index(text)}])")
        axes.append(SweepAxis(path, tuple(texts), chk.file, chk.line(key),
                              tuple(chk.line(item) for item in items)))
    return tuple(axes)


def yaml_text(node: Node) -> str:
    """A YAML node written back as one line of flow YAML (what ``--set`` takes)."""
    node = copy.deepcopy(node)
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, MappingNode):
            n.flow_style = True
            for k, v in n.value:
                stack.extend((k, v))
        elif isinstance(n, SequenceNode):
            n.flow_style = True
            stack.extend(n.value)
    text = yaml.serialize(node, Dumper=yaml.SafeDumper, width=1 << 30)
    return text.removesuffix("\n...\n").strip()


def _sort_problems(problems: list[Problem], file: str) -> list[Problem]:
    seen: set[Problem] = set()
    unique = [p for p in problems if not (p in seen or seen.add(p))]
    return sorted(unique, key=lambda p: (p.file != file, p.line))


def load_workload(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Workload:
    """Read, override and validate a workload file; raise WorkloadError with every problem.

    ``path`` may also name a bundled experiment (:func:`slabpolicy.workloads.bundled.resolve`).
    """
    path_text = bundled.resolve(path)
    overrides = [str(o) for o in overrides]
    data = read_workload_bytes(path_text)
    digest = hashlib.sha256(data)
    if overrides:
        digest.update("".join("\n--set " + o for o in overrides).encode("utf-8"))
    sha = digest.hexdigest()

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise WorkloadError([Problem(path_text, line, "", "not UTF-8 text")]) from None

    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = f"not valid YAML: {e.problem or e.context or 'cannot parse'}"
        if e.context and e.context_mark is not None and e.problem:
            message += f" ({e.context} on line {e.context_mark.line + 1})"
        raise WorkloadError([Problem(path_text, mark.line + 1 if mark else 0, "", message)]) from None
    except yaml.reader.ReaderError as e:
        line = text[:e.position].count("\n") + 1
        char = e.character if isinstance(e.character, str) else chr(e.character)
        raise WorkloadError([Problem(path_text, line, "",
                                     f"not valid YAML: the character {char!r} is not allowed")]) from None
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WorkloadError([Problem(path_text, 0, "", f"not valid YAML: {first}")]) from None
    except RecursionError:
        raise WorkloadError([Problem(path_text, 0, "", "not valid YAML: nested too deeply")]) from None

    if root is None:
        raise WorkloadError([Problem(path_text, 0, "",
                                     "the file is empty; a workload needs at least "
                                     + ", ".join(_TOP_REQUIRED))])

    check_node_count(root, path_text)
    chk = _Checker(path_text, os.path.dirname(os.path.abspath(path_text)))
    if not isinstance(root, MappingNode):
        chk.add(root, "", f"expected a mapping of workload fields at the top level, got {_got(root)}")
        raise WorkloadError(chk.problems)

    for text_ in overrides:
        _apply_override(chk, root, text_)
    if overrides:
        check_node_count(root, OVERRIDE_FILE)
    try:
        workload = _validate(chk, root, path_text, sha)
    except RecursionError:
        chk.problems.append(Problem(path_text, 0, "", "nested too deeply"))
        workload = None
    if chk.problems or workload is None:
        raise WorkloadError(_sort_problems(chk.problems, path_text))
    return workload


def parse_distribution(value: Any, path: str = "lifetime", problems: list[Problem] | None = None,
                       file: str = "<distribution>") -> Distribution | None:
    """Build a Distribution from a plain value (``"5ms"``, ``"forever"`` or a dict as in a file).

    Problems are appended to ``problems`` (with line 0) and None is returned; if
    ``problems`` is None a WorkloadError is raised instead.
    """
    try:
        node = yaml.compose(yaml.safe_dump(value), Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        found = [Problem(file, 0, path, f"cannot read this value: {e}")]
    else:
        chk = _Checker(file, os.getcwd())
        chk.line = lambda n: 0  # type: ignore[method-assign]  # no file, no lines
        dist = chk.distribution(node, path)
        found = chk.problems
        if not found and dist is not BAD:
            return dist
    if problems is None:
        raise WorkloadError(found)
    problems.extend(found)
    return None
