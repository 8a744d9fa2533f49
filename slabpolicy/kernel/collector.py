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

A finished simulation is itself cyclic garbage (slabs, caches, memcgs and the
allocator point at each other), some 36,000 tracked objects per run of
many-small-cgroups cut to 4.8 s.  The benchmark and compare's workers run many
runs in one process: left to the automatic collector, the finished runs piled up
in the older generations (tracked objects grew by that much per run) until a
collection of an older generation walked them all (390,000 objects, 0.35 s, as
long as two runs, every tenth run), and the next runs allocated among their
pages.  So :func:`run_one`'s whole run, the simulation built, run and made into
its result document, is one :func:`run_boundary`: automatic collection off
throughout, and once the run's frame is gone, one collection of the youngest
generation, which holds the run's objects (all of them, unless a sample
collected during the run: then a full collection), so that each run frees its own
objects before the next begins: that collection is 4-6% of such a run on a
quiet machine, 10-17% under load (its objects walked twice and freed: memory
misses), where the automatic collector paid a few percent a run and 60-70% of
one run in ten: over a benchmark cell's runs (the cut's and five timed ones)
the collector's instructions went from 367 M to 264 M, and twenty such runs in
one process took 12% less cpu time.  ``gc.freeze()``
would not do: the frozen objects of a run are never collected, so memory would
grow with the runs.

Most of those objects need not wait for the collection: before its frame ends,
run_one dismantles the allocator (``Allocator.dismantle()``: the caches' per-cpu
and per-node structures and the slabs' back pointers), so that reference counting
frees them, and the collection walks what is left (many-small-cgroups /
scan-and-move at 4.8 s: 9,400 objects instead of 36,000, the collection 8.1 M
instructions instead of 22.2 M; with the dismantling's own frees, a run 5.8 M
fewer, leave-in-place 5.9 M: callgrind of the whole process).
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


@contextmanager
def run_boundary() -> Iterator[None]:
    """Automatic collection off for the block (one run, from building its simulation to
    its result document: :func:`paused`); when the block ends without an exception,
    collect the generations that hold what it made, now garbage but for what it
    returned: the youngest alone, or all of them if a collection ran in the block
    (:func:`collect_if_grown` moved the objects it kept to the oldest)."""
    before = _collections()
    with paused():
        yield
        # still paused: re-enabled first, the collector would start on its own at the
        # next allocation, with the run's objects counted as new
        gc.collect(2 if _collections() != before else 0)


def _collections() -> int:
    """How many collections, of any generation, this process has made."""
    return sum(generation["collections"] for generation in gc.get_stats())
