"""Python's cyclic garbage collector during a run: paused, and run at samples.

A run makes and drops Python objects at every event (event payloads, slabs,
greenlets of operations stopped at a lock), and CPython's automatic collector
looks at the young ones every 700 allocations and at *every* tracked object each
time the survivors grow by a quarter.  On workloads with a large live set (hundreds
of memcgs with their caches, tens of thousands of live objects) those full
collections took a fifth of a run (many-small-cgroups, 18-22% of the compiled
core's time by ``gc.callbacks``) and found almost nothing: the model's objects
are freed by reference counting; only a few cycles die (a finished greenlet, an
offline generator).

So a run pauses automatic collection (:func:`paused`) and collects at its samples
instead, only once the tracked objects have grown by :data:`GROWTH` since the last
collection (:func:`collect_if_grown`): the garbage cycles a run can hold are at
most that many objects whatever its duration, so memory stays bounded by the live
set (``benchmarks/run_bench.py``'s 10x-duration check), and a steady run, whose
tracked objects do not grow, never pays for a full collection.  Collection never
changes a result: nothing in the model has a finalizer, and every operation a
greenlet holds has finished when the run ends.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

#: how many more tracked objects than at the last collection make a sample collect
#: (a garbage cycle is a few objects of a few hundred bytes: a few MiB at most)
GROWTH = 100_000


@contextmanager
def paused() -> Iterator[None]:
    """Automatic collection off for the block (a run), as it was after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect_if_grown() -> None:
    """A full collection if the tracked objects grew by :data:`GROWTH` since the last
    (``gc.get_count()[0]`` counts allocations less deallocations since then)."""
    if gc.get_count()[0] >= GROWTH:
        gc.collect()
