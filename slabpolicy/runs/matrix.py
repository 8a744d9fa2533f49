"""Experiments: a workload x policy x seed matrix, kept in a results directory.

:func:`plan_experiment` loads and checks the workloads and their policies (nothing
runs if anything is wrong) and lists the runs: every policy the workload lists (or
those asked for) under seeds ``workload.seed`` .. ``workload.seed + N - 1``.

:func:`run_experiment` finds the runs whose result file is already in the
directory (same workload sha256, policy name, version and options, and seed) and
reuses them; the others run in worker processes (or in this process with
``jobs=1``).  A worker gets plain data (:class:`Task`), loads the workload
itself and returns the result document; the parent writes each result as soon
as it arrives, atomically, and ``manifest.json`` (provenance and the list of
runs) at the start and at the end, whatever the end is.  An interruption (Ctrl-C,
a worker killed) or a failed run loses no finished run: running the same command
again runs only what is missing.

The bundled default experiment is ``slabpolicy/experiments/default.yaml`` when
installed as package data, else ``experiments/default.yaml`` of the source tree
the package sits in (:func:`default_experiment`).
"""
from __future__ import annotations

import json
import os
import platform
import sys
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, ContextManager, Protocol, Sequence

from slabpolicy import __version__
from slabpolicy.errors import SlabpolicyError
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.dirlock import hold_directory, is_held
from slabpolicy.interrupts import Terminated, raise_pending, user_stops
from slabpolicy.runs.monitor import DEFAULT_RUN_TIMEOUT
from slabpolicy.runs.pool import run_in_pool
from slabpolicy.runs.results import (checksum_status, result_filename, write_json_atomic,
                                     write_result)
from slabpolicy.runs.runner import SCHEMA, PolicyRun, resolve_policies, run_one
from slabpolicy.workloads.bundled import experiments_dirs
from slabpolicy.workloads.spec import Workload, load_workload
from slabpolicy.workloads.trust import trusted_plugins

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "slabpolicy.manifest/1"
DEFAULT_SEEDS = 6
DEFAULT_EXPERIMENT = "default.yaml"
#: Exit status of a compare stopped by Ctrl-C (128 + SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130


# --------------------------------------------------------------------------- #
# Where the bundled experiments are
# --------------------------------------------------------------------------- #

def experiments_dir() -> Path | None:
    """The first directory of :func:`experiments_dirs` holding the default experiment."""
    for directory in experiments_dirs():
        if (directory / DEFAULT_EXPERIMENT).is_file():
            return directory
    return None


def default_experiment() -> Path:
    """The bundled default experiment's file; a SlabpolicyError if it is not installed."""
    directory = experiments_dir()
    if directory is None:
        looked = " and ".join(str(d / DEFAULT_EXPERIMENT) for d in experiments_dirs())
        raise SlabpolicyError(f"the bundled default experiment is not installed (looked for "
                              f"{looked}); name a workload file")
    return directory / DEFAULT_EXPERIMENT


# --------------------------------------------------------------------------- #
# The plan
# --------------------------------------------------------------------------- #

@dataclass(frozen=True)
class Task:
    """One run, as plain data for a worker process."""

    workload_path: str
    overrides: tuple[str, ...]
    plugin_paths: tuple[str, ...]
    label: str
    seed: int
    sha256: str        # the workload the parent checked; a worker that reads another fails
    #: a sweep's grid point ((path, value), ...), also among ``overrides``; the
    #: result records it as ``parameters``
    parameters: tuple[tuple[str, str], ...] = ()
    #: the watchdog's seconds without progress (--run-timeout; 0: none)
    run_timeout: float = DEFAULT_RUN_TIMEOUT


@dataclass
class PlannedRun:
    task: Task
    workload: Workload
    policy: PolicyRun
    filename: str
    result: dict | None = None
    reused: bool = False
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.workload.name, self.policy.label, self.task.seed)

    def describe(self) -> str:
        """The run in a message: workload (and a sweep's grid point), policy, seed."""
        point = ", ".join(f"{path}={value}" for path, value in self.task.parameters)
        where = f"{self.workload.name} ({point})" if point else self.workload.name
        return f"{where} / {self.policy.label} / seed {self.task.seed}"


