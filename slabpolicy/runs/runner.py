"""Run one (workload, policy, seed) and build its result document.

The result document is the unit everything else stores, compares and renders:
``schema``, ``workload`` {name, sha256}, ``policy`` {name, label, version,
options, source, kernel}, ``seed``, ``ops``, ``wall_seconds`` (the simulation loop
alone), ``memory`` (each figure's peak, time-weighted mean and final value),
``latency_ns`` (count and percentiles from bounded histograms) and
``latency_hist`` (those histograms: ``[[ns, count], ...]``), ``locks`` (per
lock class, as /proc/lock_stat), ``lock_hist`` (per lock class, the wait and
hold histograms), ``accounting``, ``crashed`` (the first crash-class violation,
{t_ns, what, where}, or null), ``reclaim`` (list_lru objects scanned and freed
by memcg state, reclaim time, direct stalls: kernel/reclaim.py), ``rcu``
(callbacks, batches and their sizes: kernel/rcu.py), ``slub_stats`` and
``series``.
Everything but ``wall_seconds`` and ``provenance`` is a function of the workload
file, the policy and its options, and the seed.
"""
from __future__ import annotations

import difflib
import platform
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Callable

import pluggy

from slabpolicy import __version__
from slabpolicy.kernel import collector
from slabpolicy.kernel.engine import MEMORY_FIGURES, Simulation
from slabpolicy.errors import PluginError, Problem, SlabpolicyError, WorkloadError
from slabpolicy.interrupts import from_user
from slabpolicy.kernel.histogram import Histogram
from slabpolicy.runs.monitor import DEFAULT_RUN_TIMEOUT, Progress, RunStalled, progress_of, watch
from slabpolicy.runs.policy_args import policy_arg, split_policy_arg
from slabpolicy.workloads.units import format_duration
from slabpolicy.api.plugin_manager import (PolicyEntry, build_policy, make_plugin_manager,
                                          policy_registry, register_run_plugin)

SCHEMA = "slabpolicy.result/1"


@dataclass(frozen=True)
class PolicyRun:
    """A policy as one run uses it: the registry entry, the label and parsed options."""

    entry: PolicyEntry
    label: str
    options: dict[str, Any]


def resolve_policies(workload, names: list[str], registry: dict[str, PolicyEntry]) -> list[PolicyRun]:
    """The policies to run: ``names`` (from ``--policy``), else the workload's list.

    A name matches a workload policy's label first (so ``leave-in-place+shrink``
    picks up its options), then any installed policy, run with its defaults.
    A name may carry options, ``NAME:key=value,...`` (:mod:`slabpolicy.runs.policy_args`),
    which override the workload's; the run's label is then that text, canonical.
    Options are checked against the policy's declared options; a bad one is a
    :class:`WorkloadError` pointing at its line in the workload file.
    """
    choices = {c.label: (i, c) for i, c in enumerate(workload.policies)}
    problems = []
    runs: list[PolicyRun] = []
    wanted = names or [c.label for c in workload.policies]
    for text in wanted:
        name, given = split_policy_arg(text)      # 'NAME:key=value,...' from the command line
        label = policy_arg(name, given)

        def given_problems(option_problems, index=None):
            return [Problem(f"--policy {text}", 0, f"options.{key}", msg) if key in given
                    else workload.problem(f"policies[{index}].options.{key}", msg)
                    for key, msg in option_problems]
        if name in choices:
            index, choice = choices[name]
            entry = registry.get(choice.name)
            if entry is None:
                problems.append(workload.problem(f"policies[{index}]",
                                                 _unknown_policy(choice.name, registry)))
                continue
            options, option_problems = entry.spec.parse_options({**choice.options, **given})
            problems += given_problems(option_problems, index)
            runs.append(PolicyRun(entry, label, options))
        elif name in registry:
            entry = registry[name]
            options, option_problems = entry.spec.parse_options(given)
            problems += given_problems(option_problems)
            runs.append(PolicyRun(entry, label, options))
        else:
            raise SlabpolicyError(f"--policy {name}: " + _unknown_policy(name, registry))
    if problems:
        raise WorkloadError(problems)
    return runs


