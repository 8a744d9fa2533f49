"""The engine's event queue: the events of one simulation, earliest first.

Events are processed in ``(time, seq)`` order, SimPy's way: ``seq`` counts the
events in the order they were queued, so that events of the same time run in
that order and a run is deterministic.  An event is a tuple
``(t, kind, a, b, c)``; its ``seq`` is the queue's own (:meth:`EventQueue.queued`
gives it).  Times are Python ints: most fit 64 bits, but not all (a workload may
last ``2**63 - 1`` ns, and a time may be far past that).

Most queued events are the frees of live objects, tens of milliseconds ahead,
and each allocation stream's next allocation (bench.yaml: about 5,000), while
the loop only ever needs the earliest.  The queue holds them in one of two
forms, by core (``cython.compiled``); both give exactly one heap's order, and
everything reads the queue through the methods, never its fields.

**Pure Python: a calendar.**  One ``heapq`` of ``(t, seq, kind, a, b, c)``
tuples costs ``2 log2(n)`` Python tuple comparisons per pop (26 for 5,000
events) and touches memory all over the heap, so the queue is a calendar
(R. Brown, "Calendar queues", CACM 31(10), 1988, in its simplest form):

* ``heap``: the events before ``horizon``, a heap: what pops come from;
* ``far``: the later events, in buckets of ``2**shift`` ns, each an unsorted
  list (appending is all a push there costs); ``buckets`` is a heap of the
  buckets' numbers.

When ``heap`` runs empty, the earliest bucket is heapified into it
(:meth:`EventQueue.refill`) and ``horizon`` moves to that bucket's end.  The
invariant that makes the order exactly one heap's: every event in ``heap`` is
before ``horizon``, every event in ``far`` is at or after it, and ``heap`` is
empty only if ``far`` is too; so ``heap[0]`` is always the earliest event.  An
event pushed while ``heap`` is empty goes into ``heap`` whatever its time, and
``horizon`` moves past it.

**Compiled: binary heaps of C structs** ``{t, seq, slot}`` (``Entry`` in
event_queue.pxd), ordered on ``(t, seq)`` by C comparisons of two 64-bit
integers, with ``seq`` a C counter: no Python comparison, no Python int for the
seq, no tuple but the event itself.  The pop is heapq's (the hole goes down to
a leaf along the smaller children, then the last entry moves up into it: about
``log2(n)`` comparisons).  The event tuples live in a Python list, ``events``,
at the entry's ``slot`` (freed slots are reused), so that the garbage collector
sees them: a queued timer's callback refers back to its simulation, and a
cycle only a C array holds could never be collected.  An event whose time does
not fit an int64 goes to ``outside`` instead, a ``heapq`` of ``(t, seq,
event)``: such a time is before every C-heap event (below ``-2**63``) or after
all of them (``2**63`` and past), so the earliest event is the C heaps' head
unless ``outside``'s head is below ``-2**63`` (``outside_first``) or the C heaps
are empty, and the order is still exactly one heap's.

There are two C heaps, ``main`` and ``later``: :meth:`EventQueue.push_later`
queues an event that will wait long, behind most of what comes before it, in
``later`` (an unused object's expiry, seconds ahead: 95% of the 5,400 events
queued on memory-pressure, where everything else is due within milliseconds).
The earliest event is the earlier of the two heads by ``(t, seq)``, with one
``seq`` counter for both, so the order is still exactly one heap's; but the
events of the next milliseconds, most of the pops, sift through a heap of a few
hundred entries, not of thousands (callgrind, memory-pressure leave-in-place,
3 s: 1.2% fewer instructions and 3.8% fewer first-level data-cache read misses
than the same queue with every event in ``main``; the two heaps' extra test per
pop costs about what the shorter sifts save over the one heap this replaced).  The pure core's calendar already keeps far events out of its heap:
there ``push_later`` is ``push``.

A third C heap, ``turns``, holds the TURN events of operations stopped as a
continuation (:meth:`EventQueue.push_turn`, from Turns.defer(): an RCU batch
waiting its turn at a free_lock or a list_lock, kernel/rcu.py), and ``events``
holds the continuation itself there, not an event tuple: :meth:`pop_due` returns
it as it is (its turn's time is its ``at``) and the engine's loop runs it, while
the other readers (:meth:`head`, :meth:`pop`, :meth:`hold`, :meth:`queued`) see
its event ``(t, TURN, c, None, None)``, made when read.  The seq counter is the
same, so the order is still exactly one heap's.  On memory-pressure /
scan-and-move (12.8 s simulated) 43,388 of the 200,319 events are such turns,
nearly every free of an RCU batch stopping once: no tuple made and freed per stop,
and a push and a pop in a heap of the few stopped batches (one per cpu at most)
rather than among the hundreds of events of ``main``, cut a push from about 420
instructions to 165, the run's ``_heap_pop`` from 48.0 M to 40.5 M and its
``_heap_insert`` from 18.4 M to 14.4 M (callgrind; with the loop's direct call of
the continuation, kernel/engine.py, the run from 881.5 M to 850.0 M).  The third
head costs every other pop one test of ``turns.n``.

Why no calendar on top of the C heap: by perf on bench.yaml (compiled core,
leave-in-place, 5,000 queued events), the pop takes 8-10% of the run, a quarter
to a third of it the first touch of the event tuple (cold: queued tens of ms
ago), which any layout pays; the sift through 12 levels is 5-7.5%.  Buckets
would shorten it to the 5 levels of a ~30-event heap, saving at most 3-4.5%,
and the pure core's calendar pays a dict lookup per push (3.75% of the run when
it was the compiled core's queue) plus a list per bucket and a heapify per
refill: no gain left with Python buckets; only buckets of C arrays might win a
few percent.  A 4-ary heap (6 levels, 3 comparisons each) measured slower than
the binary one: 0.214-0.221 of the bare loop against 0.242-0.256, back to back;
a branch-free choice of the smaller child and prefetching the next level or the
next head's tuple measured no different.

:meth:`EventQueue.hold` takes the earliest event out of the order and
:meth:`EventQueue.release` puts the events held back with their ``(t, seq)``:
the engine's drain sets aside the events past the end that way.
"""
from __future__ import annotations