@dataclass
class Plan:
    workloads: list[Workload]
    policies: dict[str, list[PolicyRun]]      # workload name -> its policies, in order
    seeds: dict[str, list[int]]               # workload name -> its seeds
    overrides: tuple[str, ...]
    plugin_paths: tuple[str, ...]
    runs: list[PlannedRun] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """Every policy label of the plan, in order of first appearance."""
        seen: dict[str, None] = {}
        for runs in self.policies.values():
            for r in runs:
                seen.setdefault(r.label, None)
        return list(seen)


def _filename(workload: Workload, label: str, seed: int) -> str:
    return result_filename({"workload": {"name": workload.name}, "policy": {"label": label},
                            "seed": seed})


def plan_experiment(files: Sequence[str | os.PathLike[str]] = (), *, policies: Sequence[str] = (),
                    seeds: int = DEFAULT_SEEDS, overrides: Sequence[str] = (),
                    plugin_paths: Sequence[str | os.PathLike[str]] = (),
                    allow_workload_plugins: bool = False) -> Plan:
    """Load and check every workload and policy; list the runs.  Nothing runs.

    A workload's own ``plugins:`` are refused unless ``allow_workload_plugins``
    (see :mod:`slabpolicy.workloads.trust`)."""
    if seeds < 1:
        raise SlabpolicyError(f"--seeds {seeds}: must be at least 1")
    paths = [os.fspath(f) for f in files] or [str(default_experiment())]
    unique: dict[str, str] = {}
    for p in paths:
        unique.setdefault(os.path.realpath(p), p)
    overrides = tuple(str(o) for o in overrides)
    plugins = tuple(os.fspath(p) for p in plugin_paths)
    plan = Plan([], {}, {}, overrides, plugins)
    by_name: dict[str, str] = {}
    for path in unique.values():
        workload = load_workload(path, overrides)
        if workload.name in by_name:
            raise SlabpolicyError(f"{path}: workload name {workload.name!r} is also the name of "
                                  f"{by_name[workload.name]}; results are filed by name, so give "
                                  f"each workload its own")
        by_name[workload.name] = path
        pm = make_plugin_manager(plugins + trusted_plugins(workload, allow_workload_plugins,
                                                           plugins))
        runs = resolve_policies(workload, list(policies), policy_registry(pm))
        plan.workloads.append(workload)
        plan.policies[workload.name] = runs
        # a replayed trace is the same for every seed: one run per policy
        n_seeds = 1 if workload.trace is not None else seeds
        plan.seeds[workload.name] = [workload.seed + i for i in range(n_seeds)]
        for policy in runs:
            for seed in plan.seeds[workload.name]:
                task = Task(path, overrides, plugins, policy.label, seed, workload.sha256)
                plan.runs.append(PlannedRun(task, workload, policy,
                                            _filename(workload, policy.label, seed)))
    return plan


# --------------------------------------------------------------------------- #
# Reuse
# --------------------------------------------------------------------------- #

def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value))


def read_result(path: Path) -> dict | None:
    """A result document read back, or None if the file is missing, partial or not one
    (or not a regular file: a FIFO named like a result would block the reader)."""
    if not Path(path).is_file():
        return None
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return None
    try:
        if not (isinstance(doc["workload"]["sha256"], str) and isinstance(doc["policy"]["label"], str)
                and isinstance(doc["seed"], int)):
            return None
        for section in ("ops", "memory", "latency_ns", "locks", "accounting"):
            if not isinstance(doc[section], dict):
                return None
    except (KeyError, TypeError):
        return None
    return doc


def matches(doc: dict, run: PlannedRun) -> bool:
    """Is ``doc`` the result of ``run``: same workload (sha256), policy and seed?"""
    policy = doc.get("policy", {})
    spec = run.policy.entry.spec
    return (doc["workload"]["sha256"] == run.workload.sha256
            and doc["workload"].get("name") == run.workload.name
            and policy.get("name") == spec.name
            and policy.get("label") == run.policy.label
            and policy.get("version") == spec.version
            and _plain(policy.get("options")) == _plain(run.policy.options)
            and doc["seed"] == run.task.seed)


