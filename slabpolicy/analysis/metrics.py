"""The metric catalogue: every figure of a result document, with its unit and meaning.

A *metric* is a number at a dotted path of a result document
(``memory.slab_pages.mean`` is ``result["memory"]["slab_pages"]["mean"]``).  The
catalogue says, for each, its unit, what it measures, and the values it can
take (``lower``/``upper``: a count is never negative, a utilization is at most
1), which the statistics use so that no interval leaves those bounds.

A segment written ``<name>`` stands for any name of a family:
``locks.<class>.contentions`` covers ``locks.list_lock.contentions`` and every
other lock class.

The catalogue is the single place a new result field is described.  Whoever adds
a figure to the result document (``slabpolicy/runs/runner.py``'s
``build_result``) adds its entry to :func:`core_metrics` here (or, for a whole
new section, a ``_section()`` function called from it); ``tests/test_metrics.py``
runs every bundled policy and fails, naming the path and this function, on a
figure with no entry and on an entry no result has.  A plugin that adds figures
of its own (in ``slabpolicy_run_end``) describes them with the
``slabpolicy_metrics`` hook; :func:`catalogue` merges them in.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator

from slabpolicy.errors import PluginError
from slabpolicy.kernel.engine import MEMORY_FIGURES
from slabpolicy.kernel.histogram import PERCENTILES
from slabpolicy.kernel.locks import LockClass

#: What ``compare`` and ``report`` show when no ``--metric`` is given.
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


@dataclass(frozen=True)
class Metric:
    """One metric (or a family of them, when ``path`` has a ``<name>`` segment).

    ``unit`` is what the number counts (``pages``, ``ns``, ``objects``...; ``1``
    for a pure ratio); ``lower``/``upper`` bound the values it can take
    (``None``: unbounded); ``source`` is ``slabpolicy`` or the plugin that
    declared it; ``deterministic`` is false for a figure that depends on the
    machine (wall time) rather than on workload, policy and seed alone.
    """

    path: str
    unit: str
    description: str
    lower: float | None = 0.0
    upper: float | None = None
    source: str = "slabpolicy"
    deterministic: bool = True

    def matches(self, path: str) -> bool:
        """Whether the concrete dotted ``path`` is this metric (or one of its family)."""
        return _pattern(self.path).fullmatch(path) is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pattern(path: str) -> re.Pattern[str]:
    parts = [r"[^.]+" if p.startswith("<") and p.endswith(">") else re.escape(p)
             for p in path.split(".")]
    return re.compile(r"\.".join(parts))


#: Sections of a result document that are not metrics: who and what ran, the raw
#: histograms and time series behind the metrics, and where it ran.
NOT_METRICS = ("schema", "workload", "policy", "seed", "machine", "latency_hist", "series",
               "provenance")

#: The memory figures sampled every ``sample_interval`` (``slabpolicy/kernel/engine.py``,
#: ``Simulation._sample``): unit, meaning, upper bound.
MEMORY: dict[str, tuple[str, str, float | None]] = {
    "slab_pages": ("pages", "pages held by slabs of every cache (the kernel's NR_SLAB_*), "
                   "live and dead caches alike", None),
    "dead_cache_pages": ("pages", "pages held by slabs of dead caches: caches whose memcg "
                         "went offline and that are not destroyed yet", None),
    "dead_caches": ("caches", "kmem caches of offline memcgs not destroyed yet", None),
    "dying_memcgs": ("memcgs", "memcgs offline but not released (what nr_dying_descendants "
                     "counts): pinned by charged pages or objects", None),
    "live_objects": ("objects", "objects allocated and not yet freed, all caches", None),
    "utilization": ("1", "bytes of live objects (object size, not slot size) divided by the "
                    "bytes of all slab pages: 1 is no waste", 1.0),
}
#: How each memory figure is summarized over the run's samples (runner._figure_summary).
MEMORY_SUMMARIES = {
    "peak": "highest sampled value",
    "mean": "time-weighted mean over the run: each sample holds until the next",
    "final": "value at the end of the run",
}

#: The latency histograms (``slabpolicy/kernel/histogram.py``), by operation.
LATENCY_OPS = {
    "alloc": "kmem_cache_alloc(), fast and slow path",
    "free": "kmem_cache_free(), fast and slow path",
    "offline": "a memcg's offline work, from rmdir to its end (policy hooks, RCU waits)",
    "alloc_fast": "the allocation fast path (cpu freelist)",
    "alloc_slow": "the allocation slow path (__slab_alloc(): partial lists, new slab)",
    "free_fast": "the free fast path (object of the cpu slab)",
    "free_slow": "the free slow path (__slab_free(): other slabs, list_lock)",
}

#: /proc/lock_stat's columns as the result keeps them, per lock class.
LOCK_FIELD_MEANINGS = {
    "acquisitions": ("acquisitions", "times a lock of the class was taken"),
    "contentions": ("contentions", "acquisitions that had to wait for another holder"),
    "wait_ns_total": ("ns", "time spent waiting for locks of the class, summed"),
    "wait_ns_max": ("ns", "longest single wait"),
    "hold_ns_total": ("ns", "time locks of the class were held, summed"),
    "hold_ns_max": ("ns", "longest single hold"),
    "con_bounces": ("contentions", "contentions on a cpu other than the last acquirer's "
                    "(lock_stat con-bounces)"),
    "acq_bounces": ("acquisitions", "acquisitions on a cpu other than the last acquirer's "
                    "(lock_stat acq-bounces: the lock's cache line moved)"),
}

#: SLUB's statistics counters (mm/slub.c, ``enum stat_item`` in
#: include/linux/slub_def.h of 3.x), those the model counts, summed over caches.
SLUB_STATS = {
    "ALLOC_FROM_PARTIAL": "allocation slow path took a slab from the node partial list",
    "ALLOC_REFILL": "allocation slow path refilled the cpu freelist from the cpu slab",
    "ALLOC_SLAB": "allocation slow path had to allocate a new slab (new_slab())",
    "CPU_CHAINED_FREE": "free into a dead cache chained to its parent's (the seed patch)",
    "CPU_PARTIAL_ALLOC": "allocation slow path took a slab from the per-cpu partial list",
    "CPU_PARTIAL_DRAIN": "per-cpu partial list drained to the node (unfreeze_partials())",
    "CPU_PARTIAL_FREE": "a free put a slab on the per-cpu partial list (put_cpu_partial())",
    "CPU_PARTIAL_NODE": "refill of the per-cpu partial list from the node partial list",
    "DEACTIVATE_EMPTY": "deactivate_slab() found the cpu slab empty and freed it",
    "DEACTIVATE_FULL": "deactivate_slab() found the cpu slab full",
    "FREE_ADD_PARTIAL": "a free of a full slab's object put it on the node partial list",
    "FREE_FROZEN": "free into a frozen slab (some cpu's cpu slab or per-cpu partial)",
    "FREE_REMOVE_PARTIAL": "a free emptied a partial slab, which was taken off the list",
    "FREE_SLAB": "a slab was given back to the page allocator (discard_slab())",
    "FREE_SLOWPATH": "free took the slow path (__slab_free())",
    "WARN_EMPTY_ON_FULL_LIST": "the model's warning: an empty slab found on the full list",
}


def _memory() -> Iterator[Metric]:
    for figure in MEMORY_FIGURES:
        unit, meaning, upper = MEMORY[figure]
        for summary, how in MEMORY_SUMMARIES.items():
            yield Metric(f"memory.{figure}.{summary}", unit, f"{meaning}; {how}", upper=upper)


def _latency() -> Iterator[Metric]:
    for op, what in LATENCY_OPS.items():
        yield Metric(f"latency_ns.{op}.count", "operations", f"{what}: operations recorded")
        for name, q in PERCENTILES:
            yield Metric(f"latency_ns.{op}.{name}", "ns",
                         f"{what}: {q:g}th percentile of the simulated latency "
                         f"(bounded histogram, 11 significant bits)")
        yield Metric(f"latency_ns.{op}.max", "ns", f"{what}: longest simulated latency")


def _locks() -> Iterator[Metric]:
    for field in LockClass("").as_dict():
        unit, what = LOCK_FIELD_MEANINGS[field]
        yield Metric(f"locks.<class>.{field}", unit,
                     f"{what} (as /proc/lock_stat); a class no lock of the run belonged to "
                     f"reads 0")


def _run() -> Iterator[Metric]:
    yield Metric("duration_ns", "ns", "simulated time of the run (the workload's duration)")
    yield Metric("wall_seconds", "s", "wall-clock time of the simulation loop: depends on the "
                 "machine, not a result", deterministic=False)
    for key, what in (("alloc", "allocations"), ("free", "frees"),
                      ("alloc_fast", "allocations served by the fast path"),
                      ("alloc_slow", "allocations that took the slow path"),
                      ("free_fast", "frees served by the fast path"),
                      ("free_slow", "frees that took the slow path")):
        yield Metric(f"ops.{key}", "operations", what)


def _accounting() -> Iterator[Metric]:
    yield Metric("accounting.violations", "violations",
                 "distinct accounting problems the checker found (charged pages against "
                 "existing pages, slab counters, lost or doubly freed objects)")
    yield Metric("accounting.drift_pages_max", "pages",
                 "largest gap seen between pages charged to memcgs and pages that exist")
    yield Metric("accounting.first_violation_ns", "ns",
                 "simulated time of the first violation (empty when there was none)")
    yield Metric("accounting.crashes", "violations",
                 "distinct crash-class violations: what a kernel would oops on or corrupt "
                 "memory with (use-after-free, double destroy, dec_slabs_node(NULL), a "
                 "frozen slab on a partial list)")
    yield Metric("crashed.t_ns", "ns",
                 "simulated time of the first crash-class violation (empty when the run "
                 "did not crash); a comparison shows such a run as \"crashed at t\"")


def _memcgs() -> Iterator[Metric]:
    yield Metric("memcgs.created", "memcgs", "memcgs created over the run (the root excluded)")
    yield Metric("memcgs.released", "memcgs", "memcgs released (freed) by the end of the run")
    yield Metric("memcgs.dying", "memcgs", "memcgs offline but not released at the end")
    yield Metric("memcgs.rcu_waits", "waits", "synchronize_rcu() calls policies made")


def _slub_stats() -> Iterator[Metric]:
    for item, what in SLUB_STATS.items():
        yield Metric(f"slub_stats.{item}", "events",
                     f"{what}; summed over every cache, as /sys/kernel/slab/CACHE/{item} "
                     f"with CONFIG_SLUB_STATS (absent from a result when 0)")


def _reclaim() -> Iterator[Metric]:
    """The result's ``reclaim`` (slabpolicy/kernel/reclaim.py ``Reclaim.summary``)."""
    for key, what in (("scanned", "unused objects the shrinkers walked on list_lrus"),
                      ("freed", "unused objects reclaim freed")):
        for state, whose in (("live", "charged to an online memcg"),
                             ("dying", "charged to a dying memcg (they pinned it)"),
                             ("total", "all")):
            yield Metric(f"reclaim.{key}.{state}", "objects", f"{what}: {whose}")
    yield Metric("reclaim.slabs_scanned", "objects",
                 "the sum of the shrinkers' nr_to_scan (vmstat slabs_scanned)")
    yield Metric("reclaim.expired", "objects",
                 "unused objects freed at the end of their unused_lifetime, not by reclaim")
    yield Metric("reclaim.reparented", "objects",
                 "unused objects moved to the parent's list at offline "
                 "(memcg_drain_all_list_lrus())")
    yield Metric("reclaim.lru_items", "objects", "unused objects on list_lrus at the end")
    for kind, what in (("background", "kswapd"), ("direct", "allocations (memory.high, "
                       "memory.max, the min watermark)"), ("total", "both")):
        yield Metric(f"reclaim.pages_reclaimed.{kind}", "pages",
                     f"pages the reclaim of {what} got back while it ran (RCU frees come "
                     f"back later and are not counted)")
        yield Metric(f"reclaim.time_ns.{kind}", "ns", f"simulated time spent in the reclaim "
                     f"of {what}")
    yield Metric("reclaim.background.kswapd_runs", "runs", "kswapd wake-ups (balance_pgdat())")
    yield Metric("reclaim.direct.stalls", "stalls",
                 "direct reclaims an allocation ran before returning")
    yield Metric("reclaim.direct.latency_ns.count", "stalls", "direct reclaim stalls recorded")
    for name, q in PERCENTILES:
        yield Metric(f"reclaim.direct.latency_ns.{name}", "ns",
                     f"{q:g}th percentile of a direct reclaim stall's duration")
    yield Metric("reclaim.direct.latency_ns.max", "ns", "longest direct reclaim stall")
    for event, what in (
            ("watermark_low", "free memory under the low watermark woke kswapd"),
            ("watermark_min", "free memory under the min watermark: direct reclaim"),
            ("watermark_min_failed", "direct reclaim left free memory under the min watermark "
             "(the kernel would fail the allocation or OOM)"),
            ("memcg_high", "a memcg over memory.high reclaimed"),
            ("memcg_max", "a memcg over memory.max reclaimed"),
            ("memcg_max_failed", "a memcg stayed over memory.max after 5 reclaims (the "
             "kernel would fail the charge or OOM-kill)")):
        yield Metric(f"reclaim.events.{event}", "events", what)


