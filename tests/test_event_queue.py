"""The event queue gives the events in exactly the order one heap of them all would: by
time, then by the order they were queued in.  These tests hold it to a reference heap
on the core that runs them: the pure-Python core's calendar (any bucket width), or
the compiled core's three C heaps (push, push_later and push_turn), with times past
what 64 bits hold on either side."""
from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from slabpolicy import _core
from slabpolicy.kernel.event_kinds import TURN
from slabpolicy.kernel.event_queue import EventQueue

#: times around the edges of the compiled core's C heap (an int64) and far past them
EDGES = [2**62 - 1, 2**62, 2**63 - 2, 2**63 - 1, 2**63, 2**64, 1 << 100,
         -2**63, -2**63 - 1, -(1 << 100)]

# a script of steps: push, push_later or push_turn (a time ahead of the last popped
# one, possibly in the past, or one of EDGES), pop, pop only if due by a bound, hold
# the earliest, release
steps = st.lists(st.one_of(
    st.tuples(st.sampled_from(["push", "push_later", "push_turn"]),
              st.one_of(st.integers(min_value=-50, max_value=3000),
                        st.sampled_from(EDGES).map(lambda t: ("at", t)))),
    st.just(("pop", None)),
    st.tuples(st.just("pop_due"), st.one_of(st.integers(min_value=-50, max_value=3000),
                                            st.sampled_from(EDGES))),
    st.just(("hold", None)),
    st.just(("release", None))), max_size=200)


def _check(queue: EventQueue, reference: list[tuple]) -> None:
    """What every reader sees: the head (and whether it is before a time, on either side
    of it and of the int64 edges), the count, every event with its seq."""
    head = reference[0] if reference else None
    assert queue.head_time() == (head[0] if head else None)
    for t in ([head[0] - 1, head[0], head[0] + 1] if head else []) + EDGES:
        assert queue.head_before(t) == (head is not None and head[0] < t)
    assert queue.head() == (None if head is None else (head[0], head[2], head[3], None, None))
    assert len(queue) == len(reference)
    assert sorted(queue.queued()) == sorted((t, seq, kind, label, None, None)
                                            for t, seq, kind, label in reference)


class Turn:
    """What push_turn() queues: a stopped operation's continuation."""


def _popped_as(popped, event: tuple) -> bool:
    """Whether pop_due() gave ``event``: the tuple, or, on the compiled core, a TURN
    event queued by push_turn() at a time that fits the C heap as its continuation."""
    if type(popped) is Turn:
        return (_core.running() == _core.COMPILED_CORE and event[1] == TURN
                and popped is event[2] and -2**63 <= event[0] < 2**63)
    return popped == event


@given(steps, st.integers(min_value=0, max_value=12))
def test_events_come_out_as_from_one_heap(script, shift):
    queue = EventQueue(shift)        # the bucket width of the pure core's calendar
    reference: list[tuple] = []      # (t, seq, kind, label)
    held: list[tuple] = []
    now = seq = 0
    for op, arg in script + [("release", None)] + [("pop", None)] * len(script):
        if op in ("push", "push_later", "push_turn"):    # the compiled core's heaps: one order
            t = arg[1] if isinstance(arg, tuple) else now + arg
            if op == "push_turn":
                kind, label = TURN, Turn()
                queue.push_turn(t, label)
            else:
                kind, label = 1, seq
                getattr(queue, op)(t, 1, seq)
            heapq.heappush(reference, (t, seq, kind, label))
            seq += 1
        elif op in ("pop", "pop_due") and reference:
            t, _, kind, label = reference[0]
            if op == "pop_due" and t > arg:
                assert queue.pop_due(arg) is None
            else:
                heapq.heappop(reference)
                if op == "pop":
                    assert queue.pop() == (t, kind, label, None, None)
                else:
                    assert _popped_as(queue.pop_due(arg), (t, kind, label, None, None))
                now = t
        elif op in ("pop", "pop_due"):
            assert queue.pop_due(1 << 200) is None and queue.head() is None
        elif op == "hold" and reference:
            held.append(heapq.heappop(reference))
            queue.hold()
        elif op == "release":
            for event in held:
                heapq.heappush(reference, event)
            held.clear()
            queue.release()
        _check(queue, reference)


def test_same_time_events_keep_the_order_they_were_queued_in():
    queue = EventQueue(shift=4)          # the calendar: 16 ns buckets
    for t, label in [(40, "a"), (3, "b"), (40, "c"), (3, "d"), (100, "e"), (40, "f"),
                     (2**63, "g"), (2**63, "h"), (2**63 - 1, "i")]:
        queue.push(t, 1, label)
    out = []
    while queue.head() is not None:
        t, _, label, _, _ = queue.pop()
        out.append((t, label))
    assert out == [(3, "b"), (3, "d"), (40, "a"), (40, "c"), (40, "f"), (100, "e"),
                   (2**63 - 1, "i"), (2**63, "g"), (2**63, "h")]
    assert len(queue) == 0 and queue.queued() == []


def test_an_event_queued_for_later_keeps_its_place_among_events_of_its_time():
    """push_later() (an unused object's expiry) queues in the order push() would: by
    time, then by the order of queueing across both."""
    queue = EventQueue(shift=4)
    queue.push_later(40, 1, "a")
    queue.push(40, 1, "b")
    queue.push_later(3, 1, "c")
    queue.push(3, 1, "d")
    queue.push_later(40, 1, "e")
    assert [queue.pop()[2] for _ in range(5)] == ["c", "d", "a", "b", "e"]


def test_a_held_event_goes_back_to_its_place_among_events_of_its_time():
    queue = EventQueue(shift=4)
    queue.push(10, 1, "first")
    queue.hold()
    queue.push(10, 1, "second")         # queued later, at the same time
    assert queue.queued() == [(10, 1, 1, "second", None, None)]    # the held one is out
    queue.release()
    assert [queue.pop()[2] for _ in range(2)] == ["first", "second"]


def test_the_compiled_core_drops_its_events_with_the_queue():
    """The events are referenced by the queue alone; freeing the queue frees them, and a
    cycle through a queued event (a callback of the simulation) is collected."""
    import gc
    import weakref

    class Callback:
        pass

    queue = EventQueue()
    callback = Callback()
    callback.queue = queue               # queue -> event -> callback -> queue
    for t in (5, 2**64):                 # in the C heap (compiled) and past it
        queue.push(t, 1, callback)
    alive = weakref.ref(callback)
    del queue, callback
    gc.collect()
    assert alive() is None, f"the queued events of the {_core.running()} core leaked"
