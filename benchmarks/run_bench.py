#!/usr/bin/env python3
"""The simulator's throughput and memory benchmark.

Run it from the repository root, with the venv slabpolicy is installed in::

    python benchmarks/run_bench.py                    # 3 runs at 1x, one at 10x
    python benchmarks/run_bench.py --repeat 5         # best and median of 5 runs
    python benchmarks/run_bench.py --policy reparent
    python benchmarks/run_bench.py --scale 10 --workload benchmarks/bench.yaml
    python benchmarks/run_bench.py --matrix           # every workload x bundled policy,
                                                      # ratio to a bare loop, both cores

(or ``/tmp/venv/bin/python benchmarks/run_bench.py`` without activating it).

Every measurement is one fresh child process (this script run with
``--child``), pinned to one cpu (cpu 0 if allowed, else the first allowed cpu)
so that the figures are "on one core".  The child loads the workload, runs it
once through ``slabpolicy.runs.runner.run_one`` and reports:

* **ops/s**: ``(ops.alloc + ops.free) / wall_seconds`` of the result document,
  that is simulated allocations plus frees per wall second of the simulation
  loop alone (loading the workload, building the result are not timed);
* **peak RSS**: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child after
  the run, in MiB (and the same figure just before the run: imports plus the
  loaded workload, the part that does not depend on the run).

The plain run (the workload as written) is repeated ``--repeat`` times; the best
and the median ops/s are printed, and its peak RSS is the largest of those
runs.  Then the workload is run once at ``--scale`` times its duration
(``--set duration=...``, through ``load_workload(path, overrides=[...])``): the
live set is the same, so a simulator whose memory does not grow with the
duration shows a ratio of the two peak RSS figures close to 1.

Output: one figure per line, ``name: value``.  Stdlib and slabpolicy only.

``--matrix`` prints instead the table of every workload (this one and the
bundled experiments) under every bundled policy, ops/s and the ratio to a bare
Python event loop measured in the same process, for the compiled and the
pure-Python core (see ``bench_matrix.py`` next to this script).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_WORKLOAD = HERE / "bench.yaml"
#: ru_maxrss is in KiB on Linux, in bytes on macOS
RSS_UNIT = 1 if sys.platform == "darwin" else 1024


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT / (1 << 20)


def _pin() -> str:
    """Pin this process to one cpu; return which (or why not)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform)"
    try:
        allowed = os.sched_getaffinity(0)
        cpu = 0 if 0 in allowed else min(allowed)
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    except OSError as exc:
        return f"not pinned ({exc})"


def child(args: argparse.Namespace) -> None:
    """One measurement: run the workload once and print a JSON line of figures."""
    pinned = _pin()
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.spec import load_workload

    overrides = [f"duration={args.duration_ns}ns"] if args.duration_ns else []
    workload = load_workload(args.workload, overrides=overrides)
    registry = policy_registry(make_plugin_manager(tuple(workload.plugins)))
    policy = resolve_policies(workload, [args.policy] if args.policy else [], registry)[0]
    rss_before = _maxrss_mib()
    result = run_one(workload, policy, workload.seed)
    rss_after = _maxrss_mib()
    ops = result["ops"]
    print(json.dumps({
        "pinned": pinned,
        "python": sys.version.split()[0],
        "policy": policy.label,
        "workload": workload.name,
        "seed": workload.seed,
        "duration_ns": workload.duration_ns,
        "samples": len(result["series"]["t_ns"]),
        "alloc": ops["alloc"],
        "free": ops["free"],
        "wall_seconds": result["wall_seconds"],
        "ops_per_s": (ops["alloc"] + ops["free"]) / result["wall_seconds"],
        "rss_before_mib": rss_before,
        "rss_peak_mib": rss_after,
        "violations": result["accounting"]["violations"],
    }))


def matrix(args: argparse.Namespace) -> None:
    """``--matrix``: the workloads x policies table, Markdown, on stdout."""
    import bench_matrix
    cores = bench_matrix.CORES if args.core == "both" else (args.core,)
    duration_ns = int(args.duration * 1e6)
    rows, cores = bench_matrix.run_matrix(args.pairs, duration_ns, args.min_ops, cores, _pin,
                                          args.only_workload, args.only_policy)
    if not cores:
        raise SystemExit("no core to measure: the compiled core is not available here")
    print(f"python: {sys.version.split()[0]} ({platform.python_implementation()}); each cell: "
          f"median of {args.pairs} interleaved (bare loop, simulation) pairs in one process "
          f"pinned to one cpu; workloads cut short (from {args.duration:g} ms of simulated "
          f"time, doubled up to {args.min_ops:,} operations); "
          f"cores: {', '.join(cores)}")
    print(bench_matrix.format_matrix(rows, cores))


