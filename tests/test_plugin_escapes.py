"""Plugins cannot end or hang the tool silently: every BaseException from plugin
code (SystemExit, a KeyboardInterrupt nobody pressed, a BaseException subclass)
is the one-line plugin error naming the plugin, its file and line; a hook that
never returns is stopped by the watchdog (--run-timeout), which names it."""
from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.cli import app
from slabpolicy.errors import PluginError
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

RUNNER = CliRunner()
WORKLOAD = """\
name: escapes
duration: 2s
sample_interval: 100ms
machine: {cpus: 2}
caches: [{name: dentry, object_size: 192}]
cgroups:
  - name: g
    count: 2
    lifetime: 200ms
    streams: [{cache: dentry, rate: 200/s, lifetime: 5ms}]
"""
PLUGIN = """\
import sys
import time

from slabpolicy import PolicySpec, hookimpl


class Bad:
    def __init__(self, options):
        pass

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        {body}


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="bad", version="0.1", description="misbehaves", factory=Bad)]
"""
HOOK_LINE = 13          # the line of {body} in PLUGIN
ESCAPES = {
    "exit-0": ("sys.exit(0)", "raised SystemExit: 0"),
    "exit-3": ("sys.exit(3)", "raised SystemExit: 3"),
    "keyboard-interrupt": ("raise KeyboardInterrupt('not the user')",
                           "raised KeyboardInterrupt: not the user"),
    "base-exception": ("raise type('Odd', (BaseException,), {})('odd')", "raised Odd: odd"),
    "generator-exit": ("raise GeneratorExit('gone')", "raised GeneratorExit: gone"),
}


def files(tmp_path: Path, body: str) -> tuple[Path, Path]:
    plugin = tmp_path / "bad_plugin.py"
    plugin.write_text(PLUGIN.replace("{body}", body))
    workload = tmp_path / "w.yaml"
    workload.write_text(WORKLOAD)
    return plugin, workload


def one_line(result, plugin: Path, what: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"policy bad ({plugin}:{HOOK_LINE})"), line
    assert what in line and "Traceback" not in result.output
    return line


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_escape_from_a_hook_is_the_one_line_plugin_error(tmp_path, case):
    body, what = ESCAPES[case]
    plugin, workload = files(tmp_path, body)
    result = RUNNER.invoke(app, ["run", str(workload), "--plugin", str(plugin), "--policy", "bad"])
    one_line(result, plugin, what)


def test_escapes_in_compare_workers_fail_the_runs_not_the_tool(tmp_path):
    plugin, workload = files(tmp_path, ESCAPES["base-exception"][0])
    result = RUNNER.invoke(app, ["compare", str(workload), "--plugin", str(plugin), "--policy", "bad",
                                 "--policy", "leave-in-place", "--seeds", "2", "--jobs", "2",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"policy bad ({plugin}:{HOOK_LINE}) raised Odd: odd")
    assert lines[0].endswith("[2 of 2 runs of bad on escapes failed]")
    assert "Can't pickle" not in result.output and "Traceback" not in result.output
    assert len(list((tmp_path / "out").glob("escapes--leave-in-place--seed*.json"))) == 2


def test_system_exit_at_import_is_a_plugin_error(tmp_path):
    plugin = tmp_path / "exits.py"
    plugin.write_text("import sys\nsys.exit(0)\n")
    result = RUNNER.invoke(app, ["policies", "--plugin", str(plugin)])
    assert result.exit_code == 1
    assert result.stderr == f"{plugin}: plugin failed to import: SystemExit: 0\n"


@pytest.mark.parametrize("body", ["while True: pass", "time.sleep(10**6)"])
def test_watchdog_names_the_hook_that_never_returns(tmp_path, body):
    plugin, workload = files(tmp_path, body)
    result = RUNNER.invoke(app, ["run", str(workload), "--plugin", str(plugin), "--policy", "bad",
                                 "--run-timeout", "1"])
    line = one_line(result, plugin, "the run stopped advancing simulated time for 1s and was "
                                    "stopped (--run-timeout)")
    assert ": the run stopped" in line


def test_watchdog_outside_the_main_thread(tmp_path):
    """A run in a thread (as a Dask worker runs it) is stopped too."""
    plugin, path = files(tmp_path, "while True: pass")
    workload = load_workload(path)
    registry = policy_registry(make_plugin_manager((str(plugin),)))
    [policy] = resolve_policies(workload, ["bad"], registry)
    caught: list[BaseException] = []

    def go() -> None:
        try:
            run_one(workload, policy, 1, plugin_paths=(str(plugin),), run_timeout=1)
        except BaseException as exc:     # noqa: B036 - the test looks at what escaped
            caught.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    [exc] = caught
    assert isinstance(exc, PluginError)
    assert str(exc).startswith(f"policy bad ({plugin}:{HOOK_LINE}): the run stopped advancing")


class Deadline(BaseException):
    """The caller's own deadline."""


def test_the_callers_own_alarm_is_not_taken_for_a_stall(tmp_path):
    """A program that runs run_one under a SIGALRM deadline of its own (as the fuzz
    corpus test does) gets its own exception when the deadline expires mid-run, not
    the watchdog's "stopped advancing for 60s": the watchdog stops the main thread
    with SIGALRM too, and passes on an alarm it did not send."""
    plugin, path = files(tmp_path, "time.sleep(30)")
    workload = load_workload(path)
    [policy] = resolve_policies(workload, ["bad"],
                                policy_registry(make_plugin_manager((str(plugin),))))

    def expire(signum, frame):
        raise Deadline("the caller's")

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(PluginError) as caught:
            run_one(workload, policy, 1, plugin_paths=(str(plugin),), run_timeout=60)
        assert signal.getsignal(signal.SIGALRM) is expire       # given back after the run
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert str(caught.value).startswith(f"policy bad ({plugin}:{HOOK_LINE}) raised Deadline: "
                                        "the caller's")


def test_a_run_that_advances_is_not_stopped(tmp_path):
    """The watchdog looks for a stall, not a long run: 0.5s checks against a 1s limit
    on a run that keeps advancing."""
    _, workload = files(tmp_path, "pass")
    result = RUNNER.invoke(app, ["run", str(workload), "--policy", "leave-in-place",
                                 "--run-timeout", "1"])
    assert result.exit_code == 0, result.output
