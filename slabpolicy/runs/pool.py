"""compare's local worker pool, and how it ends: workers never outlive the command.

Every way the ``slabpolicy compare`` process can end takes its workers with it:

* it returns or raises (Ctrl-C, a worker that died, an error): the pool's workers
  still running are terminated (and killed :data:`STOP_GRACE` seconds later if
  one has not exited), then the pool is shut down;
* SIGTERM or SIGHUP (what ``timeout``, a CI cancel or a closed terminal send):
  :func:`~slabpolicy.interrupts.user_stops` turns them into ``Terminated``,
  which unwinds like Ctrl-C, so the finished results and the manifest are written and the workers
  stopped on the way out;
* kill -9 (nothing runs in the parent): each worker asked the kernel at start
  for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``, Linux), and a
  worker whose parent is already gone exits at once.
"""
from __future__ import annotations

import ctypes
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import nullcontext
from multiprocessing import connection
from typing import Any, Callable, ContextManager, Sequence

from slabpolicy.interrupts import STOP_SIGNALS, ignored, raise_pending, stops_held

__all__ = ["run_in_pool", "worker_pids"]

#: prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
def _die_with_parent(parent: int) -> None:
    """Ask for SIGKILL when the parent dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):     # not Linux: the parent's own exit paths remain
        pass
    if os.getppid() != parent:            # it died before the prctl took effect
        os._exit(1)


def _worker_init(parent: int) -> None:
    # Ctrl-C is the parent's to handle: it stops the workers itself.  A worker that
    # saw SIGINT too would print a traceback of its own.  SIGTERM and SIGHUP, sent
    # to the whole process group by `timeout` or a CI runner, take the default
    # action: the worker dies, and the parent reports it; one the parent ignores
    # (SIGHUP under nohup, see user_stops) the worker ignores too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in STOP_SIGNALS:
        if not ignored(s):
            signal.signal(s, signal.SIG_DFL)
    _die_with_parent(parent)


def worker_pids(pool: ProcessPoolExecutor) -> list[int]:
    """The pids of the pool's worker processes (for tests and the manifest)."""
    return [p.pid for p in (getattr(pool, "_processes", None) or {}).values() if p.pid]


#: Seconds a worker has to exit after SIGTERM before it is sent SIGKILL.
STOP_GRACE = 5.0


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: a run in progress is lost, a finished one is not.

    SIGTERM first, then SIGKILL to a worker still there :data:`STOP_GRACE` s
    later, which the pool's shutdown would otherwise wait for until its run
    ended: one whose plugin ignores SIGTERM, or one forked while the parent held
    its stops back (``stops_held``) and signalled before ``_worker_init`` ran,
    whose inherited handler only recorded the signal.
    """
    waiting = {}
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            if process.is_alive():
                process.terminate()
                waiting[process.sentinel] = process
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + STOP_GRACE
    while waiting and (left := deadline - time.monotonic()) > 0:
        for ended in connection.wait(list(waiting), timeout=left):
            del waiting[ended]
    for process in waiting.values():
        try:
            process.kill()
        except (OSError, ValueError):
            pass


def run_in_pool(function: Callable[[Any], Any], tasks: Sequence[Any], jobs: int,
                finished: Callable[[int, Any], None],
                progress: ContextManager[Callable[[], None]] | None = None,
                on_start: Callable[[list[int]], None] | None = None,
                meanwhile: Callable[[], None] | None = None) -> None:
    """``function(task)`` for every task in ``jobs`` worker processes; ``finished(i, value)``
    in this process as each one returns, in completion order.

    Whatever ends it (an exception from ``function`` or ``finished``, Ctrl-C,
    ``Terminated``), the workers are stopped before this returns or raises.
    ``on_start`` gets the workers' pids once all tasks are submitted; ``meanwhile()``
    runs once after that, while the workers run (results that arrive meanwhile wait
    in the pool's queue and are taken after it).
    """
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init,
                               initargs=(os.getpid(),))
    pending: dict[Future, int] = {}
    try:
        # every task is submitted (and, with fork, every worker started) before a
        # progress bar starts its thread; a stop arriving meanwhile is raised once
        # the pool's manager thread is running (see stops_held)
        with stops_held():
            for i, task in enumerate(tasks):
                pending[pool.submit(function, task)] = i
        if on_start is not None:
            on_start(worker_pids(pool))
        with progress if progress is not None else nullcontext(lambda: None) as advance:
            if meanwhile is not None:
                meanwhile()
            while pending:
                raise_pending()           # a SIGTERM that landed where Python ignored it
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(pending.pop(future), future.result())
                    advance()
    except BaseException:
        for future in pending:
            future.cancel()
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
