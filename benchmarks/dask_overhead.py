"""What a run costs on Dask besides the simulation: measured on this machine.

Prints, for docs/sweeps.md's "at scale" section:

1. result bytes per run: the result document of one run of a workload (default:
   the bundled container-churn experiment) as its JSON file and as the pickle a
   Dask worker sends back;
2. the tasks per second a Dask scheduler sustains for tasks that return a result
   of that size (a real scheduler and W single-threaded workers on 127.0.0.1,
   N tasks that do nothing but return the document, streamed back to the client
   as they finish, as ``sweep --executor dask`` does);
3. the per-run overhead of a real sweep: the same small sweep with the local
   executor and on the cluster, wall time of each.

    python benchmarks/dask_overhead.py [--tasks 2000] [--workers 2] [--workload FILE]
"""
from __future__ import annotations

import argparse
import json
import pickle
import tempfile
import time
from pathlib import Path

from slabpolicy.runs import matrix
from slabpolicy.runs.executors import DaskExecutor, LocalExecutor
from slabpolicy.runs.sweep import plan_sweep

HERE = Path(__file__).resolve().parent
CHURN = HERE.parent / "experiments" / "container-churn.yaml"


def one_result(workload: Path) -> dict:
    plan = matrix.plan_experiment([workload], policies=["leave-in-place"], seeds=1)
    kind, result = matrix.execute(plan.runs[0].task)
    assert kind == "ok", result
    return result


def echo(doc: dict, i: int) -> dict:
    """A task that returns a result-sized document and does nothing else."""
    return doc


def scheduler_rate(client, doc: dict, tasks: int) -> float:
    from distributed import as_completed
    shared = client.submit(echo, doc, -1, pure=False)   # as the sweep's files task
    started = time.perf_counter()
    futures = [client.submit(echo, shared, i, pure=False) for i in range(tasks)]
    for future in as_completed(futures):
        future.result()
    return tasks / (time.perf_counter() - started)


def sweep_wall(executor, out: Path, grid: list[str], seeds: int) -> tuple[float, int]:
    planned = plan_sweep(HERE.parent / "experiments" / "default.yaml", grid, seeds=seeds,
                         policies=["leave-in-place", "objcg"],
                         overrides=["duration=500ms", "cgroups[1].count=8"])
    started = time.perf_counter()
    with executor:
        matrix.run_experiment(planned.plan, out, executor=executor, argv=["bench"])
    return time.perf_counter() - started, len(planned.plan.runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workload", type=Path, default=CHURN)
    args = ap.parse_args()

    doc = one_result(args.workload)
    text = json.dumps(doc, indent=1) + "\n"
    print(f"result of one run of {args.workload.name}: JSON file {len(text.encode())} bytes, "
          f"pickled {len(pickle.dumps(doc))} bytes, simulation {doc['wall_seconds']:.2f} s")

    with DaskExecutor(None, args.workers) as dask:
        for size, payload in (("an empty", {}), ("a result-sized", doc)):
            rate = scheduler_rate(dask.client, payload, args.tasks)
            print(f"scheduler, {args.workers} workers, {args.tasks} tasks returning {size} "
                  f"document: {rate:.0f} tasks/s")

    grid = ["cgroups[1].arrival.rate=5/s,10/s,20/s,40/s"]   # the containers
    with tempfile.TemporaryDirectory() as tmp:
        local, n = sweep_wall(LocalExecutor(args.workers), Path(tmp) / "local", grid, 3)
        dask_wall, _ = sweep_wall(DaskExecutor(None, args.workers), Path(tmp) / "dask", grid, 3)
    print(f"a sweep of {n} short runs: local executor {local:.2f} s, Dask LocalCluster "
          f"{dask_wall:.2f} s (start-up included): {(dask_wall - local) / n * 1000:.0f} ms "
          f"more per run")


if __name__ == "__main__":
    main()
