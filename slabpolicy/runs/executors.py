"""Where an experiment's runs run: local worker processes, or a Dask cluster.

Both implement :class:`slabpolicy.runs.matrix.Executor`: ``run(todo, progress,
finished)`` calls ``finished(run, outcome)`` with :func:`~slabpolicy.runs.matrix.execute`'s
outcome of every run as it arrives, and ``describe()`` is what the manifest
records.  Use them as context managers: a Dask executor connects on entry (so a
scheduler that cannot be reached fails before anything runs) and disconnects,
stopping a cluster it started, on exit.

:class:`LocalExecutor` is ``compare``'s pool of worker processes (or this
process with one job).  :class:`DaskExecutor` submits each run as a task to a
Dask distributed scheduler (``dask``/``distributed``: the ``[dask]`` extra), or
to a ``LocalCluster`` it starts when given no address.  A task carries plain data
and the bytes of the files it needs (the workload and plugin files), so workers
need slabpolicy installed but not the client's files; a worker lost mid-run has
its task re-run elsewhere by the scheduler (up to its ``allowed-failures``).

The files travel as one task of their own (:func:`_files_task`) on which every
run depends, not as scattered data: the scheduler can run a task again, but
scattered data lost with the last worker holding it is gone, and every run
needing it is cancelled.  Broadcasting does not prevent that, because the
scheduler's active memory manager drops the replicas no waiting task needs, and
a worker that joins later has none.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from slabpolicy.errors import SlabpolicyError
from slabpolicy.runs import matrix
from slabpolicy.runs.matrix import Finished, PlannedRun, Progress, Task, execute

#: The environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "SLABPOLICY_DASK_SCHEDULER"
EXECUTORS = ("local", "dask")


class LocalExecutor:
    """``jobs`` worker processes on this machine (1: this process)."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = matrix.default_jobs() if jobs is None else jobs

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"name": "local", "jobs": self.jobs}

    def run(self, todo: list[PlannedRun], progress: Progress | None, finished: Finished) -> None:
        if self.jobs <= 1 or len(todo) == 1:
            matrix._run_here(todo, progress, finished)
        else:
            matrix._run_pool(todo, min(self.jobs, len(todo)), progress, finished)


