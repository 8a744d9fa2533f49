"""A trace as a workload source: ``trace:`` in a workload file.

::

    trace:
      file: traces/tmpfs-churn.trace.gz   # required; relative to the workload file
      tasks: tasks.tsv                    # [none] PID<TAB>/cgroup lines (plain traces)
      caches: [dentry, shmem_inode_cache] # [all] replay only these caches
      cgroups: [/churn]                   # [all] only tasks in these cgroup subtrees
      start: 0s                           # [0s] window, from the first event
      end: 2s                             # [the last event]
      accounted_only: false               # [false] only allocations accounted to a memcg
      hierarchy: 4                        # [the recorded memory hierarchy; any] cgroup root id

A workload with ``trace:`` takes its caches, its cgroups and their life, its
allocations and frees from the trace; it names no ``caches`` or ``cgroups``,
and its ``machine`` and ``duration`` default to the recorded cpus and page
size and to the window.  Caches take their geometry from the recorded
``/sys/kernel/slab`` attributes (``slab_size`` is the slot, as ``s->size``);
in a plain ftrace trace from ``bytes_alloc``.  Finding the caches of a plain
trace reads it once when the workload is loaded (a recorded trace lists them).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from slabpolicy.traces.parser import ALLOC
from slabpolicy.traces.tracefile import TraceError, TraceFile, read_task_map

_FIELDS = ("file", "tasks", "caches", "cgroups", "start", "end", "accounted_only", "hierarchy")


@dataclass(frozen=True)
class TraceCache:
    """A cache the trace uses, with the sizes its geometry comes from."""

    name: str
    object_size: int
    slot_size: int


@dataclass(frozen=True)
class TraceSource:
    """What a workload replays: the file, its filters and what a first look found."""

    path: str
    tasks: dict[int, str]
    caches: tuple[TraceCache, ...]
    cgroups: tuple[str, ...]          # subtree filter ("" entries never: '/' means all)
    start_ns: int
    end_ns: int | None
    accounted_only: bool
    hierarchy: int | None
    cpus: int
    page_size: int
    first_ns: int                     # the first event's timestamp (time 0 of the replay)
    span_ns: int                      # last event - first event
    meta: dict = field(default_factory=dict, compare=False, repr=False)

    def open(self) -> TraceFile:
        return TraceFile(self.path)


def _slab_attrs(meta: dict, name: str) -> dict | None:
    return (meta.get("slab") or {}).get(name)


def _look(trace: TraceFile, wanted: set[str] | None) -> tuple[dict[str, TraceCache], int, int, int]:
    """One read of a plain trace: its caches (from bytes_alloc), cpus, first and last time."""
    caches: dict[str, TraceCache] = {}
    first = last = None
    cpus = 0
    for _, ev in trace.events():
        if ev.pid < 0:
            continue
        if first is None:
            first = ev.t_ns
        last = ev.t_ns
        if ev.cpu >= cpus:
            cpus = ev.cpu + 1
        if ev.kind == ALLOC and ev.cache is not None and ev.cache not in caches \
                and (wanted is None or ev.cache in wanted):
            caches[ev.cache] = TraceCache(ev.cache, ev.size, ev.size)
    return caches, max(cpus, 1), first or 0, (last or 0) - (first or 0)


def _recorded(trace: TraceFile, wanted: set[str] | None) -> tuple[dict[str, TraceCache], int, int, int]:
    """The same facts from a recorded trace's metadata."""
    meta = trace.meta
    caches: dict[str, TraceCache] = {}
    for name, sizes in sorted(meta["traced_caches"].items()):
        if wanted is not None and name not in wanted:
            continue
        attrs = _slab_attrs(meta, name) or {}
        slot = attrs.get("slab_size", sizes["bytes_alloc"])
        caches[name] = TraceCache(name, min(attrs.get("object_size", slot), slot), slot)
    return caches, meta["cpus"], meta["first_ns"], meta["last_ns"] - meta["first_ns"]


