"""Stops that come from the user, told apart from those raised by plugin code.

A ``KeyboardInterrupt`` (or ``SystemExit``) raised by a plugin's hook is the
plugin's failure, not the user's Ctrl-C.  While :func:`user_stops` is active,
SIGINT raises :class:`UserInterrupt` and SIGTERM/SIGHUP raise :class:`Terminated`
(both KeyboardInterrupts, so code that stops on Ctrl-C stops on them too);
:func:`from_user` tells them from any other BaseException.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["UserInterrupt", "Terminated", "user_stops", "from_user", "raise_pending",
           "STOP_SIGNALS", "stops_held", "ignored"]

#: Signals that stop a run or a compare as Ctrl-C does (exit status 128 + N).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class UserInterrupt(KeyboardInterrupt):
    """The user pressed Ctrl-C (SIGINT reached this process)."""


class Terminated(UserInterrupt):
    """SIGTERM or SIGHUP reached this process (``timeout``, a CI cancel, a closed terminal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Non-empty while a stops_held() block runs: the handlers record, not raise.
_holding: list[bool] = []

#: The stop received within the current user_stops() block, if any.  A handler's
#: exception raised where Python ignores exceptions (a finalizer, an at-fork
#: callback) is lost; loops that wait call raise_pending() to raise it again.
_received: list[UserInterrupt] = []


def raise_pending() -> None:
    """Raise the stop received in this user_stops() block, if one was."""
    if _received:
        raise _received[0]


def ignored(signum: int) -> bool:
    """Does this process ignore ``signum`` (``nohup``, a background job, a worker)?"""
    return signal.getsignal(signum) is signal.SIG_IGN


def from_user(exc: BaseException) -> bool:
    """Did ``exc`` come from a signal the user sent (not from plugin code)?"""
    return isinstance(exc, UserInterrupt)


@contextmanager
def user_stops() -> Iterator[None]:
    """Within the block, SIGINT raises UserInterrupt and SIGTERM/SIGHUP Terminated.

    A stop signal the process ignores when the block starts stays ignored, as the
    one who started it asked: SIGHUP under ``nohup`` (a long compare that must
    outlive its terminal), SIGINT in a shell script's background job (``cmd &``)
    or a compare worker.  Outside the main thread (where no handler can be set)
    this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        _received.append(UserInterrupt())
        if not _holding:
            raise _received[-1]

    def terminate(signum: int, frame: Any) -> None:
        _received.append(Terminated(signum))
        if not _holding:
            raise _received[-1]

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, UserInterrupt):     # kept in _received instead
            hook(info)

    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = {s: signal.signal(s, interrupt if s == signal.SIGINT else terminate)
                for s in (signal.SIGINT, *STOP_SIGNALS) if not ignored(s)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook
        _received.clear()


@contextmanager
def stops_held() -> Iterator[None]:
    """Within the block, a stop that arrives is recorded, not raised; it is raised
    when the block ends.

    For the short stretches where an exception would leave the standard library
    in a state it cannot clean up: ``ProcessPoolExecutor.submit()`` starts its
    manager thread and then waits for it to run; an exception raised in that
    wait leaves a thread object that was never started, and the pool's shutdown
    then fails with "cannot join thread before it is started".  The holding is
    done in the handlers, not with a signal mask: a signal sent to the process
    goes to any of its threads, and Python runs the handler in the main thread
    whichever thread the kernel picked.  Outside :func:`user_stops` it does nothing.
    """
    _holding.append(True)
    try:
        yield
    finally:
        _holding.pop()
    if not _holding:
        raise_pending()
