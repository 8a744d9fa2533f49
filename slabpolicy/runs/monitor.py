"""A thread that watches one run: the watchdog (``--run-timeout``) and the progress line.

The simulation loop is left alone (nothing is added to the fast path): every
half second the monitor thread reads where the run is, from plain attributes
(the op clock ``slub.now``, the event queue's head),
which is safe under the GIL.

* Watchdog: if none of those moved for ``run_timeout`` seconds, the run is stuck
  (a hook looping forever, a hook sleeping): :class:`RunStalled` is raised in the
  thread running the simulation, inside the code that was running, so that the
  caller can name the plugin from the traceback.  In the main thread it comes as a
  signal (SIGALRM), which also breaks a blocking call such as ``time.sleep``; in
  another thread, at the next Python instruction.
* Progress: ``on_progress(Progress)`` is called with what the run has done so far
  (the CLI draws it on a terminal).
"""
from __future__ import annotations

import ctypes
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

__all__ = ["RunStalled", "Progress", "watch", "DEFAULT_RUN_TIMEOUT", "progress_of"]

#: Seconds a run may go without advancing before the watchdog stops it.
DEFAULT_RUN_TIMEOUT = 60.0
#: Seconds between two looks at the run.
INTERVAL = 0.5


class RunStalled(BaseException):
    """Raised in a run that stopped advancing for ``seconds`` (a BaseException, so
    that no ``except Exception`` in plugin code swallows it)."""

    def __init__(self, seconds: float | None = None) -> None:
        super().__init__("the run stopped advancing simulated time")
        self.seconds = seconds


@dataclass(frozen=True)
class Progress:
    """What a run has done so far."""

    now_ns: int
    end_ns: int
    events: int
    wall_s: float

    @property
    def fraction(self) -> float:
        return min(1.0, self.now_ns / self.end_ns) if self.end_ns else 1.0

    @property
    def rate(self) -> float:
        """Events per wall-clock second so far."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def left_s(self) -> float | None:
        """Wall-clock seconds left at the pace so far (None until there is a pace)."""
        if self.fraction <= 0 or self.wall_s <= 0:
            return None
        return self.wall_s * (1 - self.fraction) / self.fraction


def progress_of(sim: Any, wall_s: float) -> Progress:
    """Where ``sim`` is now (read from another thread: plain attributes only)."""
    slub = sim.slub
    events = slub.n_alloc_fast + slub.n_alloc_slow + slub.n_free_fast + slub.n_free_slow
    return Progress(slub.now, sim.end_ns, events, wall_s)


def _position(sim: Any) -> tuple:
    """Anything that changes when the run advances (an event popped, an op run)."""
    queue = sim._queue
    try:
        head = queue.head_time()
    except IndexError:              # emptied while read (the pure core's calendar)
        head = None
    return sim.slub.now, len(queue), head


def _raise_in(thread: threading.Thread, exc: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))


@contextmanager
def watch(sim: Any, run_timeout: float | None = DEFAULT_RUN_TIMEOUT,
          on_progress: Callable[[Progress], None] | None = None) -> Iterator[None]:
    """Watch ``sim`` while the block runs it (see the module docstring).

    ``run_timeout`` None or 0 disables the watchdog; with neither a watchdog nor
    ``on_progress`` no thread is started.
    """
    if not run_timeout and on_progress is None:
        yield
        return
    target = threading.current_thread()
    in_main = target is threading.main_thread()
    done = threading.Event()
    fired = threading.Event()
    started = time.monotonic()

    alarm = bool(run_timeout and in_main)
    previous = signal.getsignal(signal.SIGALRM) if alarm else None

    def stalled(signum: int, frame: Any) -> None:
        if fired.is_set():
            raise RunStalled(run_timeout)
        if callable(previous):      # not ours: the caller's own alarm (a deadline of its own)
            previous(signum, frame)

    if alarm:
        signal.signal(signal.SIGALRM, stalled)

    def look() -> None:
        last, since = _position(sim), time.monotonic()
        while not done.wait(INTERVAL):
            now = time.monotonic()
            if on_progress is not None:
                on_progress(progress_of(sim, now - started))
            position = _position(sim)
            if position != last:
                last, since = position, now
            elif run_timeout and now - since >= run_timeout and not fired.is_set():
                fired.set()
                if in_main:
                    signal.pthread_kill(target.ident, signal.SIGALRM)
                else:
                    _raise_in(target, RunStalled)

    thread = threading.Thread(target=look, name="slabpolicy-run-monitor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if fired.is_set() and not in_main:     # not delivered: the run ended meanwhile
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target.ident), None)
        if alarm:
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
