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


def _exact_slot(value: int) -> int:
    """Compiled core (:meth:`Histogram.record`): ``value``'s counter in ``exact`` (the
    value itself) if 0 <= value < EXACT_BELOW, else -1; the value is made a C integer
    once and compared in C (histogram.pxd), where the generic code compared it twice
    against a module global."""
    overflow = 0
    v = PyLong_AsLongLongAndOverflow(value, cython.address(overflow))
    return v if overflow == 0 and 0 <= v < EXACT_BELOW else -1


class Histogram:
    """Counts of values (integer nanoseconds), bucketed to 11 significant bits."""

    __slots__ = ("exact", "rest", "count", "max")

    def __init__(self) -> None:
        zeros = [0] * EXACT_BELOW              # (Cython copies a list, not a product, into a C array)
        self.exact = zeros                      # exact[v]: the count of v, 0 <= v < 2048
        self.rest: dict[int, int] = {}          # bucket value -> count, for the others
        self.count = 0
        self.max = 0

    def record(self, value: int, n: int = 1) -> None:
        """Add ``n`` observations of ``value`` (exact ``max``, bucketed percentiles)."""
        if value > self.max:
            self.max = value
        if cython.compiled:
            slot = _exact_slot(value)
        else:                       # inline: a call per record costs the pure core
            slot = value if 0 <= value < EXACT_BELOW else -1
        if slot >= 0:
            self.exact[slot] += n
        else:
            if value <= -EXACT_BELOW or value >= EXACT_BELOW:  # bit_length() > 11
                shift = value.bit_length() - SIGNIFICANT_BITS
                value = (value >> shift) << shift
            rest = self.rest
            rest[value] = rest.get(value, 0) + n
        self.count += n

    def record_held(self, value: int, v: int) -> None:
        """Compiled core (:meth:`Lock.release`): record one ``value`` that the caller
        holds as the C integer ``v`` >= 0 already: what record(value) does, without
        making a C integer of it again nor a cpdef call."""
        if v >= EXACT_BELOW:
            self.record(value)
            return
        if value > self.max:
            self.max = value
        self.exact[v] += 1
        self.count += 1

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
