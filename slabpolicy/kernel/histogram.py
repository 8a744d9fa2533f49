"""Latency histograms of bounded memory.

A value is kept with 11 significant bits (HdrHistogram's idea, without its
arrays): below 2048 ns exactly, above that rounded down to a multiple of
``2 ** (bit_length - 11)``, so the relative error is under 1/1024 and a
histogram never holds more than about 1024 buckets per power of two, however
many values it has seen.  Percentiles are read off the bucket counts.

Most recorded values are below 2048 ns (a slow path, a lock hold), so their
counts are kept in an array indexed by the value, ``exact`` (2048 counters, a C
array on the compiled core), and only the others in a dict, ``rest``: a record
is then an index, not two hash lookups.  ``counts`` gives them together.
"""
from __future__ import annotations

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

SIGNIFICANT_BITS = 11
#: values of magnitude below this (11 bits) are kept exactly: no rounding to compute
EXACT_BELOW = 1 << SIGNIFICANT_BITS
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
#: below any int64: ``max_int64`` of a histogram whose ``max`` was set (none compared in C yet)
INT64_MIN = -(1 << 63)


class Histogram:
    """Counts of values (integer nanoseconds), bucketed to 11 significant bits."""

    __slots__ = ("exact", "rest", "count", "max_int64", "max_big")

    def __init__(self) -> None:
        zeros = [0] * EXACT_BELOW              # (Cython copies a list, not a product, into a C array)
        self.exact = zeros                      # exact[v]: the count of v, 0 <= v < 2048
        self.rest: dict[int, int] = {}          # bucket value -> count, for the others
        self.count = 0
        #: ``max`` in two parts: the compiled core compares a value that fits an int64
        #: with the C int64 ``max_int64``, every other with the Python int ``max_big``
        #: (the pure core compares every value there); ``max`` is the larger
        self.max = 0

    @property
    def max(self) -> int:
        """The largest value recorded (0 before any larger one)."""
        return self.max_big if self.max_big > self.max_int64 else self.max_int64

    @max.setter
    def max(self, value: int) -> None:
        self.max_big = value
        self.max_int64 = INT64_MIN

    def record(self, value: int, n: int = 1) -> None:
        """Add ``n`` observations of ``value`` (exact ``max``, bucketed percentiles)."""
        if cython.compiled:
            overflow = 0
            v = time_as_int64(value, cython.address(overflow))
            if overflow == 0:       # compared and counted in C
                self.record_int64(v, n)
                return
        if value > self.max_big:
            self.max_big = value
        if 0 <= value < EXACT_BELOW:
            self.exact[value] += n
        else:
            self._record_rest(value, n)
        self.count += n

    def record_span(self, start: int, end: int) -> None:
        """Add one observation of ``end - start``: an operation's latency from the times
        it started and ended (Allocator's recorded allocations and frees, a memcg's
        offline).

        On the compiled core, where both times fit an int64 and neither is negative
        (so that the difference fits one too), the difference is made and recorded
        in C: no Python int is made for it.  ``record(now - start)`` made one
        (``x_sub()`` and its allocation, about 240 instructions, then its free) and
        converted it back: about 370 instructions a recorded operation, 105 this way
        (callgrind, memory-pressure / scan-and-move at 12.8 s: 59k recorded
        allocations and frees)."""
        if cython.compiled:
            overflow = 0
            a = time_as_int64(start, cython.address(overflow))
            if overflow == 0 and a >= 0:
                b = time_as_int64(end, cython.address(overflow))
                if overflow == 0 and b >= 0:
                    self.record_int64(b - a, 1)
                    return
        self.record(end - start)

    def record_int64(self, v: int, n: int) -> None:
        """Compiled core (:meth:`record`, :meth:`Lock.release`): what record() does for
        a value the caller holds as the C int64 ``v``, compared and counted in C (no
        Python int made, none compared) unless it falls outside ``exact``."""
        if v > self.max_int64:
            self.max_int64 = v
        if 0 <= v < EXACT_BELOW:
            self.exact[v] += n
        else:
            self._record_rest(v, n)
        self.count += n

    def _record_rest(self, value: int, n: int) -> None:
        """Count ``n`` observations of ``value``, outside ``exact``, in its bucket of ``rest``."""
        if value <= -EXACT_BELOW or value >= EXACT_BELOW:  # bit_length() > 11
            shift = value.bit_length() - SIGNIFICANT_BITS
            value = (value >> shift) << shift
        rest = self.rest
        rest[value] = rest.get(value, 0) + n

    @property
    def counts(self) -> dict[int, int]:
        """Bucket value -> count, for every bucket with observations (in no order)."""
        exact = self.exact
        counts = {value: exact[value] for value in range(EXACT_BELOW) if exact[value]}
        counts.update(self.rest)
        return counts

    def merge(self, other: Histogram) -> None:
        """Add every observation of ``other`` (its buckets are values it kept)."""
        for value, n in other.counts.items():
            self.record(value, n)
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> int:
        """The smallest bucket value with at least ``q`` percent of observations at or below it."""
        if not self.count:
            return 0
        rank = max(1, -(-self.count * q // 100))   # ceil(count * q / 100), at least 1
        seen = 0
        counts = self.counts
        for value in sorted(counts):
            seen += counts[value]
            if seen >= rank:
                return value
        return self.max  # pragma: no cover - rank <= count always stops the loop

    def buckets(self) -> list[list[int]]:
        """``[[value, count], ...]`` in value order: the whole histogram, for a CDF."""
        counts = self.counts
        return [[value, counts[value]] for value in sorted(counts)]

    @classmethod
    def merged(cls, *parts: Histogram) -> Histogram:
        """One histogram holding every observation of ``parts``."""
        hist = cls()
        for part in parts:
            hist.merge(part)
        return hist

    def summary(self) -> dict[str, int]:
        """``{count, p50, p90, p99, p999, max}`` as the result document holds it."""
        out = {"count": self.count}
        for name, q in PERCENTILES:
            out[name] = self.percentile(q)
        out["max"] = self.max
        return out