def find_reusable(plan: Plan, out: Path) -> int:
    """Mark every run whose result is already in ``out``; return how many."""
    reused = 0
    for run in plan.runs:
        doc = read_result(out / run.filename)
        # a file whose figures cannot be vouched for (changed, or no checksum) is run again
        if doc is not None and matches(doc, run) and checksum_status(doc) == "ok":
            run.result, run.reused = doc, True
            reused += 1
    return reused


# --------------------------------------------------------------------------- #
# Running
# --------------------------------------------------------------------------- #

def execute(task: Task) -> tuple[str, Any]:
    """Run one task (in a worker or in this process): ``("ok", result)`` or
    ``("error", message)`` for a problem the user can fix (a plugin that raises).

    Only plain data crosses the process boundary, in both directions.
    """
    try:
        workload = load_workload(task.workload_path, task.overrides)
        if workload.sha256 != task.sha256:
            raise SlabpolicyError(f"{task.workload_path}: the file changed while compare was "
                                  f"running; run compare again")
        pm = make_plugin_manager(task.plugin_paths + workload.plugins)
        [policy] = resolve_policies(workload, [task.label], policy_registry(pm))
        result = run_one(workload, policy, task.seed, plugin_paths=task.plugin_paths,
                         run_timeout=task.run_timeout)
        if task.parameters:
            result["parameters"] = dict(task.parameters)
        return "ok", result
    except SlabpolicyError as exc:
        return "error", str(exc)


def default_jobs() -> int:
    """One worker per cpu this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:            # not Linux
        return max(1, os.cpu_count() or 1)


class ExperimentStopped(SlabpolicyError):
    """The experiment did not finish: interrupted, a worker died, or runs failed.

    Every finished run is in the results directory and in its manifest; ``str()``
    says how many finished and how to go on.
    """

    def __init__(self, message: str, exit_code: int, status: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status


@dataclass
class Outcome:
    plan: Plan
    out: Path
    reused: int
    ran: int
    status: str

    @property
    def results(self) -> list[dict]:
        """The plan's results, in plan order (workload, policy, seed)."""
        return [r.result for r in self.plan.runs if r.result is not None]


Progress = Callable[[int], ContextManager[Callable[[], None]]]
Finished = Callable[[PlannedRun, tuple[str, Any]], None]


class Executor(Protocol):
    """What runs the missing runs of an experiment (see :mod:`slabpolicy.runs.executors`).

    ``run`` calls ``finished(run, execute(run.task))`` for each run as its result
    arrives, advancing the progress bar; it raises KeyboardInterrupt when
    interrupted, after stopping the work it started.  ``describe`` is the
    manifest's ``executor`` entry.
    """

    def run(self, todo: list[PlannedRun], progress: Progress | None,
            finished: Finished) -> None: ...

    def describe(self) -> dict[str, Any]: ...


