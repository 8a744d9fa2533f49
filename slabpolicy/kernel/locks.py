"""Modelled spinlocks with the statistics of /proc/lock_stat.

A lock is held by one operation at a time.  The allocator (``Allocator.lock``)
processes the acquisitions of a lock in the order the acquirers arrive at it
(:mod:`slabpolicy.kernel.turns` makes that so), so a lock needs only the time
its last holder released it: an acquirer arriving earlier waits until then (a
contention).  One whose holder is itself stopped, waiting for another lock,
queues in ``waiters`` and gets the lock handed over at the release, first come
first served, as a ticket or queued spinlock hands it over.

Statistics are kept per *lock class*, as lock_stat does (every kmem_cache_node's
``list_lock`` is one class), with its columns (Documentation/locking/lockstat.rst):
contentions, waittime, acquisitions, holdtime and the two bounce counts of
kernel/locking/lockdep.c, where ``lock->cpu`` is the cpu of the last
acquisition: ``acq-bounces`` counts acquisitions on a cpu other than the
previous acquirer's (__lock_acquired()), ``con-bounces`` contentions on a cpu
other than it (__lock_contended()).  The wait and hold times are kept as
histograms too.  The hold time is the work done under the lock: from after the
lock operation's own cost to the release.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from slabpolicy.kernel.fast_int import time_add
from slabpolicy.kernel.histogram import Histogram

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

if TYPE_CHECKING:
    from collections import deque


class LockClass:
    """Aggregated statistics of every lock of one class (a lock_stat line)."""

    __slots__ = ("name", "acquisitions", "contentions", "wait_ns_total", "wait_ns_max",
                 "hold_ns_big", "hold_ns_small", "hold_ns_max_big", "hold_ns_max_int64",
                 "con_bounces", "acq_bounces", "wait_hist", "hold_hist")

    #: the integer columns, in the order lock_stat prints them (as_dict's keys)
    COLUMNS = ("acquisitions", "contentions", "wait_ns_total", "wait_ns_max",
               "hold_ns_total", "hold_ns_max", "con_bounces", "acq_bounces")

    def __init__(self, name: str) -> None:
        self.name = name
        self.acquisitions = 0
        self.contentions = 0
        self.wait_ns_total = 0
        self.wait_ns_max = 0
        #: hold_ns_total in two parts: the compiled core adds a hold that fits to the C
        #: int64 ``hold_ns_small`` while the sum stays an int64, every other to the
        #: Python int ``hold_ns_big`` (the pure core adds every hold there)
        self.hold_ns_big = 0
        self.hold_ns_small = 0
        #: hold_ns_max in two parts the same way: the largest hold added in C and the
        #: largest of the others (hold_ns_max is the larger; INT64_MIN: none yet)
        self.hold_ns_max = 0
        self.con_bounces = 0
        self.acq_bounces = 0
        self.wait_hist = Histogram()   # the waits of contended acquisitions
        self.hold_hist = Histogram()

    @property
    def hold_ns_total(self) -> int:
        """Every hold summed (lock_stat's holdtime-total)."""
        return self.hold_ns_big + self.hold_ns_small

    @hold_ns_total.setter
    def hold_ns_total(self, value: int) -> None:
        self.hold_ns_big = value
        self.hold_ns_small = 0

    @property
    def hold_ns_max(self) -> int:
        """The longest hold (lock_stat's holdtime-max)."""
        big, small = self.hold_ns_max_big, self.hold_ns_max_int64
        return big if big > small else small

    @hold_ns_max.setter
    def hold_ns_max(self, value: int) -> None:
        self.hold_ns_max_big = value
        self.hold_ns_max_int64 = INT64_MIN

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.COLUMNS}

    def histograms(self) -> dict[str, list[list[int]]]:
        """The wait and hold histograms as ``[[ns, count], ...]``."""
        return {"wait": self.wait_hist.buckets(), "hold": self.hold_hist.buckets()}


