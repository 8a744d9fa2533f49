"""A single run: its progress line on a terminal, and its figures when interrupted."""
from __future__ import annotations

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


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "interrupted: SIGTERM")])
def test_an_interrupted_run_prints_its_figures_so_far(tmp_path, sig, code, said):
    path = tmp_path / "long.yaml"
    path.write_text((ROOT / "experiments" / "default.yaml").read_text()
                    .replace("duration: 10s", "duration: 20000s"))   # far longer than 6 s of wall
    # SIGINT as at a terminal: a suite started as a background job (`pytest &`) has it
    # ignored, the child would inherit that, and an ignored SIGINT stays ignored
    # (interrupts.user_stops, as for nohup), so the run would go on to its end
    proc = subprocess.Popen([sys.executable, "-m", "slabpolicy", "run", str(path), "--policy",
                             "leave-in-place"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_sigint_as_at_a_terminal)
    try:
        time.sleep(6)                   # start-up, then some simulated time
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()                     # a run that did not stop goes no further
        proc.wait()
    assert proc.returncode == code, err
    [line] = err.splitlines()
    assert re.fullmatch(rf"{said}; stopped at t=[\d.]+(ms|s|min) of 5\.556h \(\d+%\): \d+ "
                        rf"allocations, \d+ frees, \d+ slab pages, \d+ dead caches, \d+ dying "
                        rf"memcgs", line), line
