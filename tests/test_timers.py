"""Timers for policies (sim.schedule_every, sim.schedule) and ticks, fired by the kit.

A policy asks for its own periodic work at the interval it chooses; each run is a
kworker on cpu 0, starting when cpu 0 is free, on a fixed grid.  The kit fires
timers and ``slabpolicy_tick`` as simulated time passes (``kit.advance(t)``).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from slabpolicy.api.testing import Kit
from slabpolicy.errors import SlabpolicyError

TIMED = str(Path(__file__).resolve().parent / "timed_policy.py")
MS = 1_000_000


def timed(**options) -> Kit:
    tick = options.pop("tick_interval", "1s")
    return Kit(policy="timed", options=options, plugins=(TIMED,), tick_interval=tick)


def test_the_kit_fires_a_periodic_timer_at_the_times_asked():
    k = timed(period="10ms")
    k.advance("35ms")
    assert k.policy.runs == [10 * MS, 20 * MS, 30 * MS] and k.policy.timer.runs == 3
    assert k.t == 35 * MS
    k.advance(5 * MS)                      # an int is nanoseconds
    assert k.policy.runs[-1] == 40 * MS
    k.policy.timer.cancel()
    k.advance("100ms")
    assert len(k.policy.runs) == 4


def test_a_one_shot_call_runs_once_at_its_time():
    k = timed(period="1s", once="7ms")
    k.advance("6ms")
    assert k.policy.once_at == []
    k.advance("1ms")
    assert k.policy.once_at == [7 * MS]
    k.advance("2s")
    assert k.policy.once_at == [7 * MS] and k.policy.runs == [1000 * MS, 2000 * MS]


def test_a_run_waits_for_cpu_0_and_the_grid_is_kept():
    """Each run costs 3 ms on a 2 ms period: a run due while cpu 0 is still busy with
    the previous one starts when it is done; the due times stay 2, 4, 6, 8 ms (the
    run due at 8 ms starts at 11 ms), and the next is due at 10 ms."""
    k = timed(period="2ms", work="3ms")
    k.advance("9ms")
    assert k.policy.runs == [2 * MS, 5 * MS, 8 * MS, 11 * MS]
    assert k.policy.timer.next_ns == 10 * MS


def test_the_kit_fires_ticks_at_its_tick_interval():
    k = timed(period="1s", tick_interval="5ms")
    k.advance("12ms")
    assert k.policy.ticks == [(5 * MS, 5 * MS), (10 * MS, 10 * MS)]


def test_offline_waits_for_scheduled_work_but_not_for_periodic_timers():
    """offline(wait=True) runs the one-shot call 500 ms ahead, and the periodic runs
    due before it, and stops there instead of running timers for ever."""
    k = timed(period="100ms", once="500ms")
    cg = k.memcg("a")
    k.offline(cg)
    assert k.policy.once_at == [500 * MS]
    assert k.policy.runs == [100 * MS, 200 * MS, 300 * MS, 400 * MS, 500 * MS]


def test_bad_timer_arguments():
    k = timed()
    with pytest.raises(ValueError, match="interval must be positive"):
        k.sim.schedule_every(0, lambda: None)
    with pytest.raises(SlabpolicyError, match="kit: advance: bad duration"):
        k.advance("5")