def _unknown_policy(name: str, registry: dict[str, PolicyEntry]) -> str:
    close = difflib.get_close_matches(name, registry, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown policy {name!r}; {hint}installed: {', '.join(registry) or 'none'}"


def run_one(workload, policy: PolicyRun, seed: int, *, plugin_paths: tuple[str, ...] = (),
            strict: bool = False, run_timeout: float | None = DEFAULT_RUN_TIMEOUT,
            on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Simulate ``workload`` under ``policy`` with ``seed``; return the result document.

    A fresh plugin manager is built for the run, and the policy object is registered
    in it alone.  Anything plugin code raises (any BaseException: SystemExit, a
    KeyboardInterrupt nobody pressed, its own BaseException subclasses) becomes a
    :class:`PluginError` naming the plugin, the place and the simulated time; so
    does a run that stops advancing for ``run_timeout`` seconds (the watchdog of
    :mod:`slabpolicy.runs.monitor`, which also feeds ``on_progress``).  A stop
    sent by the user (:mod:`slabpolicy.interrupts`) goes through, carrying the
    run's figures so far as ``figures``.

    The whole run is a :func:`~slabpolicy.kernel.collector.run_boundary`: the
    finished simulation, cyclic garbage, is collected before this returns, most of
    it freed first by reference counting once its allocator is dismantled
    (:meth:`~slabpolicy.kernel.slub.Allocator.dismantle`).
    """
    with collector.run_boundary():
        return _run_one(workload, policy, seed, plugin_paths, strict, run_timeout, on_progress)


def _run_one(workload, policy: PolicyRun, seed: int, plugin_paths: tuple[str, ...],
             strict: bool, run_timeout: float | None,
             on_progress: Callable[[Progress], None] | None) -> dict[str, Any]:
    """:func:`run_one` itself, a frame of its own: the simulation is garbage once it returns."""
    pm = make_plugin_manager(tuple(plugin_paths) + tuple(workload.plugins))
    entry = policy_registry(pm).get(policy.entry.spec.name, policy.entry)
    policy_obj = build_policy(entry, policy.options, policy.label)
    register_run_plugin(pm, policy_obj, f"policy:{policy.label}")
    sim = Simulation(workload, seed=seed, hook=pm.hook, policy_label=policy.label, strict=strict)
    try:
        with watch(sim, run_timeout, on_progress):
            started = time.perf_counter()
            sim.run()
            wall = time.perf_counter() - started
            sim.finish()
            result = build_result(sim, entry, policy, wall)
            pm.hook.slabpolicy_run_end(sim=sim, result=result)
            sim.slub.dismantle()
    except SlabpolicyError:
        raise
    except BaseException as exc:
        if from_user(exc):
            exc.figures = figures_so_far(sim)       # type: ignore[attr-defined]
            raise
        raise _escape(exc, pm, policy, seed, sim, run_timeout) from exc
    return result


def _escape(exc: BaseException, pm: pluggy.PluginManager, policy: PolicyRun, seed: int,
            sim: Simulation, run_timeout: float | None) -> BaseException:
    """What to raise for ``exc`` escaping a run: a PluginError naming the plugin whose
    code raised it (or was running when the watchdog fired); ``exc`` itself when no
    plugin code is involved (an internal error)."""
    culprit = _blame(exc, pm)
    where = f"(policy {policy.label}, seed {seed}, t={sim.slub.now}ns)"
    if isinstance(exc, RunStalled):
        what = (f"the run stopped advancing simulated time for {run_timeout:g}s and was stopped "
                f"(--run-timeout) {where}")
        return PluginError(f"{culprit}: {what}" if culprit else what[0].upper() + what[1:])
    if culprit is None:
        return exc
    return PluginError(f"{culprit} raised {type(exc).__name__}: {exc} {where}")


def figures_so_far(sim: Simulation) -> str:
    """A line of what an interrupted run had done (the CLI prints it)."""
    p = progress_of(sim, 0.0)
    slub = sim.slub
    return (f"stopped at t={format_duration(p.now_ns)} of {format_duration(p.end_ns)} "
            f"({p.fraction:.0%}): {slub.n_alloc_fast + slub.n_alloc_slow} allocations, "
            f"{slub.n_free_fast + slub.n_free_slow} frees, {slub.total_pages} slab pages, "
            f"{len(slub.dead_caches)} dead caches, {sim.memcgs.nr_dying} dying memcgs")


def _blame(exc: BaseException, pm: pluggy.PluginManager) -> str | None:
    """The innermost plugin frame in ``exc``'s traceback, as 'NAME (FILE:LINE)'.

    A module that is both a registered plugin and the home of the run's policy
    object is named after the policy.
    """
    modules: dict[str, str] = {}
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or ""
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        if name.startswith("policy:"):
            modules[module] = f"policy {name[len('policy:'):]}"
        else:
            modules.setdefault(module, f"plugin {name}")
    culprit = None
    for frame, line in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get("__name__", "")
        if module in modules:
            culprit = f"{modules[module]} ({frame.f_code.co_filename}:{line})"
    return culprit


def _figure_summary(t_ns: list[int], values: list) -> dict[str, float]:
    """Peak, time-weighted mean (each value holds until the next sample) and final."""
    span = t_ns[-1] - t_ns[0]
    if span > 0:
        area = sum(values[i] * (t_ns[i + 1] - t_ns[i]) for i in range(len(values) - 1))
        mean = area / span
    else:
        mean = float(values[-1])
    return {"peak": max(values), "mean": mean, "final": values[-1]}


def _fast_histogram(step_ns: int, count: int, recorded: Histogram) -> Histogram:
    """The fast path's histogram: plain fast paths cost exactly their step, so they
    are counted, not recorded; those that did more (a lock, a charge) were recorded."""
    hist = Histogram()
    if count > recorded.count:
        hist.record(step_ns, count - recorded.count)
    hist.merge(recorded)
    return hist


def build_result(sim: Simulation, entry: PolicyEntry, policy: PolicyRun,
                 wall_seconds: float) -> dict[str, Any]:
    """The result document of a finished simulation."""
    slub = sim.slub
    wl = sim.workload
    alloc_fast = _fast_histogram(slub.c_alloc_fast, slub.n_alloc_fast, slub.h_alloc_fast_rec)
    free_fast = _fast_histogram(slub.c_free_fast, slub.n_free_fast, slub.h_free_fast_rec)
    alloc = Histogram.merged(alloc_fast, slub.h_alloc_slow)
    free = Histogram.merged(free_fast, slub.h_free_slow)
    series = sim.series
    memory = {f: _figure_summary(series["t_ns"], series[f]) for f in MEMORY_FIGURES}
    memory["slab_pages"]["peak"] = max(memory["slab_pages"]["peak"], slub.peak_pages)
    stats: dict[str, int] = dict(slub.retired_stats)
    for cache in slub.caches:
        for item, n in cache.stats.items():
            stats[item] = stats.get(item, 0) + n
    return {
        "schema": SCHEMA,
        "workload": {"name": wl.name, "sha256": wl.sha256, "path": wl.path},
        "policy": {"name": entry.spec.name, "label": policy.label, "version": entry.spec.version,
                   "options": policy.options, "source": entry.source,
                   "kernel": entry.spec.kernel_for(policy.options)},
        "seed": sim.seed,
        # the machine simulated, its SLUB era included, so that tables say what they compare
        "machine": asdict(wl.machine),
        "duration_ns": wl.duration_ns,
        "ops": {"alloc": slub.n_alloc_fast + slub.n_alloc_slow,
                "free": slub.n_free_fast + slub.n_free_slow,
                "alloc_fast": slub.n_alloc_fast, "alloc_slow": slub.n_alloc_slow,
                "free_fast": slub.n_free_fast, "free_slow": slub.n_free_slow},
        "wall_seconds": wall_seconds,
        "memory": memory,
        "latency_ns": {
            "alloc": alloc.summary(),
            "free": free.summary(),
            "offline": sim.h_offline.summary(),
            "alloc_fast": alloc_fast.summary(),
            "alloc_slow": slub.h_alloc_slow.summary(),
            "free_fast": free_fast.summary(),
            "free_slow": slub.h_free_slow.summary(),
        },
        # the bounded histograms themselves: [[ns, count], ...], 11 significant bits
        "latency_hist": {"alloc": alloc.buckets(), "free": free.buckets(),
                         "offline": sim.h_offline.buckets()},
        "locks": sim.locks.stats(),
        # per lock class, the wait (contended acquisitions) and hold histograms
        "lock_hist": sim.locks.histograms(),
        "accounting": sim.checker.summary(),
        # the first crash-class violation: a real kernel would have oopsed here
        "crashed": sim.checker.crashed,
        "memcgs": {"created": len(sim.memcgs.by_id) - 1, "released": len(sim.memcgs.released),
                   "dying": sim.memcgs.nr_dying, "rcu_waits": sim.rcu_waits},
        "reclaim": sim.reclaim.summary(),
        "rcu": sim.rcu.summary(),
        "slub_stats": dict(sorted(stats.items())),
        "series": series,
        **({"trace": sim.replay.summary()} if sim.replay is not None else {}),
        "provenance": {"slabpolicy": __version__, "python": sys.version.split()[0],
                       "platform": platform.platform(), "host": platform.node()},
    }
