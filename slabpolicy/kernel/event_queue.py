"""The engine's event queue: a small heap of the near events, buckets of the later ones.

Events are processed in ``(time, seq)`` order, SimPy's way: ``seq`` counts the
events in the order they were queued, so that events of the same time run in
that order and a run is deterministic.  An event is a tuple
``(t, seq, kind, a, b, c)``; ``seq`` is unique, so tuples compare as their
``(t, seq)`` and never further.

Most queued events are the frees of live objects, tens of milliseconds ahead,
and each allocation stream's next allocation, while the loop only ever needs
the earliest.  One heap of all of them costs
``2 log2(n)`` tuple comparisons per pop (26 for bench.yaml's 5,000 live
objects), and touches memory all over the heap.  So the queue is a calendar
(R. Brown, "Calendar queues", CACM 31(10), 1988, in its simplest form):

* ``heap``: the events before ``horizon``, a heap: what the loop pops from;
* ``far``: the later events, in buckets of ``2**shift`` ns, each an unsorted
  list (appending is all a push there costs); ``buckets`` is a heap of the
  buckets' numbers.

When ``heap`` runs empty, the earliest bucket is heapified into it
(:meth:`EventQueue.refill`) and ``horizon`` moves to that bucket's end.  The
invariant that makes the order exactly one heap's: every event in ``heap`` is
before ``horizon``, every event in ``far`` is at or after it, and ``heap`` is
empty only if ``far`` is too; so ``heap[0]`` is always the earliest event, and
whatever reads the head reads it there.  An event pushed while ``heap`` is
empty goes into ``heap`` whatever its time, and ``horizon`` moves past it.

The engine's loop reads ``heap`` directly and refills it; everything else goes
through the methods.
"""
from __future__ import annotations

import heapq
import itertools
from typing import Iterator

#: bucket width ``2**DEFAULT_SHIFT`` ns (131 us): bench.yaml has about 16
#: allocations and 16 frees per bucket; the width changes only the speed, never
#: the order
DEFAULT_SHIFT = 17


class EventQueue:
    """The queued events of one simulation (see the module docstring)."""

    __slots__ = ("heap", "horizon", "shift", "far", "buckets", "seq")

    def __init__(self, shift: int = DEFAULT_SHIFT) -> None:
        self.heap: list[tuple] = []          # (t, seq, kind, a, b, c) before horizon
        self.shift = shift
        self.horizon = 0                     # the first time whose events are in far
        self.far: dict[int, list[tuple]] = {}    # t >> shift -> events, unsorted
        self.buckets: list[int] = []         # the keys of far, a heap
        self.seq = itertools.count()

    def push(self, t: int, kind: int, a=None, b=None, c=None) -> None:
        """Queue an event of ``kind`` at ``t``."""
        self.push_event((t, next(self.seq), kind, a, b, c))

    def push_event(self, event: tuple) -> None:
        """Queue ``event`` where it belongs: in ``heap`` or in its bucket."""
        if event[0] < self.horizon:
            heapq.heappush(self.heap, event)
        elif self.heap:
            self.push_far(event)
        else:
            self.push_near(event)

    def append(self, event: tuple) -> None:
        """:meth:`push_event` under a list's name, so that the engine's loop queues an
        event with ``(far.get(t >> shift) or queue).append(event)``: into the bucket of
        its time where that exists (the event is then at or after the horizon, and
        ``heap`` is not empty), else wherever the queue puts it."""
        self.push_event(event)

    def push_near(self, event: tuple) -> None:
        """Queue ``event`` while ``heap`` is empty: it goes there, the horizon past it."""
        self.horizon = ((event[0] >> self.shift) + 1) << self.shift
        heapq.heappush(self.heap, event)

    def push_far(self, event: tuple) -> None:
        """Queue ``event`` (at or after the horizon, ``heap`` not empty) in its bucket."""
        n = event[0] >> self.shift
        bucket = self.far.get(n)
        if bucket is None:
            self.far[n] = [event]
            heapq.heappush(self.buckets, n)
        else:
            bucket.append(event)

    def refill(self) -> None:
        """``heap`` ran empty: the earliest bucket becomes it (nothing if none is left)."""
        if self.buckets:
            n = heapq.heappop(self.buckets)
            heap = self.heap
            heap.extend(self.far.pop(n))
            heapq.heapify(heap)
            self.horizon = (n + 1) << self.shift

    def queued(self) -> Iterator[tuple]:
        """Every queued event, ``(t, seq, kind, a, b, c)``, in no order."""
        yield from self.heap
        for bucket in self.far.values():
            yield from bucket

    def __len__(self) -> int:
        return len(self.heap) + sum(map(len, self.far.values()))
