"""What a trace holds: allocations and frees paired by pointer, per cache.

Pairing follows the one rule the kernel guarantees: an address is live at most
once.  A free pairs with the latest allocation of the same pointer (hashed
pointers are stable within one boot, so they pair as raw ones do).  A free of a
pointer with no live allocation in the trace is *unpaired* (allocated before
the trace started, or by an allocation the trace does not show); an
allocation still live at the end is *never freed*; an allocation of a pointer
that is still live means its free was not traced (``kmem_cache_free_bulk()``,
say): the old allocation is taken as freed and counted in
``reallocated_without_free``.  ``kfree(NULL)`` is counted apart, and so are
large kmallocs (above KMALLOC_MAX_CACHE_SIZE), which never reach a slab.
"""
from __future__ import annotations

from slabpolicy.traces.parser import ALLOC, ATTACH, FORK, FREE, LOST, MARK, MKDIR, OTHER, RMDIR
from slabpolicy.traces.tracefile import TraceFile

_LARGE = "(large kmalloc)"


def _cache_row() -> dict[str, int]:
    return {"allocs": 0, "frees": 0, "paired": 0, "unpaired_frees": 0, "never_freed": 0,
            "bytes_alloc": 0}


def trace_stats(trace: TraceFile) -> dict:
    """Read the whole trace once and count; the result is JSON-ready."""
    live: dict[int, str] = {}
    caches: dict[str, dict[str, int]] = {}
    counts = dict.fromkeys(("allocs", "frees", "paired", "unpaired_frees", "never_freed",
                            "reallocated_without_free", "null_frees", "failed_allocs",
                            "irq_frees", "irq_allocs", "lost_events", "other_events",
                            "markers", "forks"), 0)
    large = {"allocs": 0, "frees": 0}
    cgroups = {"mkdir": 0, "rmdir": 0, "attach": 0}
    cpus: set[int] = set()
    first_t = last_t = None
    for _, ev in trace.events():
        kind = ev.kind
        if kind == OTHER:
            counts["other_events"] += 1
            continue
        if kind == LOST:
            counts["lost_events"] += ev.count
            continue
        if first_t is None:
            first_t = ev.t_ns
        last_t = ev.t_ns
        if ev.pid >= 0:
            cpus.add(ev.cpu)
        if kind == ALLOC:
            if not ev.ptr:
                counts["failed_allocs"] += 1
                continue
            old = live.get(ev.ptr)
            if old is not None and old != _LARGE:
                counts["reallocated_without_free"] += 1
            if ev.cache is None:
                large["allocs"] += 1
                live[ev.ptr] = _LARGE
                continue
            row = caches.get(ev.cache) or caches.setdefault(ev.cache, _cache_row())
            row["allocs"] += 1
            row["bytes_alloc"] += ev.size
            counts["allocs"] += 1
            counts["irq_allocs"] += ev.irq
            live[ev.ptr] = ev.cache
        elif kind == FREE:
            if not ev.ptr:
                counts["null_frees"] += 1
                continue
            cache = live.pop(ev.ptr, None)
            if cache == _LARGE:
                large["frees"] += 1
                continue
            counts["frees"] += 1
            counts["irq_frees"] += ev.irq
            if cache is None:
                counts["unpaired_frees"] += 1
                name = ev.cache or "(unknown: kfree)"
                row = caches.get(name) or caches.setdefault(name, _cache_row())
                row["unpaired_frees"] += 1
                row["frees"] += 1
            else:
                counts["paired"] += 1
                row = caches[cache]
                row["paired"] += 1
                row["frees"] += 1
        elif kind == MKDIR:
            cgroups["mkdir"] += 1
        elif kind == RMDIR:
            cgroups["rmdir"] += 1
        elif kind == ATTACH:
            cgroups["attach"] += 1
        elif kind == FORK:
            counts["forks"] += 1
        elif kind == MARK:
            counts["markers"] += 1
    for cache in live.values():
        if cache != _LARGE:
            caches[cache]["never_freed"] += 1
            counts["never_freed"] += 1
    return {
        "file": trace.path,
        "recorded": trace.meta is not None,
        **counts,
        "large_kmalloc": large,
        "cgroup_events": cgroups,
        "unparsed_lines": {"count": trace.unparsed, "first": trace.first_unparsed},
        "timestamps": trace.timestamps,
        "time_span_ns": (last_t - first_t) if first_t is not None else 0,
        "cpus_seen": sorted(cpus),
        "caches": dict(sorted(caches.items())),
    }