import heapq
import itertools

from slabpolicy.kernel.event_kinds import TURN

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

#: bucket width ``2**DEFAULT_SHIFT`` ns (131 us) of the pure-Python calendar:
#: bench.yaml has about 16 allocations and 16 frees per bucket; the width changes
#: only the speed, never the order
DEFAULT_SHIFT = 17
#: a compiled heap's first size, in entries (it doubles when full)
C_HEAP_START = 64


class EventQueue:
    """The queued events of one simulation (see the module docstring)."""

    # the pure-Python core's calendar, and the held events; the compiled core's
    # fields are C fields (event_queue.pxd)
    __slots__ = ("heap", "horizon", "shift", "far", "buckets", "seq", "held")

    def __init__(self, shift: int = DEFAULT_SHIFT) -> None:
        self.held: list[tuple] = []          # events out of the order (hold())
        if cython.compiled:
            self.events = []
            self.outside = []
            self._grow_free_slots(C_HEAP_START)
            return
        self.heap: list[tuple] = []          # (t, seq, kind, a, b, c) before horizon
        self.shift = shift
        self.horizon = 0                     # the first time whose events are in far
        self.far: dict[int, list[tuple]] = {}    # t >> shift -> events, unsorted
        self.buckets: list[int] = []         # the keys of far, a heap
        self.seq = itertools.count()

    # -- what the engine and its readers call ----------------------------------------

    def push(self, t: int, kind: int, a=None, b=None, c=None) -> None:
        """Queue an event of ``kind`` at ``t``."""
        if cython.compiled:
            self._insert((t, kind, a, b, c), self.count, cython.address(self.main))
            self.count += 1
            return
        event = (t, next(self.seq), kind, a, b, c)
        # a bucket of its time exists: the event is at or after the horizon, and
        # heap is not empty (push_event would put it there too, a call later)
        bucket = self.far.get(t >> self.shift)
        if bucket is not None:
            bucket.append(event)
        else:
            self.push_event(event)

    def push_later(self, t: int, kind: int, a=None, b=None, c=None) -> None:
        """Queue an event of ``kind`` at ``t`` that will wait long (seconds, behind
        most queued events): in the same order as :meth:`push` would, but, compiled,
        in the heap ``later`` (see the module docstring)."""
        if cython.compiled:
            self._insert((t, kind, a, b, c), self.count, cython.address(self.later))
            self.count += 1
            return
        self.push(t, kind, a, b, c)

    def push_at(self, t, kind, a, b, c) -> None:
        """Compiled core: :meth:`push` of an event whose time ``t`` is a C int64 (the
        engine's loop computes an allocation's next times in C): its Python int, for
        the event, is made once, and not converted back for the C heap."""
        self._insert_c((PyLong_FromLongLong(t), kind, a, b, c), t, self.count,
                       cython.address(self.main))
        self.count += 1

    def push_turn(self, t: int, c) -> None:
        """Queue the TURN event ``(t, TURN, c, None, None)`` of ``c``, what is left of an
        operation stopped by Turns.defer(): in the same order as :meth:`push` would.
        Compiled, ``c`` itself is queued, in the C heap ``turns``, where its time fits
        an int64: no event tuple is made, and :meth:`pop_due` returns ``c`` itself (the
        module docstring says why)."""
        if cython.compiled:
            overflow = 0
            tc = time_as_int64(t, cython.address(overflow))
            if not overflow:
                self._insert_c(c, tc, self.count, cython.address(self.turns))
                self.count += 1
                return
        self.push(t, TURN, c)

    def pop_due(self, end: int):
        """Take the earliest event, ``(t, kind, a, b, c)``, if it is at or before
        ``end``; None if it is later or nothing is queued (the engine's loop).
        Compiled, a TURN event queued by :meth:`push_turn` comes as its continuation
        ``c`` alone (not a tuple), the time of its turn its ``at``."""
        if cython.compiled:
            h = self._c_first()
            if h != cython.NULL:
                if end is not self.end:     # the loop passes the same end at every pop
                    overflow = 0
                    self.end_t = time_as_int64(end, cython.address(overflow))
                    self.end_overflow = overflow
                    self.end = end
                if self.end_overflow < 0 or (self.end_overflow == 0
                                             and h.entries[0].t > self.end_t):
                    return None
                self.popped_t = h.entries[0].t
                self.popped_fits = True
                return self._pop_c(h)
            if not self.outside or self.outside[0][0] > end:
                return None
            self.popped_fits = False
            return self._pop_outside()[2]
        heap = self.heap
        if not heap or heap[0][0] > end:
            return None
        t, _, kind, a, b, c = heapq.heappop(heap)
        if not heap:
            self.refill()
        return t, kind, a, b, c

    def pop(self) -> tuple:
        """Take the earliest event, ``(t, kind, a, b, c)`` (IndexError: none is queued)."""
        if cython.compiled:
            h = self._c_first()
            if h != cython.NULL:
                head = h.entries[0]
                return self._event_of(h, head, self._pop_c(h))
            return self._pop_outside()[2]
        t, _, kind, a, b, c = self._pop_calendar()
        return t, kind, a, b, c

    def head(self) -> tuple | None:
        """The earliest event, ``(t, kind, a, b, c)``, left queued; None if none is."""
        if cython.compiled:
            h = self._c_first()
            if h != cython.NULL:
                return self._event_of(h, h.entries[0], self.events[h.entries[0].slot])
            return self.outside[0][2] if self.outside else None
        if not self.heap:
            return None
        t, _, kind, a, b, c = self.heap[0]
        return t, kind, a, b, c

    def head_time(self) -> int | None:
        """The time of the earliest event; None if none is queued."""
        if cython.compiled:
            h = self._c_first()
            if h != cython.NULL:
                if h == cython.address(self.turns):
                    return PyLong_FromLongLong(h.entries[0].t)
                return self.events[h.entries[0].slot][0]
            return self.outside[0][0] if self.outside else None
        return self.heap[0][0] if self.heap else None

    def head_before(self, t: int) -> bool:
        """Whether an event earlier than ``t`` is queued (a lock's arrival must wait its
        turn: Turns.must_wait()).  Compiled, the C heap's head is compared in C, with
        no Python int made of its time."""
        if cython.compiled:
            h = self._c_first()
            if h != cython.NULL:
                overflow = 0
                tv = time_as_int64(t, cython.address(overflow))
                if overflow:
                    return overflow > 0     # t beyond every int64: the head is earlier
                return h.entries[0].t < tv
            return bool(self.outside) and self.outside[0][0] < t
        return bool(self.heap) and self.heap[0][0] < t

    def hold(self) -> None:
        """Take the earliest event out of the order until :meth:`release`."""
        if cython.compiled:
            h = self._c_first()
            if h != cython.NULL:
                head = h.entries[0]
                self.held.append((self._event_of(h, head, self._pop_c(h)), head.seq))
            else:
                _, seq, event = self._pop_outside()
                self.held.append((event, seq))
            return
        self.held.append(self._pop_calendar())

    def release(self) -> None:
        """Queue the held events again, each at its old place: its time and seq."""
        held = self.held
        self.held = []
        for item in held:
            if cython.compiled:
                self._insert(item[0], item[1], cython.address(self.main))
            else:
                self.push_event(item)

    def queued(self) -> list[tuple]:
        """Every queued event as ``(t, seq, kind, a, b, c)``, in no order (the held
        ones are not queued)."""
        if cython.compiled:
            events = [(t, seq) + event[1:] for t, seq, event in self.outside]
            self._queued_in(cython.address(self.main), events)
            self._queued_in(cython.address(self.later), events)
            self._queued_in(cython.address(self.turns), events)
            return events
        events = list(self.heap)
        for bucket in self.far.values():
            events.extend(bucket)
        return events

    def __len__(self) -> int:
        if cython.compiled:
            return self.main.n + self.later.n + self.turns.n + len(self.outside)
        return len(self.heap) + sum(map(len, self.far.values()))

    # -- the pure-Python core's calendar ---------------------------------------------

    def push_event(self, event: tuple) -> None:
        """Queue ``event``, ``(t, seq, kind, a, b, c)``: in ``heap`` or in its bucket."""
        if event[0] < self.horizon:
            heapq.heappush(self.heap, event)
        elif self.heap:
            self.push_far(event)
        else:
            self.push_near(event)

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

    def _pop_calendar(self) -> tuple:
        event = heapq.heappop(self.heap)
        if not self.heap:
            self.refill()
        return event

    # -- the compiled core's C heaps (never run by the .py) --------------------------

    def _c_first(self):
        """The C heap whose head is the earliest event (``main``, ``later`` or
        ``turns``); NULL if it is ``outside``'s or nothing is queued."""
        if self.outside_first:
            return cython.NULL
        if self.main.n > 0:
            h = cython.address(self.main)
            if self.later.n > 0 and _before(self.later.entries[0], self.main.entries[0]):
                h = cython.address(self.later)
        elif self.later.n > 0:
            h = cython.address(self.later)
        else:
            h = cython.NULL
        if self.turns.n > 0 and (h == cython.NULL
                                 or _before(self.turns.entries[0], h.entries[0])):
            h = cython.address(self.turns)
        return h

    def _event_of(self, h, entry, queued) -> tuple:
        """The event tuple of ``entry`` of C heap ``h``, queued as ``queued``: itself,
        or, in ``turns``, the TURN event of the continuation ``queued`` (what
        :meth:`pop`, :meth:`head`, :meth:`hold` and :meth:`queued` give)."""
        if h == cython.address(self.turns):
            return (PyLong_FromLongLong(entry.t), TURN, queued, None, None)
        return queued

    def _queued_in(self, h, events: list) -> None:
        """Add the events of C heap ``h`` to ``events`` as :meth:`queued` gives them."""
        for i in range(h.n):
            event = self._event_of(h, h.entries[i], self.events[h.entries[i].slot])
            events.append((event[0], h.entries[i].seq) + event[1:])

    def _insert(self, event: tuple, seq: int, h) -> None:
        """Queue ``event`` with ``seq``: in the C heap ``h`` if its time fits, else
        outside."""
        overflow = 0
        t = time_as_int64(event[0], cython.address(overflow))
        if overflow:
            heapq.heappush(self.outside, (event[0], seq, event))
            self.outside_first = self.outside[0][0] < 0
            return
        self._insert_c(event, t, seq, h)

    def _insert_c(self, event, t: int, seq: int, h) -> None:
        """Queue ``event`` with ``seq`` in the C heap ``h`` at its time ``t``, an int64
        (an event tuple; in ``turns``, a continuation)."""
        if self.nfree:
            self.nfree -= 1
            slot = self.free_slots[self.nfree]
            self.events[slot] = event
        else:
            slot = len(self.events)
            if slot == self.free_size:      # room to free every slot there is
                self._grow_free_slots(2 * self.free_size)
            self.events.append(event)
        _heap_insert(h, t, seq, slot)

    def _pop_c(self, h):
        """Take the head of the C heap ``h`` (there is one) and free its slot; return
        what was queued (an event tuple; from ``turns``, a continuation)."""
        slot = _heap_pop(h)
        event = self.events[slot]
        self.events[slot] = None
        self.free_slots[self.nfree] = slot
        self.nfree += 1
        return event

    def _pop_outside(self) -> tuple:
        """Take ``outside``'s head, ``(t, seq, event)``."""
        item = heapq.heappop(self.outside)
        self.outside_first = bool(self.outside) and self.outside[0][0] < 0
        return item

    def _grow_free_slots(self, size: int) -> None:
        """Room for ``size`` free slots (as many as there are slots)."""
        free_slots = realloc(self.free_slots, size * cython.sizeof(cython.Py_ssize_t))
        if free_slots == cython.NULL:
            raise MemoryError()
        self.free_slots = cython.cast(cython.pointer(cython.Py_ssize_t), free_slots)
        self.free_size = size

    def __dealloc__(self) -> None:
        free(self.main.entries)
        free(self.later.entries)
        free(self.turns.entries)
        free(self.free_slots)


