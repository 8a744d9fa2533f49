"""What a run will cost, estimated from the workload before it runs, and the budget.

A workload can be valid and still absurd: ``duration: 100000h``, a stream of
1e9 allocations a second, ``sample_interval: 1ns``.  :func:`estimate` works out,
from rates, durations and counts alone (no simulation), roughly how many events
one run processes, how much memory it holds at its peak, and how long it takes
at the simulator's benchmark speed.  :func:`check_budget` refuses a run past
:data:`DEFAULT_BUDGET_EVENTS` events or :data:`DEFAULT_BUDGET_MEMORY` bytes with
the estimate and the way to go on (``--budget EVENTS`` or ``--yes``).

The estimate is deliberately simple and errs high: every cgroup is assumed to
allocate for its mean lifetime (or to the end of the run), every allocation to be
freed within the run, and every tick to run.  It is a guard against running for
a week by mistake, not a prediction to the second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from slabpolicy.errors import SlabpolicyError
from slabpolicy.workloads.units import NS_PER_S, format_duration, format_size

#: Events one run may process without ``--budget``/``--yes``: 1e8, about five
#: minutes at the benchmark's floor of 300k simulated ops/s.
DEFAULT_BUDGET_EVENTS = 100_000_000
#: Peak memory one run may need without ``--yes``: 4 GiB.
DEFAULT_BUDGET_MEMORY = 4 << 30
#: Simulated events per wall-clock second assumed for the time estimate: the floor
#: benchmarks/run_bench.py holds the simulator to.
EVENTS_PER_SECOND = 300_000
#: Bytes per pending event and per live object's share of its slab.  An event
#: (kernel/event_queue.py) measured 172 bytes on the pure-Python core (a tuple of
#: six fields in the calendar, its time and seq ints) and 145 on the compiled one
#: (a tuple of five, its time int, a 24-byte heap entry and a free-slot word in C
#: arrays that double as they grow, a list slot).
BYTES_PER_EVENT = 200
#: Bytes per cpu of one memcg cache (a KmemCacheCpu and its list slot), and per cache.
BYTES_PER_CACHE_CPU = 150
BYTES_PER_CACHE = 2048
#: Bytes per sampled figure (a Python number in a list, kept in the result too).
BYTES_PER_SAMPLE_FIGURE = 64
#: Figures per sample: t_ns and the memory figures.
FIGURES_PER_SAMPLE = 7
#: The process itself (interpreter, modules, plugin manager).
BASE_MEMORY = 32 << 20


class BudgetError(SlabpolicyError):
    """A run's estimate is past the budget; the message gives it and the way past."""

    exit_code = 2


@dataclass(frozen=True)
class Estimate:
    """What one run of a workload costs, roughly (see the module docstring)."""

    events: float
    memory_bytes: float
    seconds: float

    def describe(self) -> str:
        return (f"about {_count(self.events)} events, {format_size(self.memory_bytes)} of memory "
                f"and {_wall(self.seconds)} per run")


def _count(n: float) -> str:
    return f"{n:.3g}" if n >= 1e6 else str(int(n))


def _wall(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    if seconds > 365 * 86400:
        return f"{seconds / (365.25 * 86400):.3g} years"
    return format_duration(max(1, int(seconds)) * NS_PER_S)


def _arrivals(group, duration_ns: int) -> tuple[float, float]:
    """How many cgroups of ``group`` arrive within the run, and the span of their arrivals (ns)."""
    arrival = group.arrival
    if group.count == 0 or arrival.start_ns > duration_ns:
        return 0.0, 0.0
    window = duration_ns - arrival.start_ns
    if arrival.process == "poisson":
        n = min(float(group.count), 1.0 + arrival.rate_per_s * window / NS_PER_S)
        return n, (n - 1) * NS_PER_S / arrival.rate_per_s
    if arrival.process == "fixed":
        n = min(float(group.count), 1.0 + window // arrival.interval_ns)
        return n, (n - 1) * arrival.interval_ns
    return float(group.count), 0.0


def estimate(workload) -> Estimate:
    """Events, peak memory and wall time of one run of ``workload`` (see the module)."""
    duration = workload.duration_ns
    events = duration / workload.sample_interval_ns + duration / workload.tick_interval_ns + 2
    samples = duration / workload.sample_interval_ns + 2
    live = 0.0
    memcg_caches = 0.0
    for group in workload.groups:
        n, span = _arrivals(group, duration)
        if n == 0:
            continue
        remaining = max(0.0, duration - group.arrival.start_ns - span / 2)
        online = min(group.lifetime.mean_ns(), remaining)
        events += 2 * n
        memcg_caches += n * len(group.streams)
        for stream in group.streams:
            allocs = n * stream.rate_per_s * online / NS_PER_S
            events += 2 * allocs
            life = stream.lifetime.mean_ns()
            live += allocs if online <= 0 or math.isinf(life) else allocs * min(1.0, life / online)
    memory = (BASE_MEMORY + BYTES_PER_EVENT * live
              + memcg_caches * (BYTES_PER_CACHE + BYTES_PER_CACHE_CPU * workload.machine.cpus)
              + samples * FIGURES_PER_SAMPLE * BYTES_PER_SAMPLE_FIGURE)
    return Estimate(events, memory, events / EVENTS_PER_SECOND)


@dataclass(frozen=True)
class Budget:
    """How much one run may cost; ``unlimited`` (``--yes``) lets anything run."""

    events: float = DEFAULT_BUDGET_EVENTS
    memory_bytes: float = DEFAULT_BUDGET_MEMORY
    unlimited: bool = False


def check_budget(workload, budget: Budget, runs: int = 1) -> Estimate:
    """The estimate of one run of ``workload``; BudgetError if it is past ``budget``."""
    est = estimate(workload)
    if budget.unlimited:
        return est
    over = []
    if est.events > budget.events:
        over.append(f"{_count(est.events)} events > the budget of {_count(budget.events)}")
    if est.memory_bytes > budget.memory_bytes:
        over.append(f"{format_size(est.memory_bytes)} of memory > the budget of "
                    f"{format_size(budget.memory_bytes)}")
    if over:
        total = f" ({runs} runs: {_wall(est.seconds * runs)} in all)" if runs > 1 else ""
        raise BudgetError(
            f"{workload.path}: workload {workload.name!r} would take {est.describe()}{total}: "
            f"{'; '.join(over)}; shorten it, or run it anyway with --budget EVENTS "
            f"(a larger event budget) or --yes")
    return est