def run_experiment(plan: Plan, out: Path, *, jobs: int | None = None,
                   progress: Progress | None = None,
                   on_result: Callable[[PlannedRun], None] | None = None,
                   argv: Sequence[str] | None = None, executor: Executor | None = None,
                   extra: dict[str, Any] | None = None,
                   run_timeout: float | None = None,
                   meanwhile: Callable[[], None] | None = None) -> Outcome:
    """Run what is missing of ``plan`` into ``out``; return the outcome.

    ``run_timeout`` (seconds; 0 for none) replaces each task's watchdog setting.
    ``meanwhile()`` is called once in this process while local worker processes
    run (compare imports its report's modules then); never with ``jobs=1``.

    ``executor`` runs the missing runs (default: local worker processes, ``jobs``
    of them); ``extra`` is added to the manifest (a sweep's grid).

    Raises :class:`ExperimentStopped` (after writing every finished result and the
    manifest) when interrupted, when a worker process dies, or when runs failed;
    the runs that could run have run.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SlabpolicyError(f"--out {out}: cannot create the directory: "
                              f"{exc.strerror or exc}") from exc
    if run_timeout is not None:
        for run in plan.runs:
            run.task = replace(run.task, run_timeout=run_timeout)
    with hold_directory(out), user_stops():
        return _run_locked(plan, out, jobs, progress, on_result, argv, executor, extra,
                           meanwhile)


def _run_locked(plan: Plan, out: Path, jobs: int | None, progress: Progress | None,
                on_result: Callable[[PlannedRun], None] | None, argv: Sequence[str] | None,
                executor: Executor | None, extra: dict[str, Any] | None,
                meanwhile: Callable[[], None] | None = None) -> Outcome:
    """run_experiment, with the directory locked and SIGTERM/SIGHUP raising Terminated."""
    jobs = default_jobs() if jobs is None else jobs
    started = _now()
    argv = list(sys.argv if argv is None else argv)
    reused = find_reusable(plan, out)
    todo = [r for r in plan.runs if r.result is None]
    state = {"ran": 0}
    extra = dict(extra or {})
    if executor is not None:
        extra["executor"] = executor.describe()
    _write_manifest(plan, out, started, None, "running", argv, jobs, extra)

    def finished(run: PlannedRun, outcome: tuple[str, Any]) -> None:
        kind, value = outcome
        if kind == "ok":
            _write_result(out, run, value)
            run.result = value
            state["ran"] += 1
            if on_result is not None:
                on_result(run)
        else:
            run.error = value

    status = "complete"
    stopped: ExperimentStopped | None = None
    try:
        if todo and executor is not None:
            executor.run(todo, progress, finished)
        elif todo:
            if jobs <= 1 or len(todo) == 1:
                _run_here(todo, progress, finished)
            else:
                _run_pool(todo, min(jobs, len(todo)), progress, finished, meanwhile)
        raise_pending()                 # a stop that landed where Python ignored it
    except Terminated as exc:
        status = "terminated"
        stopped = ExperimentStopped(
            f"terminated by {exc}: {_tally(plan)}; run the same command "
            f"again{_with_out(argv, out)} to run the rest", 128 + exc.signum, status)
    except KeyboardInterrupt:
        status = "interrupted"
        stopped = ExperimentStopped(
            f"interrupted: {_tally(plan)}; run the same command again"
            f"{_with_out(argv, out)} to run the rest", EXIT_INTERRUPTED, status)
    except BrokenProcessPool:
        status = "broken"
        stopped = ExperimentStopped(
            f"a worker process died (killed, or out of memory?): {_tally(plan)}; run the same "
            f"command again{_with_out(argv, out)} to run the rest", 1, status)
    except SlabpolicyError:             # e.g. a result could not be written
        _write_manifest(plan, out, started, _now(), "stopped", argv, jobs, extra)
        raise
    except BaseException:
        _write_manifest(plan, out, started, _now(), "crashed", argv, jobs, extra)
        raise
    failed = [r for r in plan.runs if r.error is not None]
    if stopped is None and failed:
        status = "failed"
        lines = _failure_lines(plan, failed)
        lines.append(f"{len(failed)} run(s) failed: {_tally(plan)}; fix the problem and run the "
                     f"same command again{_with_out(argv, out)} to run the rest")
        stopped = ExperimentStopped("\n".join(lines), 1, status)
    _write_manifest(plan, out, started, _now(), status, argv, jobs, extra)
    if stopped is not None:
        raise stopped
    return Outcome(plan, out, reused, state["ran"], status)


def _failure_lines(plan: Plan, failed: list[PlannedRun]) -> list[str]:
    """One line per policy (of a workload) whose runs failed: the first error, and
    how many of its runs failed."""
    groups: dict[tuple[str, str], list[PlannedRun]] = {}
    for run in failed:
        groups.setdefault((run.workload.name, run.policy.label), []).append(run)
    lines = []
    for (workload, label), runs in groups.items():
        total = sum(1 for r in plan.runs if (r.workload.name, r.policy.label) == (workload, label))
        lines.append(f"{runs[0].error} [{len(runs)} of {total} runs of {label} on {workload} "
                     f"failed]")
    return lines


def _tally(plan: Plan) -> str:
    done = sum(1 for r in plan.runs if r.result is not None)
    return f"{done} of {len(plan.runs)} runs finished"


def _with_out(argv: Sequence[str], out: Path) -> str:
    """' with --out DIR' unless the command line already named the directory."""
    if any(a == "--out" or a.startswith("--out=") for a in argv[1:]):
        return ""
    return f" with --out {out}"


def _run_here(todo: list[PlannedRun], progress: Progress | None,
              finished: Callable[[PlannedRun, tuple[str, Any]], None]) -> None:
    with (progress(len(todo)) if progress else nullcontext(lambda: None)) as advance:
        for run in todo:
            raise_pending()
            finished(run, execute(run.task))
            advance()


def _run_pool(todo: list[PlannedRun], jobs: int, progress: Progress | None,
              finished: Callable[[PlannedRun, tuple[str, Any]], None],
              meanwhile: Callable[[], None] | None = None) -> None:
    run_in_pool(execute, [r.task for r in todo], jobs,
                lambda i, outcome: finished(todo[i], outcome),
                progress(len(todo)) if progress else None, meanwhile=meanwhile)


def _write_result(out: Path, run: PlannedRun, result: dict) -> None:
    try:
        write_result(out / run.filename, result)
    except OSError as exc:
        raise SlabpolicyError(f"--out {out}: cannot write {run.filename}: "
                              f"{exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- #
# The manifest
# --------------------------------------------------------------------------- #

def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _run_entry(run: PlannedRun) -> dict[str, Any]:
    return {"file": run.filename, "workload": run.workload.name,
            "workload_sha256": run.workload.sha256, "policy": run.policy.label,
            "policy_name": run.policy.entry.spec.name,
            "policy_version": run.policy.entry.spec.version, "seed": run.task.seed,
            "reused": run.reused,
            **({"parameters": dict(run.task.parameters)} if run.task.parameters else {})}


def manifest(plan: Plan, started: str, finished: str | None, status: str,
             argv: Sequence[str], jobs: int, previous: dict | None = None,
             out: Path | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance of a results directory and the list of its finished runs.

    Runs listed by an earlier manifest of the directory that this plan does not
    cover (another policy, other seeds) are kept in the list while their file is
    there, so that the manifest describes the whole directory.
    """
    policies: list[dict[str, Any]] = []
    seen: set[str] = set()
    for runs in plan.policies.values():
        for r in runs:
            entry = {"label": r.label, "name": r.entry.spec.name, "version": r.entry.spec.version,
                     "source": r.entry.source, "plugin": r.entry.plugin,
                     "options": _plain(r.options)}
            key = json.dumps(entry, sort_keys=True)
            if key not in seen:
                seen.add(key)
                policies.append(entry)
    runs = [_run_entry(r) for r in plan.runs if r.result is not None]
    mine = {r.filename for r in plan.runs}
    earlier = []
    if previous and out is not None:
        for entry in previous.get("runs", []) or []:
            name = entry.get("file") if isinstance(entry, dict) else None
            if isinstance(name, str) and name not in mine and (out / name).is_file():
                earlier.append({**entry, "reused": True, "earlier": True})
    return {
        "schema": MANIFEST_SCHEMA,
        "status": status,
        "pid": os.getpid(),
        "slabpolicy": __version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "host": platform.node(),
        "platform": platform.platform(),
        "command": list(argv),
        "cwd": os.getcwd(),
        "jobs": jobs,
        "started": started,
        "finished": finished,
        "workloads": [{"name": w.name, "path": w.path, "abspath": os.path.abspath(w.path),
                       "sha256": w.sha256, "overrides": list(plan.overrides),
                       "seeds": plan.seeds[w.name],
                       "policies": [r.label for r in plan.policies[w.name]]}
                      for w in plan.workloads],
        "plugins": list(plan.plugin_paths),
        "policies": policies,
        "planned": len(plan.runs),
        "finished_runs": len(runs),
        "runs": runs + earlier,
        "missing": [{"file": r.filename, "workload": r.workload.name, "policy": r.policy.label,
                     "seed": r.task.seed, **({"error": r.error} if r.error else {})}
                    for r in plan.runs if r.result is None],
        **(extra or {}),
    }