def _heap_grow(h, size: int) -> None:
    """Compiled core: make room for ``size`` entries in C heap ``h``."""
    entries = realloc(h.entries, size * cython.sizeof(Entry))
    if entries == cython.NULL:
        raise MemoryError()
    h.entries = cython.cast(cython.pointer(Entry), entries)
    h.size = size


def _heap_insert(h, t: int, seq: int, slot: int) -> None:
    """Compiled core: put the entry ``{t, seq, slot}`` into C heap ``h``: up from a new
    leaf while it comes before the parent."""
    if h.n == h.size:
        _heap_grow(h, 2 * h.size if h.size else C_HEAP_START)
    entries = h.entries
    pos = h.n
    h.n += 1
    while pos > 0:
        parent = (pos - 1) >> 1
        if t < entries[parent].t or (t == entries[parent].t and seq < entries[parent].seq):
            entries[pos] = entries[parent]
            pos = parent
        else:
            break
    entries[pos].t = t
    entries[pos].seq = seq
    entries[pos].slot = slot


def _heap_pop(h) -> int:
    """Compiled core: take the head of C heap ``h`` (there is one); return its slot."""
    entries = h.entries
    slot = entries[0].slot
    h.n -= 1
    n = h.n
    if n == 0:
        return slot
    last = entries[n]
    pos = 0                         # the hole at the root goes down to a leaf ...
    child = 1
    while child < n:
        if child + 1 < n and _before(entries[child + 1], entries[child]):
            child += 1
        entries[pos] = entries[child]
        pos = child
        child = 2 * pos + 1
    while pos > 0:                  # ... and the last entry moves up into it
        parent = (pos - 1) >> 1
        if _before(last, entries[parent]):
            entries[pos] = entries[parent]
            pos = parent
        else:
            break
    entries[pos] = last
    return slot


def _before(x, y) -> bool:
    """Compiled core: whether C-heap entry ``x`` comes before ``y``, by ``(t, seq)``."""
    return x.t < y.t or (x.t == y.t and x.seq < y.seq)
