"""The fuzz corpus (tests/fuzz_corpus.py): no traceback, no hang, no silent success.

Every case runs in this process through the loader, the policy options check and
the budget, under a hard per-case deadline (SIGALRM): it must end in a clean
WorkloadError whose every line is ``FILE:LINE: field: message`` naming the field
the case broke, in a budget refusal, or in a run that finishes.  The cases
marked ``subprocess`` also go through the real CLI (validate and run), for the
exit status and the absence of a traceback on stderr.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
from contextlib import contextmanager

import pytest

from fuzz_corpus import CLASSES, Case, cases, materialize
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.errors import WorkloadError
from slabpolicy.runs.budget import Budget, BudgetError, check_budget
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

CASES = cases()
#: wall-clock seconds one case may take in this process (a hang fails it)
DEADLINE_S = 10
#: and through the CLI in a subprocess
SUBPROCESS_DEADLINE_S = 60


class Hung(BaseException):
    """The case did not finish within its deadline."""


@contextmanager
def deadline(seconds: float):
    def expire(signum, frame):
        raise Hung(f"no answer within {seconds}s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """One directory for every case's file (a tmp_path per case costs more than the case)."""
    return str(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def registry():
    return policy_registry(make_plugin_manager())


def _line_re(path: str) -> re.Pattern:
    """``FILE:LINE: field: message``, ``FILE: message`` or ``--set: field: message``."""
    return re.compile(rf"^(?:{re.escape(path)}|--set)(?::[1-9]\d*)?: (?:(?P<field>[^\s:]+): )?\S")


def _check_error_lines(text: str, path: str, names: str) -> None:
    lines = text.splitlines()
    assert lines, "an empty error"
    pattern = _line_re(path)
    fields = []
    for line in lines:
        assert "Traceback" not in line and len(line) < 500, line
        m = pattern.match(line)
        assert m, f"not FILE:LINE: field: message: {line!r}"
        fields.append(m.group("field") or "")
    if names:
        assert any(f.startswith(names) for f in fields), f"no line names {names}: {lines}"


def outcome(case: Case, path: str, registry) -> tuple[str, str]:
    """("error"|"budget"|"ok", message) of loading, checking and budgeting the case."""
    try:
        workload = load_workload(path, case.overrides)
        resolve_policies(workload, [], registry)
    except WorkloadError as exc:
        return "error", str(exc)
    try:
        check_budget(workload, Budget())
    except BudgetError as exc:
        return "budget", str(exc)
    run = resolve_policies(workload, [], registry)[0]
    result = run_one(workload, run, workload.seed)
    return "ok", f"{result['ops']['alloc']} allocations"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case(case, corpus_dir, registry):
    path = materialize(case, corpus_dir)
    with deadline(DEADLINE_S):
        kind, message = outcome(case, path, registry)
    assert kind == case.expect, message
    if kind == "error":
        _check_error_lines(message, path, case.names)
    elif kind == "budget":
        assert message.startswith(f"{path}: ") and "--yes" in message and "events" in message


def test_corpus_covers_every_class():
    """Each class the issue listed has cases (the report quotes these counts)."""
    counts = {k: sum(1 for c in CASES if c.klass == k) for k in CLASSES}
    assert all(counts.values()), counts
    assert len(CASES) >= 400


SUBPROCESS_CASES = [c for c in CASES if c.subprocess]


@pytest.mark.parametrize("case", SUBPROCESS_CASES, ids=[c.id for c in SUBPROCESS_CASES])
def test_corpus_case_through_the_cli(case, tmp_path):
    path = materialize(case, str(tmp_path))
    # run reads, checks and budgets the workload as validate does, and then runs it
    for command in (("validate", "run") if case.expect != "error" else ("run",)):
        proc = subprocess.run([sys.executable, "-m", "slabpolicy", command, path,
                               *[a for o in case.overrides for a in ("--set", o)]],
                              capture_output=True, text=True, timeout=SUBPROCESS_DEADLINE_S,
                              cwd=str(tmp_path))
        assert "Traceback" not in proc.stderr
        if case.expect == "error":
            assert proc.returncode == 2, proc.stderr
            _check_error_lines(proc.stderr, path, case.names)
        elif case.expect == "budget" and command == "run":
            assert proc.returncode == 2 and "--yes" in proc.stderr, proc.stderr
        else:
            assert proc.returncode == 0, proc.stderr
