"""A single run: its progress line on a terminal, and its figures when interrupted."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slabpolicy.cli.progress import describe
from slabpolicy.runs.monitor import Progress

ROOT = Path(__file__).resolve().parent.parent


def test_progress_line_says_simulated_time_events_rate_and_time_left():
    p = Progress(now_ns=2_500_000_000, end_ns=10_000_000_000, events=1_000_000, wall_s=2.0)
    assert describe(p) == ("simulated 2.5s of 10s (25%), 1,000,000 events, 500,000 events/s, "
                           "about 6s left")


def _sigint_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


FIGURES = (r"stopped at t=[\d.]+(ms|s|min) of 5\.556h \(\d+%\): \d+ allocations, \d+ frees, "
           r"\d+ slab pages, \d+ dead caches, \d+ dying memcgs")


def start_long_run(tmp_path: Path, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """`slabpolicy run` of the default experiment made far longer than a test's wait,
    in a session of its own, started 6 s ago (start-up, then some simulated time)."""
    path = tmp_path / "long.yaml"
    path.write_text((ROOT / "experiments" / "default.yaml").read_text()
                    .replace("duration: 10s", "duration: 20000s"))
    # SIGINT as at a terminal: a suite started as a background job (`pytest &`) has it
    # ignored, the child would inherit that, and an ignored SIGINT stays ignored
    # (interrupts.user_stops), so the run would go on to its end
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "slabpolicy", "run", str(path),
                             "--policy", "leave-in-place"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=_sigint_as_at_a_terminal)
    time.sleep(6)
    return proc


def stop(proc: subprocess.Popen, sig: int) -> str:
    """Send ``sig``, wait for the run to end; its stderr.  A run that does not stop
    within 60 s is killed (and the test fails): it goes no further."""
    try:
        proc.send_signal(sig)
        return proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "interrupted: SIGTERM"),
                                             (signal.SIGHUP, 129, "interrupted: SIGHUP")])
def test_an_interrupted_run_prints_its_figures_so_far(tmp_path, sig, code, said):
    proc = start_long_run(tmp_path)
    err = stop(proc, sig)
    assert proc.returncode == code, err
    [line] = err.splitlines()
    assert re.fullmatch(rf"{said}; {FIGURES}", line), line


def test_under_nohup_a_closed_terminal_does_not_stop_the_run(tmp_path):
    proc = start_long_run(tmp_path, prefix=("nohup",))
    try:
        os.killpg(proc.pid, signal.SIGHUP)      # the terminal hangs up: its session gets SIGHUP
        time.sleep(1)
        went_on = proc.poll() is None
    finally:
        err = stop(proc, signal.SIGTERM)
    assert went_on, err
    assert proc.returncode == 143, err
    assert re.fullmatch(rf"interrupted: SIGTERM; {FIGURES}", err.splitlines()[-1]), err
