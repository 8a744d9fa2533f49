"""Run one (workload, policy, seed) and build its result document.

The result document is the unit everything else stores, compares and renders:
``schema``, ``workload`` {name, sha256}, ``policy`` {name, label, version,
options, source, kernel}, ``seed``, ``ops``, ``wall_seconds`` (the simulation loop
alone), ``memory`` (each figure's peak, time-weighted mean and final value),
``latency_ns`` (count and percentiles from bounded histograms) and
``latency_hist`` (those histograms: ``[[ns, count], ...]``), ``locks`` (per
lock class, as /proc/lock_stat), ``accounting``, ``reclaim`` (list_lru objects
scanned and freed by memcg state, reclaim time, direct stalls: kernel/reclaim.py),
``rcu`` (callbacks, batches and their sizes: kernel/rcu.py), ``slub_stats`` and
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
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

from slabpolicy import __version__
from slabpolicy.kernel.engine import MEMORY_FIGURES, Simulation
from slabpolicy.errors import PluginError, SlabpolicyError, WorkloadError
from slabpolicy.kernel.histogram import Histogram
from slabpolicy.api.plugin_manager import (PolicyEntry, make_plugin_manager, policy_registry,
                             register_run_plugin)

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
    Options are checked against the policy's declared options; a bad one is a
    :class:`WorkloadError` pointing at its line in the workload file.
    """
    choices = {c.label: (i, c) for i, c in enumerate(workload.policies)}
    problems = []
    runs: list[PolicyRun] = []
    wanted = names or [c.label for c in workload.policies]
    for name in wanted:
        if name in choices:
            index, choice = choices[name]
            entry = registry.get(choice.name)
            if entry is None:
                problems.append(workload.problem(f"policies[{index}]",
                                                 _unknown_policy(choice.name, registry)))
                continue
            options, option_problems = entry.spec.parse_options(choice.options)
            problems += [workload.problem(f"policies[{index}].options.{key}", msg)
                         for key, msg in option_problems]
            runs.append(PolicyRun(entry, choice.label, options))
        elif name in registry:
            entry = registry[name]
            options, _ = entry.spec.parse_options({})
            runs.append(PolicyRun(entry, name, options))
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
            strict: bool = False) -> dict[str, Any]:
    """Simulate ``workload`` under ``policy`` with ``seed``; return the result document.

    A fresh plugin manager is built for the run, and the policy object is registered
    in it alone.  An exception raised by plugin code becomes a :class:`PluginError`
    naming the plugin, the place and the simulated time.
    """
    pm = make_plugin_manager(tuple(plugin_paths) + tuple(workload.plugins))
    entry = policy_registry(pm).get(policy.entry.spec.name, policy.entry)
    try:
        policy_obj = entry.spec.factory(dict(policy.options))
    except Exception as exc:
        raise PluginError(f"policy {policy.label} ({entry.plugin}): building it raised "
                          f"{type(exc).__name__}: {exc}") from exc
    register_run_plugin(pm, policy_obj, f"policy:{policy.label}")
    sim = Simulation(workload, seed=seed, hook=pm.hook, policy_label=policy.label, strict=strict)
    try:
        started = time.perf_counter()
        sim.run()
        wall = time.perf_counter() - started
        sim.finish()
        result = build_result(sim, entry, policy, wall)
        pm.hook.slabpolicy_run_end(sim=sim, result=result)
    except SlabpolicyError:
        raise
    except Exception as exc:
        culprit = _blame(exc, pm)
        if culprit is None:
            raise
        raise PluginError(f"{culprit} raised {type(exc).__name__}: {exc} "
                          f"(policy {policy.label}, seed {seed}, t={sim.slub.now}ns)") from exc
    return result


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
        "accounting": sim.checker.summary(),
        "memcgs": {"created": len(sim.memcgs.by_id) - 1, "released": len(sim.memcgs.released),
                   "dying": sim.memcgs.nr_dying, "rcu_waits": sim.rcu_waits},
        "reclaim": sim.reclaim.summary(),
        "rcu": sim.rcu.summary(),
        "slub_stats": dict(sorted(stats.items())),
        "series": series,
        "provenance": {"slabpolicy": __version__, "python": sys.version.split()[0],
                       "platform": platform.platform(), "host": platform.node()},
    }
