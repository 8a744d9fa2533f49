"""compare is killable: kill -9 or SIGTERM of the parent leaves no worker behind
(checked by pid), the manifest says how the run ended, a second compare into the
same directory refuses, and running compare again completes the matrix."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slabpolicy.cli import app
from slabpolicy.runs.dirlock import DirectoryBusy, hold_directory, is_held

from cli_support import stops_as_at_a_terminal

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 2


def workload(tmp_path: Path, duration: str = "30s") -> Path:
    """The default experiment made longer (3x by default: runs of a few seconds each)."""
    text = (ROOT / "experiments" / "default.yaml").read_text().replace("duration: 10s",
                                                                          f"duration: {duration}")
    path = tmp_path / "slow.yaml"
    path.write_text(text)
    return path


def compare_args(path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "slabpolicy", "compare", str(path), "--seeds", str(SEEDS),
            "--policy", "leave-in-place", "--jobs", "2", "--out", str(out)]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found.update(int(c) for c in fh.read().split())
    except OSError:
        pass
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_and_wait_for_workers(path: Path, out: Path, prefix: tuple[str, ...] = ()
                               ) -> tuple[subprocess.Popen, set[int]]:
    proc = subprocess.Popen([*prefix, *compare_args(path, out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=stops_as_at_a_terminal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = children(proc.pid)
        if len(workers) >= 2:
            return proc, workers
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    pytest.fail("compare started no workers within 60s")


def assert_all_gone(pids: set[int], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)], "workers outlived compare"


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def rerun_completes(path: Path, out: Path) -> None:
    done = subprocess.run(compare_args(path, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert manifest(out)["status"] == "complete"
    assert len(list(out.glob("*--seed*.json"))) == SEEDS


def test_kill_9_leaves_no_worker_and_the_rerun_completes(tmp_path):
    path, out = workload(tmp_path), tmp_path / "out"
    proc, workers = start_and_wait_for_workers(path, out)
    proc.kill()
    proc.wait()
    assert_all_gone(workers)
    report = subprocess.run([sys.executable, "-m", "slabpolicy", "report", str(out)],
                            capture_output=True, text=True)
    if report.returncode == 0:      # some run had finished: report warns how compare ended
        assert "ended without a word: killed" in report.stderr
    assert manifest(out)["status"] == "running"
    rerun_completes(path, out)


def test_sigterm_stops_workers_says_so_and_a_second_compare_refuses(tmp_path):
    path, out = workload(tmp_path), tmp_path / "out"
    proc, workers = start_and_wait_for_workers(path, out)
    assert is_held(out)
    with pytest.raises(DirectoryBusy) as busy:
        with hold_directory(out):
            pass
    assert str(busy.value) == (f"--out {out}: process {proc.pid} is running a compare into "
                               f"this directory; wait for it to end, or give another --out")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "terminated by SIGTERM" in stderr and "Traceback" not in stderr
    assert_all_gone(workers)
    assert manifest(out)["status"] == "terminated"
    rerun_completes(path, out)


def test_under_nohup_a_closed_terminal_stops_neither_compare_nor_its_workers(tmp_path):
    path, out = workload(tmp_path, "3000s"), tmp_path / "out"   # runs of minutes
    proc, workers = start_and_wait_for_workers(path, out, prefix=("nohup",))
    try:
        os.killpg(proc.pid, signal.SIGHUP)      # the terminal hangs up: its session gets SIGHUP
        time.sleep(1)
        assert proc.poll() is None, proc.communicate()
        assert all(alive(w) for w in workers), "a worker died of the SIGHUP nohup ignores"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "terminated by SIGTERM" in stderr and "Traceback" not in stderr
    assert_all_gone(workers)
    assert manifest(out)["status"] == "terminated"


def test_a_second_compare_into_a_busy_directory_refuses(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with hold_directory(out):
        result = CliRunner().invoke(app, ["compare", str(ROOT / "experiments" / "default.yaml"),
                                          "--seeds", "1", "--jobs", "1", "--out", str(out)])
    assert result.exit_code == 1
    assert result.stderr == (f"--out {out}: process {os.getpid()} is running a compare into "
                             f"this directory; wait for it to end, or give another --out\n")
    assert not list(out.glob("*.json"))
    assert not is_held(out)
