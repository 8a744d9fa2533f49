"""Operations that wait their turn: suspended in a greenlet, continued as an event.

The engine runs an operation (an allocation, a free, a policy's offline work)
when its event comes up, but an operation takes simulated time: it reaches a
lock some nanoseconds after it started.  For the holds of one lock never to
overlap, the acquisitions of a lock must be processed in the order of the times
the acquirers *arrive* at it, which is not the order the operations started in.
So:

* an operation that reaches a lock while an earlier event is still queued stops
  there and continues as an event at the time it arrived (:meth:`Turns.wait_until`);
  by then every operation that could reach the lock earlier has reached it;
* an operation that finds the lock held by an operation that is itself stopped
  (waiting for a second lock) queues behind it and continues when the lock is
  handed over to it (:meth:`Turns.suspend`, :meth:`Turns.wake`);
* a cpu whose operation is stopped is busy (spinning with interrupts off, in the
  kernel): the next operation on that cpu queues the same way.

Fast paths take no lock and never come here, so they stay single events.

An operation that stops at a point where all that is left of it is a call (an
RCU batch before its next callback's free, or inside that free before
__slab_free()'s list_lock, kernel/rcu.py) needs no stack of its own: it stops
with :meth:`Turns.defer`, and its turn is a call the loop makes
(:meth:`Continuation.run`).  The events are the same, in the same order; only the
greenlet switches are saved.  On the compiled core the queue holds such a
continuation as itself (EventQueue.push_turn), and the loop calls it through
:meth:`Turns.run_turn` without an event tuple to take apart.

How it works: the event loop runs in a greenlet.  A stopped operation keeps the
stack it runs on (a loop's, with the operation's frames on top), and a fresh
greenlet takes the loop over.  When the operation's turn comes, the loop
switches to it; it finishes the operation, sees that it no longer runs the
loop, and returns to the loop that resumed it.  Called outside a running loop
(a test driving the allocator directly), nothing stops: operations are then
processed in the order they are called.
"""
from __future__ import annotations

from typing import Callable

from greenlet import getcurrent, greenlet

from slabpolicy.kernel.event_kinds import TURN
from slabpolicy.kernel.event_queue import EventQueue

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

#: what a stopped loop greenlet tells :meth:`Turns.run`: start a new loop greenlet
_TAKE_OVER = object()


class Continuation:
    """What is left of an operation stopped by :meth:`Turns.defer`: a subclass holds
    what the rest needs, and :meth:`run` is the rest, called by the loop at its turn
    (on the compiled core a C call, without the parsing of arguments a call of a
    Python callable makes).  ``at`` is the time of its turn: on the compiled core the
    queue holds the continuation itself, not an event tuple with the time
    (EventQueue.push_turn), and the loop runs it with :meth:`Turns.run_turn`."""

    __slots__ = ("at",)

    def run(self, t: int) -> None:
        """The rest of the operation, at its turn ``t``."""
        raise NotImplementedError


class Turns:
    """The greenlets of one simulation's event loop and its stopped operations."""

    __slots__ = ("queue", "loop", "main", "loop_fn", "stopped", "running")

    def __init__(self, queue: EventQueue) -> None:
        self.queue = queue          # the engine's events (kernel/event_queue.py)
        self.loop: greenlet | None = None    # the greenlet running the loop (None: no loop)
        self.main: greenlet | None = None    # where the loop returns when it is done
        self.loop_fn: Callable[[], None] | None = None
        self.stopped = 0            # operations stopped now (waiting for a turn)
        #: the greenlet of the operation running now, getcurrent() as this class's
        #: switches keep it (the only ones the loop makes), so that a lock records its
        #: holder without a call; None when no loop runs
        self.running: greenlet | None = None

    def run(self, loop_fn: Callable[[], None]) -> None:
        """Run ``loop_fn`` (the event loop) in a greenlet until it returns.

        Each greenlet that takes the loop over is started from here, not from the
        stopped operation's deep stack: a greenlet inherits the recursion depth of
        the one it is started from, and a chain of takeovers would add up."""
        self.main = getcurrent()
        self.loop_fn = loop_fn
        try:
            while True:
                self.loop = self.running = greenlet(loop_fn, parent=self.main)
                if self.loop.switch() is not _TAKE_OVER:
                    break
        finally:
            self.loop = self.running = None

    def must_wait(self, t: int) -> bool:
        """Whether an operation arriving at a lock at ``t`` must stop for its turn:
        a loop runs and an event earlier than ``t`` is still queued."""
        return self.loop is not None and self.queue.head_before(t)

    def can_stop(self) -> bool:
        """Whether the running code can stop (it runs inside the event loop)."""
        return self.loop is not None

    def wait_until(self, t: int) -> int:
        """Stop the running operation; continue it as an event at ``t``."""
        self.queue.push(t, TURN, self.running)
        return self.suspend()

    def suspend(self) -> int:
        """Stop the running operation until something calls :meth:`wake` for it;
        return the time it was woken for."""
        current = self.running
        self.stopped += 1
        if current is self.loop:
            # the operation runs on the loop's stack: a new greenlet takes the loop over
            t = self.main.switch(_TAKE_OVER)
        else:
            # a resumed operation stopping again: back to the loop that resumed it
            t = current.parent.switch()
        self.running = current      # woken: it runs again
        self.stopped -= 1
        return t

    def defer(self, t: int, c: Continuation) -> None:
        """Stop the running operation where all that is left of it is ``c.run(t)``;
        the loop makes that call as its turn at ``t`` (a stop like :meth:`wait_until`'s,
        without a switch of greenlets: the caller returns at once)."""
        c.at = t
        if cython.compiled:
            self.queue.push_turn(t, c)      # queued as itself
        else:
            self.queue.push(t, TURN, c)     # what push_turn() does there, a call less
        self.stopped += 1

    def wake(self, g: greenlet, t: int) -> None:
        """Continue the stopped operation ``g`` as an event at ``t``."""
        self.queue.push(t, TURN, g)

    def run_turn(self, c: Continuation) -> None:
        """The loop's part of the TURN event of ``c`` when the queue gives ``c`` itself
        (the compiled core, EventQueue.push_turn): :meth:`resume` of it at ``c.at``."""
        self.stopped -= 1
        c.run(c.at)

    def resume(self, g: greenlet | Continuation, t: int) -> None:
        """The loop's part of a TURN event: run ``g`` until it stops again or ends."""
        if isinstance(g, Continuation):
            self.stopped -= 1
            c = g                   # a C type on the compiled core (turns.pxd)
            c.run(t)
            return
        me = self.running
        g.parent = me
        self.running = g
        g.switch(t)                 # back here when g stops again or ends
        self.running = me

    def runs_loop(self, g: greenlet) -> bool:
        return self.loop is g