def _rcu() -> Iterator[Metric]:
    """The result's ``rcu`` (slabpolicy/kernel/rcu.py ``Rcu.summary``)."""
    for key, unit, what in (
            ("callbacks", "callbacks", "call_rcu() calls (RCU frees, SLAB_TYPESAFE_BY_RCU "
             "slab pages, kfree_rcu() batches)"),
            ("invoked", "callbacks", "callbacks run at the end of their grace period"),
            ("pending", "callbacks", "callbacks still waiting at the end of the run"),
            ("grace_periods", "grace periods", "grace periods started"),
            ("batches", "batches", "rcu_do_batch() runs: one cpu's ready callbacks"),
            ("typesafe_slabs", "slabs", "SLAB_TYPESAFE_BY_RCU slabs whose pages waited for "
             "a grace period"),
            ("typesafe_pages_pending", "pages", "such pages still waiting at the end"),
            ("kfree_rcu.objects", "objects", "objects freed through kfree_rcu()"),
            ("kfree_rcu.batches", "batches", "kfree_rcu() batches drained")):
        yield Metric(f"rcu.{key}", unit, what)
    yield Metric("rcu.batch_size.count", "batches", "batches recorded")
    for name, q in PERCENTILES:
        yield Metric(f"rcu.batch_size.{name}", "callbacks",
                     f"{q:g}th percentile of the callbacks in one batch")
    yield Metric("rcu.batch_size.max", "callbacks", "the largest batch")