class Lock:
    """One lock instance (a node's list_lock, say), belonging to a class."""

    __slots__ = ("cls", "name", "acquisitions", "held", "owner", "free_at", "held_since",
                 "cpu", "waiters", "trace")

    def __init__(self, cls: LockClass, name: str = "", trace: bool = False) -> None:
        self.cls = cls
        self.name = name
        self.acquisitions = 0       # of this instance (the class sums all instances)
        self.held = False
        self.owner = None           # the greenlet of the holding operation
        self.free_at = 0            # when the last holder released it
        self.held_since = 0         # when the holder's work under it began
        self.cpu = -1               # lock->cpu: the cpu of the last acquisition
        #: (greenlet, arrival time) of operations queued behind a stopped holder: a
        #: deque made by the first one (Allocator._queue_for()); most locks never see one
        self.waiters: deque[tuple] | None = None
        #: every hold as (cpu, arrived, acquired, released), when tracing
        self.trace: list[list[int]] | None = [] if trace else None

    def take(self, arrived: int, acquired: int | None, cpu: int, cost: int,
             cost_bounce: int) -> int:
        """The acquisition by ``cpu`` that arrived at ``arrived`` gets the lock at
        ``acquired``; pay ``cost``, or ``cost_bounce`` when the lock's cache line was
        last written by another cpu; return when the work under the lock begins.

        ``acquired`` None: the lock is not held (Allocator._acquire()), and the
        acquisition gets it when its last holder released it (``free_at``), or at its
        arrival if that is later.  The comparison that decides it also says whether
        the acquisition waited: one comparison instead of two (``free_at > arrived``
        in the allocator, then ``acquired != arrived`` here), in C on the compiled
        core (fast_int.pxd's time_lt())."""
        cls = self.cls
        cls.acquisitions += 1
        self.acquisitions += 1
        bounce = self.cpu != cpu and self.cpu >= 0
        if bounce:
            cls.acq_bounces += 1
            cost = cost_bounce
        if acquired is None:
            if cython.compiled:
                contended = time_lt(arrived, self.free_at)
            else:
                contended = arrived < self.free_at
            acquired = self.free_at if contended else arrived
        else:
            contended = acquired != arrived
        if contended:
            wait = acquired - arrived
            cls.contentions += 1
            cls.wait_ns_total += wait
            if wait > cls.wait_ns_max:
                cls.wait_ns_max = wait
            cls.wait_hist.record(wait)
            if bounce:
                cls.con_bounces += 1
        self.cpu = cpu
        self.held = True
        self.held_since = time_add(acquired, cost)
        if self.trace is not None:
            self.trace.append([cpu, arrived, acquired, -1])
        return self.held_since

    def release(self, now: int) -> None:
        """Release at ``now``: lock_stat's hold time is the work done under the lock."""
        cls = self.cls
        h = -1                          # the hold as a C integer, where it is one
        if cython.compiled:
            h = _hold_ns(self.held_since, now)
        if h >= 0:      # both times int64s: the hold made, added, compared, recorded in C
            if cls.hold_ns_small <= INT64_MAX - h:
                cls.hold_ns_small += h
            else:
                cls.hold_ns_big += h
            if h > cls.hold_ns_max_int64:
                cls.hold_ns_max_int64 = h
            cls.hold_hist.record_int64(h, 1)
        else:
            hold = now - self.held_since
            cls.hold_ns_big += hold
            if hold > cls.hold_ns_max_big:
                cls.hold_ns_max_big = hold
            cls.hold_hist.record(hold)
        self.held = False
        self.owner = None
        self.free_at = now
        if self.trace is not None:
            self.trace[-1][3] = now


#: the largest int64: the compiled core's C sum of holds stays at or below it
INT64_MAX = (1 << 63) - 1
#: the smallest int64: hold_ns_max_int64 before any hold is compared in C
INT64_MIN = -(1 << 63)


def _hold_ns(since: int, now: int) -> int:
    """Compiled core (:meth:`Lock.release`): ``now - since`` as a C integer, where both
    times are int64s >= 0 (so that their difference fits one too) and ``now`` is not
    before ``since``; else -1, and the caller takes Python's subtraction (a time past
    an int64, BUSY).  A hold is the work under a lock: no Python int is made for the
    two times, past 2**30 ns two-digit ints, nor for the sum of holds."""
    overflow = 0
    a = time_as_int64(since, cython.address(overflow))
    if overflow == 0 and a >= 0:
        b = time_as_int64(now, cython.address(overflow))
        if overflow == 0 and b >= a:
            return b - a
    return -1


class LockRegistry:
    """Lock classes by name, created on first use, reported in name order.

    With ``trace``, every lock created remembers each of its holds (tests).

    A C type on the compiled core (locks.pxd), so that a new cache's list_lock
    (slub.py's _per_node()) is made by a C call reading the registry's fields as C
    structure members: on many-small-cgroups, whose 1,800 memcg caches each make one
    (scan-and-move two), new_lock() was 1.4-1.5 k instructions a lock, 5.5 M a run
    of scan-and-move cut to 4.8 s, 2.9 M of leave-in-place (callgrind)."""

    __slots__ = ("classes", "trace", "locks")

    def __init__(self, trace: bool = False) -> None:
        self.classes: dict[str, LockClass] = {}
        self.trace = trace
        self.locks: list[Lock] = []

    def new_lock(self, class_name: str, name: str = "") -> Lock:
        """A new lock of the class ``class_name`` (made on its first lock), named ``name``."""
        cls = self.classes.get(class_name)
        if cls is None:
            cls = self.classes[class_name] = LockClass(class_name)
        lock = Lock(cls, name, self.trace)
        if self.trace:
            self.locks.append(lock)
        return lock

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: self.classes[name].as_dict() for name in sorted(self.classes)}

    def histograms(self) -> dict[str, dict[str, list[list[int]]]]:
        """Per class, the wait and hold histograms (``[[ns, count], ...]``)."""
        return {name: self.classes[name].histograms() for name in sorted(self.classes)}
