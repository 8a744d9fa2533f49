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
        for child in multiprocessing.active_children():
            child.kill()
