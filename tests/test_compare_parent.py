"""compare's parent process: what it imports at start-up, and what it does while
its workers run.

The statistics behind the comparison table (numpy, scipy.stats) are imported
only by a command that renders one, and compare with worker processes imports
them while the workers run, instead of before they start: the parent is
otherwise idle then, and that import was most of the serial part of
``compare --jobs 2``.
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from slabpolicy.runs.pool import run_in_pool

from cli_support import SMALL, invoke, ok, results_in

#: the module (``slabpolicy.cli.app`` the attribute is the Typer app)
APP_MODULE = importlib.import_module("slabpolicy.cli.app")
HEAVY = ("numpy", "scipy", "scipy.stats", "slabpolicy.analysis.stats",
         "slabpolicy.analysis.report")


def test_the_command_line_starts_without_the_statistics(tmp_path):
    # a fresh interpreter: this one has long imported them
    script = textwrap.dedent(f"""
        import sys
        from slabpolicy.cli.main import main
        try:
            main(["--version"])
        except SystemExit:
            pass
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def _wait_for(path: str) -> str:
    """A task that cannot finish before ``path`` exists."""
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.01)
    return path


def test_meanwhile_runs_once_while_the_workers_run_before_any_result(tmp_path):
    gate = str(tmp_path / "gate")
    taken: list[int] = []
    seen: list[tuple[int, int]] = []

    def meanwhile() -> None:
        seen.append((len(taken), len(multiprocessing.active_children())))
        Path(gate).touch()                  # only now can the tasks finish

    run_in_pool(_wait_for, [gate] * 3, 2, lambda i, value: taken.append(i),
                meanwhile=meanwhile)
    assert seen == [(0, 2)]                 # once, both workers started, no result taken
    assert sorted(taken) == [0, 1, 2]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(textwrap.dedent(SMALL))
    return path


@pytest.mark.parametrize("jobs, calls", [("1", 0), ("2", 1)])
def test_compare_loads_the_report_meanwhile_only_with_workers(small, tmp_path, monkeypatch,
                                                              jobs, calls):
    called: list[int] = []
    real = APP_MODULE._load_report_meanwhile

    def load() -> None:
        called.append(len(multiprocessing.active_children()))
        real()

    monkeypatch.setattr(APP_MODULE, "_load_report_meanwhile", load)
    out = tmp_path / "out"
    text = ok(invoke("compare", small, "--out", out, "--seeds", "2", "--jobs", jobs))
    assert called == [2] * calls
    assert len(results_in(out)) == 4 and "leave-in-place-4.0" in text
