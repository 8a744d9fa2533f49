"""Modelled spinlocks with /proc/lock_stat-like statistics.

A lock is free from the simulated time ``free_at`` on.  An acquirer arriving
earlier waits until then (a contention); the hold time is the simulated time
between acquisition and release.  Statistics are kept per *lock class*, as
lock_stat does: every kmem_cache_node's ``list_lock`` is one class.

The clock belongs to the caller (the allocator's op clock): ``acquire`` takes the
time the acquirer arrives and returns the time it holds the lock, after the
wait and the cost of the lock operation itself.
"""
from __future__ import annotations


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

    __slots__ = ("cls", "free_at", "held_since", "name", "acquisitions")

    def __init__(self, cls: LockClass, name: str = "") -> None:
        self.cls = cls
        self.acquisitions = 0       # of this instance (the class sums all instances)
        self.free_at = 0
        self.held_since = -1
        self.name = name

    def acquire(self, now: int, cost: int) -> int:
        """Arrive at ``now``; wait if held; pay ``cost``; return the time the lock is held from."""
        cls = self.cls
        cls.acquisitions += 1
        self.acquisitions += 1
        if self.free_at > now:
            wait = self.free_at - now
            cls.contentions += 1
            cls.wait_ns_total += wait
            if wait > cls.wait_ns_max:
                cls.wait_ns_max = wait
            now += wait
        now += cost
        self.held_since = now
        return now

    def release(self, now: int) -> None:
        """Release at ``now``; the lock is free from then on."""
        hold = now - self.held_since
        cls = self.cls
        cls.hold_ns_total += hold
        if hold > cls.hold_ns_max:
            cls.hold_ns_max = hold
        self.free_at = now
        self.held_since = -1

    @property
    def held(self) -> bool:
        return self.held_since >= 0


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
