"""What the command-line tests share: a CliRunner with a clean environment, the
assertions on how a command ended, the small two-policy workload that the
compare, report, export, html and sweep tests run, and for the tests that start
processes, a polling wait and a child's stop signals as at a terminal.

The installed Typer vendors Click, whose CliRunner keeps stderr apart
(``result.stderr``).  The environment is cleaned of the variables that would
hide the bundled policies, and COLUMNS is wide so that tables do not wrap.
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from typer.testing import CliRunner

from slabpolicy.api.plugin_manager import BLOCK_ENV, DISABLE_AUTOLOAD_ENV
from slabpolicy.cli import app
from slabpolicy.runs.matrix import MANIFEST

CLEAN_ENV = {DISABLE_AUTOLOAD_ENV: None, BLOCK_ENV: None, "COLUMNS": "200"}
RUNNER = CliRunner(env=CLEAN_ENV)


def wait_for(predicate, what: str, timeout: float = 30) -> None:
    """Poll ``predicate()`` until it is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def stops_as_at_a_terminal() -> None:
    """A child's ``preexec_fn``: its stop signals at their defaults, as a command
    typed at a terminal has them.  A suite started as a background job
    (`pytest &`) has SIGINT ignored, one under `nohup` SIGHUP, and the child would
    inherit that; an ignored stop signal stays ignored (interrupts.user_stops), so
    the command would go on to its end."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)

# cgroups arrive at random (poisson), so a seed changes the cgroups as well as
# the allocations; the two policies differ only in what happens at offline.
SMALL = """\
name: small
seed: 3
duration: 200ms
sample_interval: 10ms
machine:
  cpus: 2
caches:
  - name: dentry
    object_size: 192
cgroups:
  - name: c
    count: 6
    arrival: {process: poisson, rate: 40/s}
    lifetime: {dist: exponential, mean: 40ms}
    streams:
      - cache: dentry
        rate: 3000/s
        lifetime:
          dist: mixture
          of:
            - {weight: 0.9, dist: exponential, mean: 5ms}
            - {weight: 0.1, dist: forever}
        remote_free: 0.2
policies:
  - leave-in-place
  - name: leave-in-place
    label: leave-in-place-4.0
    options: {era: "4.0"}
"""
#: the labels of SMALL's two policies
LABELS = ("leave-in-place", "leave-in-place-4.0")


def invoke(*args, env: dict | None = None):
    """``slabpolicy ARGS...`` in this process, in the clean environment (plus ``env``)."""
    runner = RUNNER if env is None else CliRunner(env={**CLEAN_ENV, **env})
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> str:
    """Exit 0 and no traceback; stdout."""
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def failed(result, code: int) -> list[str]:
    """Exit ``code``, no traceback, no escaped exception; stderr's lines."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    # a SystemExit from typer.Exit, never an escaped exception
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.stderr.strip().splitlines()


def strip(doc: dict) -> dict:
    """A result without the fields allowed to vary between identical runs."""
    return {k: v for k, v in doc.items() if k not in ("wall_seconds", "provenance", "checksum")}


def results_in(directory: Path) -> dict[str, dict]:
    """Every result document of a compare's directory, by file name, stripped."""
    return {p.name: strip(json.loads(p.read_text())) for p in sorted(directory.glob("*.json"))
            if p.name != MANIFEST}