class DaskExecutor:
    """Runs as tasks on a Dask distributed cluster: the scheduler at ``address``,
    or a ``LocalCluster`` of ``jobs`` single-threaded worker processes."""

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        self.address = address
        self.jobs = matrix.default_jobs() if jobs is None else jobs
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SlabpolicyError("--executor dask needs dask and distributed: "
                                  "pip install 'slabpolicy[dask]'") from None
        try:
            if self.address is None:
                self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1,
                                            processes=True, dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                # how long to try: Dask's distributed.comm.timeouts.connect (30 s)
                self.client = Client(self.address)
        except (OSError, TimeoutError, ValueError) as exc:
            self.__exit__()
            where = self.address or "a LocalCluster"
            raise SlabpolicyError(f"--scheduler {where}: cannot connect to the Dask "
                                  f"scheduler: {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def describe(self) -> dict[str, Any]:
        import dask
        import distributed
        info = self.client.scheduler_info() if self.client is not None else {}
        workers = info.get("workers", {})
        return {"name": "dask", "scheduler": self.client.scheduler.address if self.client else
                self.address, "local_cluster": self.address is None, "workers": len(workers),
                "threads": sum(w.get("nthreads", 0) for w in workers.values()),
                "dask": dask.__version__, "distributed": distributed.__version__}

    def run(self, todo: list[PlannedRun], progress: Progress | None, finished: Finished) -> None:
        from concurrent.futures import CancelledError
        from contextlib import nullcontext

        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        files = self.client.submit(_files_task, _files_of(todo), pure=False,
                                   key=f"slabpolicy-files-{uuid.uuid4().hex[:8]}")
        futures = {}
        try:
            for run in todo:
                key = f"slabpolicy-{run.filename}-{uuid.uuid4().hex[:8]}"
                futures[self.client.submit(run_shipped, run.task, files, key=key,
                                           pure=False)] = run
            with (progress(len(todo)) if progress else nullcontext(lambda: None)) as advance:
                for future in as_completed(futures):
                    run = futures[future]
                    try:
                        outcome = future.result()
                    except KilledWorker as exc:
                        outcome = ("error", f"{run.describe()}: every Dask worker that ran it "
                                            f"died ({exc}); the scheduler gave up on it")
                    except CancelledError as exc:
                        outcome = ("error", f"{run.describe()}: the Dask scheduler cancelled "
                                            f"it ({exc})")
                    finished(run, outcome)
                    advance()
        except BaseException:
            self.client.cancel(list(futures), force=True)
            raise


def _files_of(todo: list[PlannedRun]) -> dict[str, bytes]:
    """The bytes of every file the runs read (workloads and plugins), by absolute path."""
    paths: set[str] = set()
    for run in todo:
        paths.add(os.path.abspath(run.task.workload_path))
        paths.update(os.path.abspath(p) for p in run.task.plugin_paths)
        paths.update(run.workload.plugins)
    files = {}
    for path in sorted(paths):
        try:
            files[path] = Path(path).read_bytes()
        except OSError as exc:
            raise SlabpolicyError(f"{path}: cannot read it to send to the Dask workers: "
                                  f"{exc.strerror or exc}") from None
    return files


def _files_task(files: dict[str, bytes]) -> dict[str, bytes]:
    """The Dask task that holds the runs' files: it returns its argument, so the
    bytes are in the task itself and the scheduler can make them again."""
    return files


def _here(files: dict[str, bytes]) -> str:
    """Where the files are on this worker: ``""`` when each is at its own path with
    the same bytes, else a directory holding a copy of each under its path."""
    if all(_same(path, data) for path, data in files.items()):
        return ""
    digest = hashlib.sha256()
    for path, data in sorted(files.items()):
        digest.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
    root = Path(tempfile.gettempdir()) / "slabpolicy-dask" / digest.hexdigest()[:16]
    for path, data in files.items():
        copy = root / path.lstrip("/")
        if not _same(str(copy), data):
            copy.parent.mkdir(parents=True, exist_ok=True)
            tmp = copy.with_name(f".{copy.name}.{uuid.uuid4().hex}")
            tmp.write_bytes(data)
            os.replace(tmp, copy)
    return str(root)


def _same(path: str, data: bytes) -> bool:
    try:
        return Path(path).read_bytes() == data
    except OSError:
        return False


def run_shipped(task: Task, files: dict[str, bytes]) -> tuple[str, Any]:
    """A Dask task: :func:`~slabpolicy.runs.matrix.execute` of ``task`` with its files
    where this worker has them, the result naming them as the client does."""
    root = _here(files)
    local = replace(task, workload_path=root + os.path.abspath(task.workload_path),
                    plugin_paths=tuple(root + os.path.abspath(p) for p in task.plugin_paths))
    kind, value = execute(local)
    if kind == "ok":
        value["workload"]["path"] = task.workload_path
        if root and isinstance(value["policy"].get("source"), str):
            value["policy"]["source"] = value["policy"]["source"].replace(root, "")
    return kind, value


def make_executor(name: str, scheduler: str | None, jobs: int | None):
    """The executor ``--executor NAME`` asks for (``--scheduler``, or the
    :data:`SCHEDULER_ENV` variable, is the Dask scheduler's address)."""
    if name not in EXECUTORS:
        raise SlabpolicyError(f"--executor {name}: use one of {', '.join(EXECUTORS)}")
    if name == "local":
        if scheduler:
            raise SlabpolicyError("--scheduler is for --executor dask")
        return LocalExecutor(jobs)
    return DaskExecutor(scheduler or os.environ.get(SCHEDULER_ENV) or None, jobs)
