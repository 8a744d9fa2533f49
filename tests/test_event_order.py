"""A stream's next allocation is an event like any other (kernel/engine.py): every
event runs by time, then by the order it was queued in (its ``seq``)."""
from __future__ import annotations

from slabpolicy.api.testing import Kit
from slabpolicy.kernel.engine import _Stream
from slabpolicy.kernel.event_kinds import ALLOC
from slabpolicy.kernel.event_queue import EventQueue
from slabpolicy.kernel.turns import Turns


def _queue_allocation(sim, t: int, stream: _Stream) -> None:
    """Queue ``stream``'s next allocation at ``t`` as the engine does."""
    sim._push(t, ALLOC, stream)


def test_an_allocation_queued_between_two_events_of_its_time_runs_between_them():
    kit = Kit(cpus=1)
    sim = kit.sim
    stream = _Stream(kit.memcg("a"), 0, rate_per_s=1.0, life=lambda: None,
                     remote_free=0.0, cpus=[0])
    seen = []

    def note(t, label, _):
        seen.append((t, label, sim.slub.n_alloc_fast + sim.slub.n_alloc_slow))

    sim.kernel_event(5_000, note, "queued before")
    _queue_allocation(sim, 5_000, stream)
    sim.kernel_event(5_000, note, "queued after")
    sim.kernel_event(4_000, note, "earlier")
    sim.run_events(until=5_000)
    # the allocation ran after the event queued before it and before the one after it
    assert seen == [(4_000, "earlier", 0), (5_000, "queued before", 0),
                    (5_000, "queued after", 1)]


def test_an_allocation_of_an_rmdired_cgroup_is_dropped():
    kit = Kit(cpus=1)
    sim = kit.sim
    memcg = kit.memcg("a")
    _queue_allocation(sim, 5_000, _Stream(memcg, 0, 1.0, lambda: None, 0.0, [0]))
    memcg.rmdir_ns = 4_000
    sim.run_events(until=10_000)
    assert sim.slub.n_alloc_fast + sim.slub.n_alloc_slow == 0
    assert list(sim._queue.queued()) == []


def test_a_lock_waits_for_an_earlier_allocation_as_for_any_earlier_event():
    queue = EventQueue()
    turns = Turns(queue)
    turns.loop = object()           # as if the event loop ran
    assert not turns.must_wait(100)
    queue.push(99, ALLOC, None)
    assert turns.must_wait(100)
    assert not turns.must_wait(99)  # an allocation at the same time comes after
