"""``run_bench.py --matrix``: every workload under every bundled policy, as a ratio
to a bare Python event loop measured in the same process.

Rows: ``benchmarks/bench.yaml`` and every bundled experiment; columns: every
bundled policy (the ``slabpolicy_plugins`` entry points, with their default
options, or the experiment's own options where it lists the policy by that
name).  Each cell is one child process per core (compiled, pure Python), pinned
to one cpu, that runs ``--pairs`` interleaved pairs: the bare loop, then the
simulation (``run_one``), again and again.  Both are timed in cpu seconds of
the process (``time.process_time``), not wall time: on a shared machine the
wall time counts what other processes take.  A pair's ratio is the
simulation's ops per cpu second over the bare loop's; the cell shows the
median ops/s and the median ratio.  Measuring both in the same process,
alternately, cancels most of what the machine's load and clock do to either.

The bare loop (:func:`bare_loop`) is the least an event-driven allocation
simulator can do in CPython: one ``heappush`` per allocation (its free time),
one ``heappop`` per free, two counters; no random draw, no allocator.  It keeps
about :data:`BARE_LIVE` events queued, the live set of ``bench.yaml``.

To be quick (a few minutes for the whole table), every workload is cut short:
to ``--duration`` of simulated time (default 300 ms), doubled until a run has
at least ``--min-ops`` operations (default 40,000) or the workload's own
duration is reached.  So the figures are the throughput of each workload's
first part (a trace replay, which has no duration to cut, runs whole); the
table says how much simulated time and how many operations a run had.
"""
from __future__ import annotations

import heapq
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: events the bare loop keeps queued: bench.yaml's live set (125,000 objects/s x 40 ms)
BARE_LIVE = 5000
#: the environment variable that makes a process import the pure-Python core
PURE_ENV = "SLABPOLICY_PURE_PYTHON"
CORES = ("compiled", "pure")


def bare_loop(ops: int) -> float:
    """Run ``ops`` operations of the bare event loop; return its ops per cpu second.

    Each step allocates (one heappush of the object's free time) and frees every
    object whose time has come (one heappop each); a lifetime cycles through
    ``0 .. 2*BARE_LIVE`` steps, so about ``BARE_LIVE`` objects are live.
    """
    heap: list[int] = []
    push = heapq.heappush
    pop = heapq.heappop
    allocs = frees = 0
    span = 2 * BARE_LIVE
    t = 0
    start = time.process_time()
    while allocs + frees < ops:
        t += 1
        while heap and heap[0] <= t:
            pop(heap)
            frees += 1
        push(heap, t + (t * 7919) % span)
        allocs += 1
    return (allocs + frees) / (time.process_time() - start)


def policy_names() -> list[str]:
    """The bundled policies: the entry points that live in ``slabpolicy_plugins``."""
    from importlib.metadata import entry_points
    return sorted(ep.name for ep in entry_points(group="slabpolicy")
                  if ep.value.split(":")[0].startswith("slabpolicy_plugins"))


def workloads() -> list[Path]:
    """bench.yaml, then every bundled experiment."""
    from slabpolicy.workloads.bundled import bundled_experiments
    return [HERE / "bench.yaml", *bundled_experiments().values()]


def _cut(workload_path: str, max_duration_ns: int, min_ops: int, run):
    """The workload cut to the shortest duration from ``max_duration_ns`` up (doubling,
    at most its own) at which a run has at least ``min_ops`` operations."""
    from slabpolicy.workloads.spec import load_workload

    workload = load_workload(workload_path)
    own = workload.duration_ns
    duration = max_duration_ns
    while workload.trace is None and duration < own:
        cut = load_workload(workload_path, overrides=[f"duration={duration}ns"])
        result = run(cut)
        ops = result["ops"]["alloc"] + result["ops"]["free"]
        if ops >= min_ops:
            return cut
        duration = min(own, 2 * duration)
    return workload