def read_manifest(out: Path) -> dict | None:
    if not (Path(out) / MANIFEST).is_file():
        return None
    try:
        with open(Path(out) / MANIFEST) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("schema") == MANIFEST_SCHEMA else None


def _write_manifest(plan: Plan, out: Path, started: str, finished: str | None, status: str,
                    argv: Sequence[str], jobs: int, extra: dict[str, Any] | None = None) -> None:
    doc = manifest(plan, started, finished, status, argv, jobs, read_manifest(out), out, extra)
    try:
        write_json_atomic(out / MANIFEST, doc)
    except OSError as exc:
        raise SlabpolicyError(f"--out {out}: cannot write {MANIFEST}: "
                              f"{exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- #
# Reading a results directory back
# --------------------------------------------------------------------------- #

def load_results(directory: str | os.PathLike[str],
                 warn: Callable[[str], None] | None = None) -> list[dict]:
    """Every result document in ``directory`` (manifest and temporary files aside).

    The order is the manifest's when there is one (the order compare printed),
    then the rest by workload, policy label and seed.  A file that is not a
    result document is skipped, with a warning.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SlabpolicyError(f"{directory}: no such results directory")
    docs: dict[str, dict] = {}
    for path in sorted(directory.glob("*.json")):
        if path.name == MANIFEST or path.name.startswith("."):
            continue
        doc = read_result(path)
        if doc is None:
            if warn is not None:
                warn(f"{path}: not a result document (partial or corrupt?); skipped")
            continue
        if warn is not None and checksum_status(doc) == "mismatch":
            warn(f"{path}: its figures do not match its checksum (changed after it was "
                 f"written?); shown anyway, and compare into this directory runs it again")
        docs[path.name] = doc
    if not docs:
        raise SlabpolicyError(f"{directory}: no result files")
    order: dict[str, int] = {}
    previous = read_manifest(directory)
    if warn is not None and previous is not None:
        ended = how_it_ended(directory, previous)
        if ended:
            warn(f"{directory / MANIFEST}: {ended}")
    for entry in (previous or {}).get("runs", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            order.setdefault(entry["file"], len(order))
    rest = sorted((n for n in docs if n not in order),
                  key=lambda n: (docs[n]["workload"].get("name", ""), docs[n]["policy"]["label"],
                                 docs[n]["seed"]))
    ordered = sorted((n for n in docs if n in order), key=order.__getitem__) + rest
    return [docs[n] for n in ordered]


#: A manifest's status -> how a reader says the compare ended (complete: nothing).
ENDINGS = {
    "interrupted": "the compare was interrupted (Ctrl-C)",
    "terminated": "the compare was terminated (SIGTERM or SIGHUP)",
    "broken": "a worker process of the compare died",
    "failed": "runs of the compare failed",
    "stopped": "the compare stopped on an error",
    "crashed": "the compare crashed",
}


def how_it_ended(directory: Path, doc: dict) -> str | None:
    """Why the results of ``directory`` may be incomplete, from its manifest; None if
    its compare completed.  A manifest still "running" while no compare holds the
    directory's lock was left by a compare killed with no chance to write (kill -9)."""
    status = doc.get("status")
    if status == "complete":
        return None
    planned, done = doc.get("planned"), doc.get("finished_runs")
    tally = f" ({done} of {planned} runs finished)" if planned is not None else ""
    if status == "running":
        if is_held(directory):
            return f"a compare (pid {doc.get('pid', '?')}) is still running into this directory{tally}"
        return (f"the compare (pid {doc.get('pid', '?')}) ended without a word: killed "
                f"(kill -9, out of memory?){tally}; run it again to finish")
    return f"{ENDINGS.get(status, f'the compare ended as {status!r}')}{tally}; run it again to finish"


def default_out(plan: Plan) -> Path:
    """``results/NAME-YYYYMMDD-HHMMSS`` (NAME: the workload's, or ``compare`` for several)."""
    name = plan.workloads[0].name if len(plan.workloads) == 1 else "compare"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)
    return Path("results") / f"{safe}-{stamp}"