def measure(args: argparse.Namespace, duration_ns: int | None = None) -> dict:
    """Run one child process and return its figures."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child",
           "--workload", str(args.workload)]
    if args.policy:
        cmd += ["--policy", args.policy]
    if duration_ns:
        cmd += ["--duration-ns", str(duration_ns)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark child failed (exit {proc.returncode}): {' '.join(cmd)}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, metavar="N",
                    help="runs at the normal duration (best and median ops/s; default 3)")
    ap.add_argument("--policy", metavar="NAME", default=None,
                    help="policy name or workload label (default: the workload's first policy)")
    ap.add_argument("--workload", type=Path, default=DEFAULT_WORKLOAD, metavar="PATH",
                    help="workload file (default: bench.yaml next to this script)")
    ap.add_argument("--scale", type=int, default=10, metavar="K",
                    help="duration multiplier of the memory run (default 10; 0: skip it)")
    ap.add_argument("--matrix", action="store_true",
                    help="print the workloads x bundled policies table: ops/s and ratio to a "
                         "bare event loop, compiled and pure-Python core")
    ap.add_argument("--pairs", type=int, default=5, metavar="N",
                    help="--matrix: interleaved (bare, simulation) pairs per cell (default 5)")
    ap.add_argument("--duration", type=float, default=300, metavar="MS",
                    help="--matrix: cut every workload to MS ms of simulated time (default 300)")
    ap.add_argument("--min-ops", type=int, default=40_000, metavar="N",
                    help="--matrix: lengthen a cut workload until a run has N operations "
                         "(default 40000)")
    ap.add_argument("--core", choices=("both", "compiled", "pure"), default="both",
                    help="--matrix: which core's columns (default both; a core that is not "
                         "available shows '-')")
    ap.add_argument("--only-workload", action="append", metavar="NAME",
                    help="--matrix: only this workload (file stem; repeatable)")
    ap.add_argument("--only-policy", action="append", metavar="NAME",
                    help="--matrix: only this policy (repeatable)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--matrix-cell", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--duration-ns", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return
    if args.matrix_cell:
        import bench_matrix
        print(json.dumps(bench_matrix.cell(*json.loads(args.matrix_cell))))
        return
    if args.matrix:
        matrix(args)
        return
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    runs = []
    for i in range(args.repeat):
        runs.append(measure(args))
        print(f"  run {i + 1}/{args.repeat}: {runs[-1]['ops_per_s']:,.0f} ops/s "
              f"in {runs[-1]['wall_seconds']:.2f} s", file=sys.stderr)
    first = runs[0]
    rates = [r["ops_per_s"] for r in runs]
    rss_1x = max(r["rss_peak_mib"] for r in runs)
    print(f"python: {first['python']} ({platform.python_implementation()})")
    print(f"workload: {first['workload']} ({args.workload}), seed {first['seed']}, "
          f"duration {first['duration_ns'] / 1e9:g} s, {first['samples']} samples")
    print(f"policy: {first['policy']}")
    print(f"pinned: {first['pinned']}")
    print(f"operations: {first['alloc'] + first['free']} "
          f"(alloc {first['alloc']} + free {first['free']})")
    print(f"ops/s best: {max(rates):.0f}")
    print(f"ops/s median: {statistics.median(rates):.0f}  (of {len(rates)} runs)")
    print(f"wall seconds best: {min(r['wall_seconds'] for r in runs):.3f}")
    print(f"RSS before run (MiB): {first['rss_before_mib']:.1f}")
    print(f"peak RSS 1x (MiB): {rss_1x:.1f}")
    if any(r["violations"] for r in runs):
        print(f"accounting violations: {first['violations']}")
    if args.scale:
        big = measure(args, duration_ns=first["duration_ns"] * args.scale)
        print(f"operations {args.scale}x: {big['alloc'] + big['free']} "
              f"({big['samples']} samples)")
        print(f"ops/s {args.scale}x: {big['ops_per_s']:.0f}")
        print(f"peak RSS {args.scale}x (MiB): {big['rss_peak_mib']:.1f}")
        print(f"peak RSS ratio {args.scale}x/1x: {big['rss_peak_mib'] / rss_1x:.3f}")
        grow_1x = rss_1x - first["rss_before_mib"]
        grow_big = big["rss_peak_mib"] - big["rss_before_mib"]
        print(f"RSS growth during run 1x / {args.scale}x (MiB): {grow_1x:.1f} / {grow_big:.1f}")


if __name__ == "__main__":
    main()
