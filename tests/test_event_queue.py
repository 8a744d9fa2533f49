"""The event queue (a small heap of the near events, buckets of the later ones) gives the
events in exactly the order one heap of them all would: by time, then by seq."""
from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from slabpolicy.kernel.event_queue import EventQueue


def _pop(queue: EventQueue) -> tuple:
    """Pop the next event as the engine's loop does."""
    event = heapq.heappop(queue.heap)
    if not queue.heap:
        queue.refill()
    return event


# a script of pushes (a time ahead of the last popped one, possibly in the past; pushed
# by push() or as the engine's loop does) and pops
steps = st.lists(st.one_of(st.tuples(st.integers(min_value=-50, max_value=3000), st.booleans()),
                           st.none()), max_size=200)


@given(steps, st.integers(min_value=0, max_value=12))
def test_events_come_out_as_from_one_heap_whatever_the_bucket_width(script, shift):
    queue = EventQueue(shift)
    reference: list[tuple] = []
    now = 0
    for step in script + [None] * len(script):
        if step is None:
            if reference:
                expected = heapq.heappop(reference)
                assert _pop(queue) == expected
                now = expected[0]
            else:
                assert not queue.heap and not queue.far
            continue
        ahead, as_the_loop = step
        t = now + ahead
        if as_the_loop:
            event = (t, next(queue.seq), 1, ahead, None, None)
            (queue.far.get(t >> queue.shift) or queue).append(event)
        else:
            queue.push(t, 1, ahead)
        heapq.heappush(reference, _last_pushed(queue))
        # the head is always in the small heap: it is empty only when nothing is queued
        assert bool(queue.heap) == bool(reference)
        if reference:
            assert queue.heap[0] == reference[0]
        assert all(e[0] < queue.horizon for e in queue.heap)
        assert all(e[0] >= queue.horizon for b in queue.far.values() for e in b)


def _last_pushed(queue: EventQueue) -> tuple:
    """The event ``queue.push`` just queued: the one with the largest seq."""
    return max(queue.queued(), key=lambda e: e[1])


def test_same_time_events_keep_the_order_they_were_queued_in_across_buckets():
    queue = EventQueue(shift=4)          # 16 ns buckets
    for t, label in [(40, "a"), (3, "b"), (40, "c"), (3, "d"), (100, "e"), (40, "f")]:
        queue.push(t, 1, label)
    out = []
    while queue.heap:
        event = _pop(queue)
        out.append((event[0], event[3]))
    assert out == [(3, "b"), (3, "d"), (40, "a"), (40, "c"), (40, "f"), (100, "e")]
    assert not queue.far and not queue.buckets


def test_what_the_readers_of_the_queue_see():
    queue = EventQueue(shift=4)
    assert len(queue) == 0
    queue.push(10, 1)
    queue.push(1000, 1, "far")           # in a bucket, not in the heap
    assert len(queue.heap) == 1 and len(queue) == 2
    assert sorted((e[0], e[3]) for e in queue.queued()) == [(10, None), (1000, "far")]