def cell(workload_path: str, policy_name: str, pairs: int, max_duration_ns: int,
         min_ops: int) -> dict:
    """One cell, in this (pinned) process: ``pairs`` interleaved bare/simulation pairs."""
    from slabpolicy import _core
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.spec import load_workload

    base = load_workload(workload_path)
    registry = policy_registry(make_plugin_manager(tuple(base.plugins)))
    policy = resolve_policies(base, [policy_name], registry)[0]
    workload = _cut(workload_path, max_duration_ns, min_ops,
                    lambda w: run_one(w, policy, w.seed))
    sims, ratios = [], []
    for _ in range(pairs):
        start = time.process_time()
        result = run_one(workload, policy, workload.seed)
        cpu_seconds = time.process_time() - start
        ops = result["ops"]["alloc"] + result["ops"]["free"]
        bare = bare_loop(ops)
        sims.append(ops / cpu_seconds)
        ratios.append(sims[-1] / bare)
    return {"core": _core.running(), "ops": ops, "duration_ns": workload.duration_ns,
            "ops_per_s": statistics.median(sims), "ratio": statistics.median(ratios),
            "crashed": bool(result["crashed"])}


def core_env(core: str) -> dict[str, str]:
    """The environment of a child process that imports ``core``."""
    env = dict(os.environ)
    env.pop(PURE_ENV, None)
    if core == "pure":
        env[PURE_ENV] = "1"
    return env


def available(core: str) -> bool:
    """Whether a child process with :func:`core_env` imports ``core``."""
    proc = subprocess.run([sys.executable, "-c", "from slabpolicy import _core; "
                           "print(_core.running())"], capture_output=True, text=True,
                          env=core_env(core), check=True)
    return proc.stdout.strip().startswith(core)


def measure_cell(workload: Path, policy: str, core: str, pairs: int, max_duration_ns: int,
                 min_ops: int, pin) -> dict:
    """Run :func:`cell` in a child process on ``core``."""
    env = core_env(core)
    cmd = [sys.executable, str(HERE / "run_bench.py"), "--matrix-cell",
           json.dumps([str(workload), policy, pairs, max_duration_ns, min_ops])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=pin)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark child failed (exit {proc.returncode}): {' '.join(cmd)}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["core"].startswith(core), figures["core"]
    return figures


def run_matrix(pairs: int, max_duration_ns: int, min_ops: int, cores: tuple[str, ...], pin,
               only_workloads: list[str] | None = None,
               only_policies: list[str] | None = None) -> tuple[list[dict], tuple[str, ...]]:
    """Every cell of the table, printing progress to stderr: one dict per (workload,
    policy), and the cores of ``cores`` that are available (the others are left out)."""
    rows = []
    paths = [p for p in workloads() if not only_workloads or p.stem in only_workloads]
    names = [n for n in policy_names() if not only_policies or n in only_policies]
    cores = tuple(c for c in cores if available(c))
    for path in paths:
        for name in names:
            row = {"workload": path.stem, "policy": name}
            for core in cores:
                fig = row[core] = measure_cell(path, name, core, pairs, max_duration_ns, min_ops,
                                               pin)
                print(f"  {path.stem} / {name} / {core}: {fig['ops_per_s']:,.0f} ops/s, "
                      f"{fig['ratio']:.3f}x", file=sys.stderr)
            rows.append(row)
    return rows, cores


def format_matrix(rows: list[dict], cores: tuple[str, ...]) -> str:
    """The table as Markdown: one row per (workload, policy), ops/s and ratio per core."""
    headers = ["workload", "policy", "simulated", "ops"]
    for core in cores:
        headers += [f"{core} ops/s", f"{core} ratio"]
    if set(cores) == set(CORES):
        headers.append("compiled/pure")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        figs = [row[c] for c in cores]
        ops = f"{figs[0]['ops']:,}" + (" (crashed)" if figs[0]["crashed"] else "")
        cells = [row["workload"], row["policy"], f"{figs[0]['duration_ns'] / 1e6:g} ms", ops]
        for fig in figs:
            cells += [f"{fig['ops_per_s']:,.0f}", f"{fig['ratio']:.3f}"]
        if set(cores) == set(CORES):
            cells.append(f"{row['compiled']['ops_per_s'] / row['pure']['ops_per_s']:.2f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
