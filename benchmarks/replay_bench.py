#!/usr/bin/env python3
"""The replay benchmark: trace events replayed per wall second, and peak memory.

    python benchmarks/replay_bench.py                 # a synthetic 6.x trace, 1x and 10x
    python benchmarks/replay_bench.py --events 400000 --policy leave-in-place
    python benchmarks/replay_bench.py --trace experiments/traces/tmpfs-churn.trace.gz

A synthetic trace is written in Linux 6.18's ``cat trace`` format: tasks in
``--cgroups`` memcgs (made with cgroup_mkdir and attach, removed with rmdir at
the end) allocate from six caches on two cpus, each object freed after a
random number of later allocations (so the live set stays near ``--live``
objects whatever the length), some freed in softirq; a task runs for about 40
events before another takes its cpu.  Each measurement is one
fresh child process pinned to one cpu; it loads the workload and reports:

* **events/s**: trace events replayed per second of ``Simulation.run()``,
  which streams the compiled records (:mod:`slabpolicy.traces.compiled`), in
  wall time and in the child's cpu time (on a shared machine the wall figure
  includes waiting for the cpu);
* **compile events/s**: the one-time parse of the text into those records
  (the first replay of a trace pays it);
* **peak RSS** of the child in MiB, for the trace and for one ``--scale``
  times longer with the same live set: a replay that streams shows a ratio
  near 1.

Output: one figure per line, ``name: value``.  Stdlib and slabpolicy only.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHES = (("dentry", 192), ("filp", 256), ("kmalloc-cg-64", 64), ("radix_tree_node", 576),
          ("shmem_inode_cache", 768), ("kmalloc-cg-192", 192))


def _line(pid, cpu, ctx, t_us, text):
    return f"{'bash':>16}-{pid:<7} [{cpu:03d}] ..{ctx}..  {t_us // 10**6:5d}.{t_us % 10**6:06d}: {text}\n"


def write_trace(path: Path, events: int, live: int, cgroups: int, seed: int = 1) -> None:
    """A synthetic trace of about ``events`` kmem events (see the module docstring)."""
    rng = random.Random(seed)
    t = 1_000_000
    pending: list[tuple[int, int, str]] = []      # (free at allocation number, ptr, cache)
    with gzip.open(path, "wt", compresslevel=1) as out:
        for g in range(cgroups):
            t += 10
            out.write(_line(100, 0, ".", t, f"cgroup_mkdir: root=4 id={g + 10} level=1 path=/job{g}"))
            out.write(_line(200 + g, 0, ".", t, f"cgroup_attach_task: dst_root=4 dst_id={g + 10} "
                                               f"dst_level=1 dst_path=/job{g} pid={200 + g} comm=sh"))
        n = switch_at = task = cpu = 0
        ptr = 0x1000
        import heapq
        while n < events:
            t += rng.randint(1, 3)
            while pending and pending[0][0] <= n:
                _, p, cache = heapq.heappop(pending)
                softirq = rng.random() < 0.1
                out.write(_line(0 if softirq else 200 + rng.randrange(cgroups), rng.randrange(2),
                                "s" if softirq else ".", t,
                                f"kmem_cache_free: call_site=f+0x1/0x2 ptr={p:016x} name={cache}"))
                n += 1
            if n >= switch_at:        # a timeslice: the next task on the cpu
                task, cpu, switch_at = 200 + rng.randrange(cgroups), rng.randrange(2), n + 40
            cache, size = CACHES[rng.randrange(len(CACHES))]
            ptr += 64
            out.write(_line(task, cpu, ".", t,
                            f"kmem_cache_alloc: call_site=f+0x1/0x2 ptr={ptr:016x} name={cache} "
                            f"bytes_req={size} bytes_alloc={size} gfp_flags=GFP_KERNEL node=-1 "
                            "accounted=true"))
            n += 1
            heapq.heappush(pending, (n + rng.randint(1, 2 * live), ptr, cache))
        for g in range(cgroups):
            t += 10
            out.write(_line(100, 0, ".", t, f"cgroup_rmdir: root=4 id={g + 10} level=1 path=/job{g}"))


def child(workload: str, policy: str) -> None:
    """Run one replay; print its figures as JSON."""
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.spec import load_workload

    wl = load_workload(workload)
    runs = resolve_policies(wl, [policy], policy_registry(make_plugin_manager(())))
    cpu = time.process_time()
    result = run_one(wl, runs[0], wl.seed)
    cpu = time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": result["trace"]["events"], "wall": result["wall_seconds"],
                      "cpu": cpu, "rss_mib": rss}))


def compile_rate(trace: Path) -> float:
    """Events per second of the one-time parse into records."""
    from slabpolicy.traces.compiled import CompiledTrace

    started = time.process_time()
    compiled = CompiledTrace(str(trace))
    spent = time.process_time() - started
    return sum(1 for _ in compiled.records()) / max(spent, 1e-9)


def measure(trace: Path, policy: str, tmp: Path) -> dict:
    workload = tmp / f"{trace.name}.yaml"
    workload.write_text(f"name: replay-bench\ntrace: {trace}\npolicies: [{policy}]\n")
    cmd = [sys.executable, __file__, "--child", str(workload), "--policy", policy]
    if hasattr(os, "sched_setaffinity"):
        cmd = ["taskset", "-c", str(min(os.sched_getaffinity(0))), *cmd] \
            if subprocess.run(["which", "taskset"], capture_output=True).returncode == 0 else cmd
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, help="replay this trace instead of a synthetic one")
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--live", type=int, default=5_000)
    ap.add_argument("--cgroups", type=int, default=8)
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--policy", action="append",
                    help="policy to replay under (repeatable; default leave-in-place and objcg)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.policy[0])
        return
    policies = args.policy or ["leave-in-place", "objcg"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["SLABPOLICY_CACHE_DIR"] = str(tmp / "cache")
        if args.trace is not None:
            runs = [("trace", args.trace.resolve())]
        else:
            runs = []
            for scale in (1, args.scale):
                path = tmp / f"synthetic-{scale}x.txt.gz"
                write_trace(path, args.events * scale, args.live, args.cgroups)
                runs.append((f"{scale}x", path))
        for label, path in runs:
            print(f"compile events/s ({label}): {compile_rate(path):.0f}")
            for policy in policies:
                r = measure(path, policy, tmp)
                print(f"events replayed ({label}, {policy}): {r['events']}")
                print(f"events/s wall ({label}, {policy}): {r['events'] / r['wall']:.0f}")
                print(f"events/s cpu ({label}, {policy}): {r['events'] / r['cpu']:.0f}")
                print(f"peak RSS MiB ({label}, {policy}): {r['rss_mib']:.1f}")


if __name__ == "__main__":
    main()