def core_metrics() -> list[Metric]:
    """The metrics of every result document slabpolicy itself writes.

    Add a new result field's entry here, in the function of its section.
    """
    return [*_run(), *_memory(), *_latency(), *_locks(), *_accounting(), *_memcgs(),
            *_reclaim(), *_rcu(), *_slub_stats()]


def catalogue(pm=None) -> list[Metric]:
    """The core metrics, then those the plugins of ``pm`` declare (``slabpolicy_metrics``),
    each credited to its plugin's source (``bundled``, an entry point, a file).

    A plugin whose ``slabpolicy_metrics()`` raises, returns something not a
    :class:`Metric`, or declares a path the catalogue already has is a
    :class:`~slabpolicy.errors.PluginError` naming it.
    """
    from slabpolicy.api.plugin_manager import describe_plugin, plugin_source

    out = core_metrics()
    if pm is None:
        return out
    for impl in pm.hook.slabpolicy_metrics.get_hookimpls():
        where = describe_plugin(pm, impl.plugin_name)
        try:
            declared = list(impl.function() or ())
        except Exception as exc:
            raise PluginError(f"{where}: slabpolicy_metrics() raised {type(exc).__name__}: "
                              f"{exc}") from exc
        for m in declared:
            if not isinstance(m, Metric):
                raise PluginError(f"{where}: slabpolicy_metrics() returned {m!r}, not a "
                                  f"slabpolicy.analysis.metrics.Metric")
            if any(known.path == m.path for known in out):
                raise PluginError(f"{where}: slabpolicy_metrics() declares {m.path!r}, "
                                  f"which the catalogue already has")
            out.append(Metric(**{**m.as_dict(), "source": plugin_source(pm, impl.plugin)}))
    return out


def lookup(path: str, metrics: Iterable[Metric] | None = None) -> Metric | None:
    """The catalogue entry of the concrete dotted ``path``, or ``None``."""
    for m in (core_metrics() if metrics is None else metrics):
        if m.matches(path):
            return m
    return None


def suggest(path: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a mistyped metric path, if any is close."""
    close = difflib.get_close_matches(path, list(candidates), n=1, cutoff=0.75)
    return close[0] if close else None


def metric_paths(result: dict[str, Any]) -> list[str]:
    """Every metric path of one result document: the numeric leaves outside
    :data:`NOT_METRICS`, in document order (a ``null``, such as the time of a
    first violation that did not happen, is no figure of that document)."""
    out: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, path + ".")
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append(path)

    walk({k: v for k, v in result.items() if k not in NOT_METRICS}, "")
    return out