def build_source(path: str, tasks_path: str | None, caches: list[str] | None,
                 cgroups: list[str] | None, start_ns: int, end_ns: int | None,
                 accounted_only: bool, hierarchy: int | None) -> TraceSource:
    """Open the trace, take its first look, and return the source (TraceError if unusable)."""
    trace = TraceFile(path)
    wanted = set(caches) if caches else None
    if trace.meta is not None and "traced_caches" in trace.meta:
        found, cpus, first, span = _recorded(trace, wanted)
    else:
        found, cpus, first, span = _look(trace, wanted)
    if wanted is not None and wanted - set(found):
        missing = ", ".join(sorted(wanted - set(found)))
        raise TraceError(f"{path}: no allocation from {missing} in the trace")
    if not found:
        raise TraceError(f"{path}: no slab allocation in the trace")
    meta = trace.meta or {}
    if hierarchy is None:
        hierarchy = meta.get("memory_hierarchy")
    tasks = dict(meta.get("tasks_at_start", {}))
    tasks = {int(pid): cg for pid, cg in tasks.items()}
    if tasks_path is not None:
        tasks.update(read_task_map(tasks_path))
    return TraceSource(path=path, tasks=tasks, caches=tuple(found.values()),
                       cgroups=tuple(c.rstrip("/") or "/" for c in cgroups or ()),
                       start_ns=start_ns, end_ns=end_ns, accounted_only=accounted_only,
                       hierarchy=hierarchy, cpus=cpus, page_size=meta.get("page_size", 4096),
                       first_ns=first, span_ns=span, meta=meta)


def check_trace_field(chk, node, base_dir: str):
    """Validate a workload's ``trace:`` (a path or a mapping) with the workload checker
    ``chk``; return a TraceSource or None after recording the problems."""
    from yaml.nodes import ScalarNode   # the node types the workload checker walks

    if isinstance(node, ScalarNode):
        f = {"file": node}
        chk.record("trace.file", node, node)
    else:
        f = chk.mapping(node, "trace", _FIELDS, ("file",))
        if f is None:
            return None
    ok = True

    def path_of(key: str):
        value = chk.string(f[key], f"trace.{key}")
        if value is None or not isinstance(value, str):
            return None
        return os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))

    file = path_of("file") if "file" in f else None
    tasks = path_of("tasks") if "tasks" in f else None
    lists = {}
    for key in ("caches", "cgroups"):
        lists[key] = None
        if key in f:
            items = chk.sequence(f[key], f"trace.{key}")
            if items is None:
                ok = False
                continue
            lists[key] = [chk.string(item, f"trace.{key}[{i}]") for i, item in enumerate(items)]
            ok &= all(isinstance(v, str) for v in lists[key])
    start = chk.duration(f["start"], "trace.start", positive=False) if "start" in f else 0
    end = chk.duration(f["end"], "trace.end") if "end" in f else None
    accounted = chk.boolean(f["accounted_only"], "trace.accounted_only") \
        if "accounted_only" in f else False
    hierarchy = chk.integer(f["hierarchy"], "trace.hierarchy", lo=0) if "hierarchy" in f else None
    values = (file, start, end, accounted, hierarchy)
    if not ok or file is None or any(not isinstance(v, (int, str, bool, type(None)))
                                     for v in values):
        return None
    if isinstance(end, int) and isinstance(start, int) and end <= start:
        chk.add(f["end"], "trace.end", f"must be after trace.start ({start} ns), got {end} ns")
        return None
    try:
        return build_source(file, tasks, lists["caches"], lists["cgroups"], start, end,
                            accounted, hierarchy)
    except TraceError as e:
        chk.add(f["file"] if "file" in f else node, "trace", str(e))
        return None


def check_trace_workload(chk, top: dict, duration, sample, machine):
    """The ``trace:`` of a workload, checked with the workload checker ``chk``: the
    source, and the duration, sample interval and machine it implies where the file
    does not set them.  A workload replaying a trace names no caches or cgroups."""
    from slabpolicy.workloads.spec import BAD, Machine

    for key in ("caches", "cgroups"):
        if key in top:
            chk.add(top[key], key, "not used with trace: the trace gives the caches and cgroups")
    source = check_trace_field(chk, top["trace"], chk.base_dir)
    if source is None:
        return None, BAD, BAD, BAD
    if "duration" not in top:
        duration = max(1, (source.end_ns if source.end_ns is not None else source.span_ns)
                       - source.start_ns)
    if "sample_interval" not in top and duration is not BAD:
        sample = max(1, duration // 100)
    if "machine" not in top:
        # recorded on a running kernel: its SLUB is of the 6.x era
        machine = Machine(cpus=source.cpus, nodes=1, page_size=source.page_size,
                          slub_max_order=3, slub_min_objects=0, slub_min_order=0, slub="6.x")
    return source, duration, sample, machine
