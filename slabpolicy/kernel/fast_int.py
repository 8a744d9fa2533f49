"""A time (a Python int of nanoseconds) read as a C int64, fast, on the compiled core.

The compiled core keeps times as Python ints (a time may be ``slub.BUSY``, 1 << 100,
past any C integer) and converts one to a C int64 where it does C arithmetic or
compares in C: the event queue's heaps, a lock's hold, a histogram's slot.  CPython's
``PyLong_AsLongLongAndOverflow()`` does that conversion for any object with
``__index__``, through a general loop over the digits: about 53 instructions for a
two-digit int (times past 2**30 ns, a second of simulated time, are two-digit ints),
on every event queued, every lock held, every latency recorded.

``time_as_int64()`` of ``fast_int.pxd`` has exactly its contract (the value and an
overflow flag of 0; or -1 and an overflow flag of 1 above an int64, -1 below one;
-1 with an exception set for an object that is no integer) and reads an exact int of
at most two digits directly (CPython 3.11's ``PyLongObject``: ``Py_SIZE()`` digits of
``PyLong_SHIFT`` bits, its sign the size's; 3.12's compact ints through
``PyUnstable_Long_CompactValue()``), which is about a tenth of the work.  Anything
else (more digits, a subclass such as ``bool``, another Python) goes to
``PyLong_AsLongLongAndOverflow()`` itself.

:func:`as_int64` is that conversion as a Python function, the same on both cores,
for the tests (tests/test_fast_int.py).  :func:`time_add` is the other way: a time
plus a cost as an int, made from a C sum.
"""
from __future__ import annotations

import operator

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

__all__ = ["as_int64", "time_add"]

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def as_int64(t: int) -> tuple[int, int]:
    """``(value, overflow)`` as ``PyLong_AsLongLongAndOverflow(t)`` gives them:
    ``(t, 0)`` where ``t`` fits an int64, ``(-1, 1)`` above, ``(-1, -1)`` below.  On the
    compiled core, what ``time_as_int64()`` returns."""
    if cython.compiled:
        overflow = 0
        value = time_as_int64(t, cython.address(overflow))
        return value, overflow
    t = operator.index(t)
    if t > INT64_MAX:
        return -1, 1
    if t < INT64_MIN:
        return -1, -1
    return t, 0


def time_add(t: int, d: int) -> int:
    """``t + d``: a time plus a time or a cost (``slub.now += cost``), the int Python's
    addition gives.

    On the compiled core, where both are exact ints of at most two digits (below
    2**60 in magnitude on CPython 3.11: every simulated time and cost but BUSY), the
    sum is made in C and one int made of it (``slabpolicy_time_add()`` of
    ``fast_int.pxd``): about 120 instructions a call, 70 of them the int's allocation,
    where ``long_add()`` costs about 176 for two-digit ints and Cython's in-place
    addition 202 (``x_add()`` allocates a three-digit result, adds digit by digit and
    normalizes it; callgrind, memory-pressure at 9.6 s).  Anything else is Python's
    own addition (``PyNumber_Add()``)."""
    if cython.compiled:
        return slabpolicy_time_add(t, d)
    return t + d
