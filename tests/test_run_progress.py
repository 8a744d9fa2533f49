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

from cli_support import stops_as_at_a_terminal

ROOT = Path(__file__).resolve().parent.parent


def test_progress_line_says_simulated_time_events_rate_and_time_left():
    p = Progress(now_ns=2_500_000_000, end_ns=10_000_000_000, events=1_000_000, wall_s=2.0)
    assert describe(p) == ("simulated 2.5s of 10s (25%), 1,000,000 events, 500,000 events/s, "
                           "about 6s left")


FIGURES = (r"stopped at t=[\d.]+(ms|s|min) of 5\.556h \(\d+%\): \d+ allocations, \d+ frees, "
           r"\d+ slab pages, \d+ dead caches, \d+ dying memcgs")

#: a plugin that creates the file $SLABPOLICY_TEST_MARK at the first sample past 1
#: simulated second: the run is then in its loop, with figures to print
MARKER = """\
import os
from slabpolicy import hookimpl


@hookimpl
def slabpolicy_sample(sim, now_ns, sample):
    mark = os.environ["SLABPOLICY_TEST_MARK"]
    if now_ns >= 1_000_000_000 and not os.path.exists(mark):
        open(mark, "w").close()
"""


def start_long_run(tmp_path: Path, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """`slabpolicy run` of the default experiment made far longer than a test's wait,
    in a session of its own; returns once it has simulated a second (60 s at most,
    for a loaded machine's start-up)."""
    path = tmp_path / "long.yaml"
    path.write_text((ROOT / "experiments" / "default.yaml").read_text()
                    .replace("duration: 10s", "duration: 20000s"))
    marker, mark = tmp_path / "marker.py", tmp_path / "past-1s"
    marker.write_text(MARKER)
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "slabpolicy", "run", str(path),
                             "--policy", "leave-in-place", "--plugin", str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=stops_as_at_a_terminal,
                            env={**os.environ, "SLABPOLICY_TEST_MARK": str(mark)})
    deadline = time.monotonic() + 60
    while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not mark.exists():
        proc.kill()
        raise AssertionError(f"the run did not simulate a second: {proc.communicate()[1]}")
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
