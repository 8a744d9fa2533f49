"""``slabpolicy sweep --executor dask`` on a real Dask cluster on this machine.

The fixture starts a real ``dask scheduler`` and two ``dask worker`` processes
(single-threaded, no nanny) on 127.0.0.1 at free ports, and stops them at the
end.  A sweep run on them gives the local executor's results to the last digit;
a worker killed while it runs a run has that run re-run on the other worker.
Skipped when dask and distributed are not installed (``pip install '.[dask]'``).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from slabpolicy.runs import executors  # noqa: E402
from slabpolicy.runs.matrix import Task  # noqa: E402

from cli_support import SMALL, invoke, ok, results_in  # noqa: E402

RATE = "cgroups[0].arrival.rate"
DASK = str(Path(sys.executable).with_name("dask"))
STARTUP_TIMEOUT = 30

#: a policy that notes the worker process running it and naps, so that the test
#: can kill that worker in the middle of the run
NAPPER = """\
import os, time, uuid
from slabpolicy import PolicySpec, hookimpl


class Napper:
    def __init__(self, options):
        pass

    @hookimpl
    def slabpolicy_run_start(self, sim):
        marks = os.environ.get("SLABPOLICY_TEST_MARKS")
        if marks:
            with open(os.path.join(marks, f"{os.getpid()}-{uuid.uuid4().hex}"), "w") as fh:
                fh.write(str(sim.seed))
            time.sleep(2)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="napper", version="0.1", description="naps at the start of a run",
                       factory=Napper)]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, worker processes, marks directory) of a scheduler and two workers."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask")
    marks = logs / "marks"
    marks.mkdir()
    env = {**os.environ, "SLABPOLICY_TEST_MARKS": str(marks)}
    address = f"tcp://127.0.0.1:{free_port()}"
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(logs / f"{name}.log", "w")
        proc = subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        procs.append(proc)
        return proc

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port",
              address.rsplit(":", 1)[1], "--no-dashboard")
        workers = [start(f"worker{i}", "worker", address, "--nthreads", "1", "--no-nanny",
                         "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}")
                   for i in range(2)]
        with Client(address, timeout=STARTUP_TIMEOUT) as client:
            client.wait_for_workers(2, timeout=STARTUP_TIMEOUT)
        yield address, workers, marks
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


GRID = ("--grid", f"{RATE}=20/s,80/s", "--seeds", "2")


def test_a_sweep_on_dask_equals_the_local_one(cluster, small, tmp_path, monkeypatch):
    address, workers, _ = cluster
    local, dask = tmp_path / "local", tmp_path / "dask"
    ok(invoke("sweep", small, "--out", local, "--jobs", "1", *GRID))
    monkeypatch.setenv(executors.SCHEDULER_ENV, address)       # the address from the environment
    printed = ok(invoke("sweep", small, "--out", dask, "--executor", "dask", *GRID))
    assert results_in(dask) == results_in(local)
    assert len(results_in(dask)) == 8
    assert printed == ok(invoke("report", local))
    manifest = json.loads((dask / "manifest.json").read_text())
    executor = manifest["executor"]
    assert (executor["name"], executor["scheduler"], executor["workers"]) == ("dask", address, 2)
    assert manifest["status"] == "complete"
    # run again: everything reused, nothing submitted
    result = invoke("sweep", small, "--out", dask, "--executor", "dask", *GRID)
    ok(result)
    assert "(0 new, 8 reused)" in result.stderr


def test_a_lost_worker_has_its_run_re_run(cluster, small, tmp_path):
    """Last of the module: it kills one of the fixture's two workers."""
    address, workers, marks = cluster
    napper = tmp_path / "napper.py"
    napper.write_text(NAPPER)
    out, local = tmp_path / "out", tmp_path / "local"
    args = ["--policy", "napper", "--plugin", str(napper), "--grid", f"{RATE}=20/s,80/s",
            "--seeds", "1"]
    sweep = subprocess.Popen([sys.executable, "-m", "slabpolicy", "sweep", str(small),
                              "--out", str(out), "--executor", "dask", "--scheduler", address,
                              *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(list(marks.iterdir())) >= 1, "a run to start on a worker")
        first = min(marks.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        pid = int(first.name.split("-")[0])
        [victim] = [w for w in workers if w.pid == pid]          # one of ours, and only it
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        stdout, stderr = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, stderr
    started = sorted(p.name.split("-")[0] for p in marks.iterdir())
    survivor = next(w.pid for w in workers if w is not victim)
    # two runs, one of them started twice: on the lost worker, then on the other one
    assert len(started) == 3 and started.count(str(pid)) == 1
    assert started.count(str(survivor)) == 2
    ok(invoke("sweep", small, "--out", local, "--jobs", "1", *args))
    assert results_in(out) == results_in(local)
    assert len(results_in(out)) == 2


def test_files_are_shipped_to_a_worker_that_lacks_them(small, tmp_path):
    """A worker on another machine: the workload and plugin files are not at their
    paths there; the task writes them under a directory of its own, and the result
    names them as the client does."""
    napper = tmp_path / "napper.py"
    napper.write_text(NAPPER)
    task = Task(str(small), (f"{RATE}=20/s",), (str(napper),), "napper", 3, "", ((RATE, "20/s"),))
    from slabpolicy.workloads.spec import load_workload
    sha = load_workload(small, task.overrides).sha256
    task = Task(task.workload_path, task.overrides, task.plugin_paths, "napper", 3, sha,
                task.parameters)
    files = {"/elsewhere/w/small.yaml": small.read_bytes(),
             "/elsewhere/p/napper.py": napper.read_bytes()}
    moved = Task("/elsewhere/w/small.yaml", task.overrides, ("/elsewhere/p/napper.py",),
                 "napper", 3, sha, task.parameters)
    kind, result = executors.run_shipped(moved, files)
    assert kind == "ok", result
    assert result["workload"]["path"] == "/elsewhere/w/small.yaml"
    assert result["policy"]["source"] == "file /elsewhere/p/napper.py"
    assert result["parameters"] == {RATE: "20/s"}
    kind, here = executors.run_shipped(task, {str(small): small.read_bytes(),
                                              str(napper): napper.read_bytes()})
    same = ("ops", "memory", "latency_ns", "locks", "memcgs", "series", "seed")
    assert {k: result[k] for k in same} == {k: here[k] for k in same}


def test_an_unreachable_scheduler_is_one_line(small, tmp_path):
    result = invoke("sweep", small, "--out", tmp_path / "out", "--executor", "dask",
                    "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--grid",
                    "machine.cpus=2", "--seeds", "1")
    assert result.exit_code == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("--scheduler tcp://127.0.0.1:") and "cannot connect" in line
