"""Modelled spinlocks with /proc/lock_stat-like statistics.

A lock remembers when it is held: the intervals between each acquisition and
its release.  An acquirer arriving inside one waits until its end (a
contention); the hold time is the simulated time between acquisition and
release.  Statistics are kept per *lock class*, as lock_stat does: every
kmem_cache_node's ``list_lock`` is one class.

Intervals, not just the last release, because the engine runs each operation
whole when its event comes up: a long operation (an offline scan) takes a lock
at a time later than the start of operations processed after it.  Those must
wait only if they arrive while the lock is held, not merely because it will be.
Intervals that end before ``horizon`` (the time of the event being processed:
nothing can arrive earlier any more) are forgotten, so a lock holds a handful.

The clock belongs to the caller (the allocator's op clock): ``acquire`` takes the
time the acquirer arrives and returns the time it holds the lock, after the
wait and the cost of the lock operation itself.
"""
from __future__ import annotations

from bisect import insort


class LockClass:
    """Aggregated statistics of every lock of one class (a lock_stat line)."""

    __slots__ = ("name", "acquisitions", "contentions", "wait_ns_total", "wait_ns_max",
                 "hold_ns_total", "hold_ns_max")

    def __init__(self, name: str) -> None:
        self.name = name
        self.acquisitions = 0
        self.contentions = 0
        self.wait_ns_total = 0
        self.wait_ns_max = 0
        self.hold_ns_total = 0
        self.hold_ns_max = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__[1:]}


class Lock:
    """One lock instance (a node's list_lock, say), belonging to a class."""

    __slots__ = ("cls", "holds", "taken_at", "held_since", "name", "acquisitions")

    def __init__(self, cls: LockClass, name: str = "") -> None:
        self.cls = cls
        self.acquisitions = 0       # of this instance (the class sums all instances)
        self.holds: list[tuple[int, int]] = []     # (taken, released), by taking time
        self.taken_at = -1          # when the current holder got it (before the lock cost)
        self.held_since = -1        # when the holder's work under it began (after the cost)
        self.name = name

    def acquire(self, now: int, cost: int, horizon: int = 0) -> int:
        """Arrive at ``now``; wait while held; pay ``cost``; return the time the lock is
        held from.  ``horizon``: no acquirer can arrive before it any more."""
        cls = self.cls
        cls.acquisitions += 1
        self.acquisitions += 1
        holds = self.holds
        if holds:
            if holds[0][1] <= horizon:
                holds = self.holds = [h for h in holds if h[1] > horizon]
            arrived = now
            for start, end in holds:
                if start <= now < end:
                    now = end
            if now != arrived:
                wait = now - arrived
                cls.contentions += 1
                cls.wait_ns_total += wait
                if wait > cls.wait_ns_max:
                    cls.wait_ns_max = wait
        self.taken_at = now
        now += cost
        self.held_since = now
        return now

    def release(self, now: int) -> None:
        """Release at ``now``: lock_stat's hold time is the work done under the lock."""
        hold = now - self.held_since
        cls = self.cls
        cls.hold_ns_total += hold
        if hold > cls.hold_ns_max:
            cls.hold_ns_max = hold
        insort(self.holds, (self.taken_at, now))
        self.held_since = self.taken_at = -1


class LockRegistry:
    """Lock classes by name, created on first use, reported in name order."""

    def __init__(self) -> None:
        self.classes: dict[str, LockClass] = {}

    def new_lock(self, class_name: str, name: str = "") -> Lock:
        cls = self.classes.get(class_name)
        if cls is None:
            cls = self.classes[class_name] = LockClass(class_name)
        return Lock(cls, name)

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: self.classes[name].as_dict() for name in sorted(self.classes)}
