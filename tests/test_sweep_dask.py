"""``slabpolicy sweep --executor dask`` on a real Dask cluster on this machine.

The fixture starts a real ``dask scheduler`` and two ``dask worker`` processes
(single-threaded, no nanny) on 127.0.0.1 at free ports, and stops them at the
end.  A sweep run on them gives the local executor's results to the last digit;
a worker killed while it runs a run has that run re-run on the other worker, even
one that joined after the sweep started; a run the scheduler cancels fails alone.
Skipped when dask and distributed are not installed (``pip install '.[dask]'``).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from slabpolicy.runs import executors  # noqa: E402
from slabpolicy.runs.matrix import Task  # noqa: E402

from cli_support import SMALL, invoke, ok, results_in, wait_for  # noqa: E402

RATE = "cgroups[0].arrival.rate"
DASK = str(Path(sys.executable).with_name("dask"))
STARTUP_TIMEOUT = 30

#: a policy that notes the worker process running it and, while the marks'
#: directory's hold file exists (60 s at most), waits at the start of its run, so
#: that a test can act on the cluster while a run is in the middle
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
            deadline = time.monotonic() + 60
            while os.path.exists(marks + ".hold") and time.monotonic() < deadline:
                time.sleep(0.02)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="napper", version="0.1", description="waits at the start of a run",
                       factory=Napper)]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A real ``dask scheduler`` on 127.0.0.1 at a free port, and the ``dask worker``
    processes started on it (single-threaded, no nanny), their logs in ``logs``.
    Runs of the napper policy leave their marks in ``marks``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.marks = logs / "marks"
        self.marks.mkdir(parents=True)
        self.env = {**os.environ, "SLABPOLICY_TEST_MARKS": str(self.marks)}
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self._start("scheduler", "scheduler", "--host", "127.0.0.1", "--port",
                    self.address.rsplit(":", 1)[1], "--no-dashboard")

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "w") as log:
            proc = subprocess.Popen([DASK, *args], stdout=log, stderr=subprocess.STDOUT,
                                    env=self.env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def add_worker(self) -> subprocess.Popen:
        """Start one more worker, and return once the scheduler counts it."""
        from distributed import Client

        name = f"w{len(self.workers)}"
        self.workers.append(self._start(name, "worker", self.address, "--nthreads", "1",
                                        "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                        "--name", name))
        with Client(self.address, timeout=STARTUP_TIMEOUT) as client:
            client.wait_for_workers(len(self.workers), timeout=STARTUP_TIMEOUT)
        return self.workers[-1]

    @contextmanager
    def holding(self):
        """Napper runs wait at their start while this lasts."""
        hold = self.marks.with_name(self.marks.name + ".hold")
        hold.touch()
        try:
            yield
        finally:
            hold.unlink()

    def forget_marks(self) -> None:
        for mark in self.marks.iterdir():
            mark.unlink()

    def started(self) -> list[int]:
        """The pid of the worker of each napper run started so far, oldest first."""
        marks = sorted(self.marks.iterdir(), key=lambda p: p.stat().st_mtime_ns)
        return [int(p.name.split("-")[0]) for p in marks]

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def dask_cluster(logs: Path, workers: int):
    cluster = Cluster(logs)
    try:
        for _ in range(workers):
            cluster.add_worker()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, for the whole module."""
    with dask_cluster(tmp_path_factory.mktemp("dask"), 2) as cluster:
        yield cluster


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


GRID = ("--grid", f"{RATE}=20/s,80/s", "--seeds", "2")


def test_a_sweep_on_dask_equals_the_local_one(cluster, small, tmp_path, monkeypatch):
    local, dask = tmp_path / "local", tmp_path / "dask"
    ok(invoke("sweep", small, "--out", local, "--jobs", "1", *GRID))
    monkeypatch.setenv(executors.SCHEDULER_ENV, cluster.address)  # the address from the environment
    printed = ok(invoke("sweep", small, "--out", dask, "--executor", "dask", *GRID))
    assert results_in(dask) == results_in(local)
    assert len(results_in(dask)) == 8
    assert printed == ok(invoke("report", local))
    manifest = json.loads((dask / "manifest.json").read_text())
    executor = manifest["executor"]
    assert (executor["name"], executor["scheduler"], executor["workers"]) == (
        "dask", cluster.address, 2)
    assert manifest["status"] == "complete"
    # run again: everything reused, nothing submitted
    result = invoke("sweep", small, "--out", dask, "--executor", "dask", *GRID)
    ok(result)
    assert "(0 new, 8 reused)" in result.stderr


@pytest.fixture
def napper(tmp_path: Path) -> list[str]:
    """The sweep options of the napper policy at two grid points, one seed."""
    path = tmp_path / "napper.py"
    path.write_text(NAPPER)
    return ["--policy", "napper", "--plugin", str(path), "--grid", f"{RATE}=20/s,80/s",
            "--seeds", "1"]


