"""compare's worker pool and a stop that lands while the pool starts.

``ProcessPoolExecutor.submit()`` starts the pool's manager thread and waits for
it to run.  A SIGTERM whose handler raised inside that wait left a thread that
was never started, and the pool's shutdown failed with "RuntimeError: cannot
join thread before it is started" instead of compare reporting "terminated".
The stop is now held back while tasks are submitted and raised afterwards.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import process

import pytest

from slabpolicy.interrupts import Terminated, user_stops
from slabpolicy.runs.pool import run_in_pool

from cli_support import wait_for


def _slow(x: int) -> int:
    time.sleep(30)
    return x


def test_sigterm_while_the_manager_thread_starts_raises_terminated(monkeypatch):
    start = process._ExecutorManagerThread.start
    started: list[process._ExecutorManagerThread] = []

    def start_after_a_sigterm(self):
        # to the process, as `timeout` sends it: the kernel may hand it to any thread
        # (a sleeping one is started below); Python runs the handler in the main thread
        os.kill(os.getpid(), signal.SIGTERM)
        started.append(self)
        return start(self)

    monkeypatch.setattr(process._ExecutorManagerThread, "start", start_after_a_sigterm)
    pids: list[int] = []
    other = threading.Thread(target=time.sleep, args=(2,), daemon=True)
    other.start()
    # as at a terminal: a suite started under `nohup` or by a runner that ignores
    # SIGTERM would have user_stops() leave it ignored
    sigterm = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with user_stops(), pytest.raises(Terminated):
            run_in_pool(_slow, [1, 2], 2, lambda i, v: None, on_start=pids.extend)
        assert started and started[0].ident is not None     # the thread did start
        assert pids == []          # raised as soon as the submissions were done
        deadline = time.monotonic() + 10
        while any(c.is_alive() for c in multiprocessing.active_children()):
            assert time.monotonic() < deadline, "a worker outlived run_in_pool"
            time.sleep(0.05)
    finally:                       # a failure here must not leave workers for atexit to join
        signal.signal(signal.SIGTERM, sigterm)
        for child in multiprocessing.active_children():
            child.kill()


def _ignore_sigterm_and_sleep(x: int) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)        # as a plugin of a run might
    time.sleep(600)
    return x


def _ignores_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as fh:
        [mask] = [line.split()[1] for line in fh if line.startswith("SigIgn:")]
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


def test_a_worker_that_ignores_sigterm_is_killed_when_the_pool_stops():
    """The stop reaches the parent while the worker's run ignores SIGTERM: the
    worker is killed after the grace period, not waited for to the end of its run."""
    pids: list[int] = []

    def stop_once_the_worker_ignores_sigterm() -> None:
        wait_for(lambda: _ignores_sigterm(pids[0]), "the task to run", timeout=60)
        raise Terminated(signal.SIGTERM)

    started = time.monotonic()
    try:
        with pytest.raises(Terminated):
            run_in_pool(_ignore_sigterm_and_sleep, [1], 1, lambda i, v: None,
                        on_start=pids.extend, meanwhile=stop_once_the_worker_ignores_sigterm)
        assert time.monotonic() - started < 300        # not the run's 600 s
        assert not any(c.is_alive() for c in multiprocessing.active_children())
    finally:
        for child in multiprocessing.active_children():
            child.kill()