def start_sweep(cluster: Cluster, small: Path, out: Path, args: list[str]) -> subprocess.Popen:
    """``slabpolicy sweep`` on the cluster, in a process of its own; returns once a
    run has started on a worker."""
    sweep = subprocess.Popen([sys.executable, "-m", "slabpolicy", "sweep", str(small), "--out",
                              str(out), "--executor", "dask", "--scheduler", cluster.address,
                              *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: cluster.started() or sweep.poll() is not None,
                 "a run to start on a worker")
    except BaseException:
        sweep.kill()
        raise
    return sweep


def finish(sweep: subprocess.Popen) -> str:
    """The sweep's stderr once it has ended by itself (killed after 60 s)."""
    try:
        return sweep.communicate(timeout=60)[1]
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()


def kill_worker(cluster: Cluster, pid: int) -> subprocess.Popen:
    [victim] = [w for w in cluster.workers if w.pid == pid]      # one of ours, and only it
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    return victim


def test_a_run_the_scheduler_cancels_fails_alone_and_runs_again(cluster, small, napper,
                                                                 tmp_path):
    """Another client cancels one run's task: that run is reported as failed, the
    other's result is kept, and the same command again runs only the cancelled one."""
    from distributed import Client, Future

    cluster.forget_marks()
    out, local = tmp_path / "out", tmp_path / "local"
    with cluster.holding(), Client(cluster.address, timeout=STARTUP_TIMEOUT) as client:
        sweep = start_sweep(cluster, small, out, napper)

        def assigned() -> list[str]:
            return [k for keys in client.processing().values() for k in keys
                    if "rate=80_s" in str(k)]
        wait_for(assigned, "the 80/s run's task to be on a worker")
        [key] = assigned()
        client.cancel([Future(key, client)], force=True)
    stderr = finish(sweep)
    assert sweep.returncode == 1, stderr
    point = f"small ({RATE}=80/s) / napper / seed "
    [cancelled] = [line for line in stderr.splitlines()
                   if "the Dask scheduler cancelled it" in line]
    assert cancelled.startswith(point), cancelled
    assert "1 run(s) failed: 1 of 2 runs finished" in stderr
    ok(invoke("sweep", small, "--out", local, "--jobs", "1", *napper))
    [(name, kept)] = results_in(out).items()
    assert "rate=20_s" in name and kept == results_in(local)[name]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [m["error"].startswith(point) for m in manifest["missing"]] == [True]
    again = invoke("sweep", small, "--out", out, "--executor", "dask", "--scheduler",
                   cluster.address, *napper)
    ok(again)
    assert "(1 new, 1 reused)" in again.stderr
    assert results_in(out) == results_in(local)


def test_a_lost_worker_has_its_run_re_run(cluster, small, napper, tmp_path):
    """Last of the module: it kills one of the fixture's two workers."""
    cluster.forget_marks()
    out, local = tmp_path / "out", tmp_path / "local"
    with cluster.holding():
        sweep = start_sweep(cluster, small, out, napper)
        [pid] = cluster.started()[:1]
        victim = kill_worker(cluster, pid)
    stderr = finish(sweep)
    assert sweep.returncode == 0, stderr
    survivor = next(w.pid for w in cluster.workers if w is not victim)
    # two runs, one of them started twice: on the lost worker, then on the other one
    assert sorted(cluster.started()) == sorted([pid, survivor, survivor])
    ok(invoke("sweep", small, "--out", local, "--jobs", "1", *napper))
    assert results_in(out) == results_in(local)
    assert len(results_in(out)) == 2


def test_a_worker_that_joins_late_takes_over_from_the_only_one_lost(small, napper, tmp_path):
    """A one-run sweep starts on a cluster of one worker; a second worker joins while
    the run is in the middle, and the first is killed.  The new worker was given
    none of the first one's data, the runs' files among it, yet it runs the run."""
    one_point = [*napper[:napper.index("--grid")], "--grid", f"{RATE}=20/s", "--seeds", "1"]
    with dask_cluster(tmp_path / "dask", 1) as cluster:
        out, local = tmp_path / "out", tmp_path / "local"
        with cluster.holding():
            sweep = start_sweep(cluster, small, out, one_point)
            [first] = cluster.workers
            late = cluster.add_worker()
            kill_worker(cluster, first.pid)
        stderr = finish(sweep)
        assert sweep.returncode == 0, stderr
        assert cluster.started() == [first.pid, late.pid]
    ok(invoke("sweep", small, "--out", local, "--jobs", "1", *one_point))
    assert results_in(out) == results_in(local)
    assert len(results_in(out)) == 1


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
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):   # 30 s by default
        result = invoke("sweep", small, "--out", tmp_path / "out", "--executor", "dask",
                        "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--grid",
                        "machine.cpus=2", "--seeds", "1")
    assert result.exit_code == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("--scheduler tcp://127.0.0.1:") and "cannot connect" in line
    assert "after 2 s" in line
