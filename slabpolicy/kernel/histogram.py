"""Latency histograms of bounded memory.

A value is kept with 11 significant bits (HdrHistogram's idea, without its
arrays): below 2048 ns exactly, above that rounded down to a multiple of
``2 ** (bit_length - 11)``, so the relative error is under 1/1024 and a
histogram never holds more than about 1024 buckets per power of two, however
many values it has seen.  Percentiles are read off the bucket counts.
"""
from __future__ import annotations

SIGNIFICANT_BITS = 11
#: values of magnitude below this (11 bits) are kept exactly: no rounding to compute
EXACT_BELOW = 1 << SIGNIFICANT_BITS
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))


class Histogram:
    """Counts of values (integer nanoseconds), bucketed to 11 significant bits."""

    __slots__ = ("counts", "count", "max")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.max = 0

    def record(self, value: int, n: int = 1) -> None:
        """Add ``n`` observations of ``value`` (exact ``max``, bucketed percentiles)."""
        if value > self.max:
            self.max = value
        if not -EXACT_BELOW < value < EXACT_BELOW:    # bit_length() > SIGNIFICANT_BITS
            shift = value.bit_length() - SIGNIFICANT_BITS
            value = (value >> shift) << shift
        counts = self.counts
        counts[value] = counts.get(value, 0) + n
        self.count += n

    def merge(self, other: Histogram) -> None:
        for value, n in other.counts.items():
            self.counts[value] = self.counts.get(value, 0) + n
        self.count += other.count
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> int:
        """The smallest bucket value with at least ``q`` percent of observations at or below it."""
        if not self.count:
            return 0
        rank = max(1, -(-self.count * q // 100))   # ceil(count * q / 100), at least 1
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= rank:
                return value
        return self.max  # pragma: no cover - rank <= count always stops the loop

    def buckets(self) -> list[list[int]]:
        """``[[value, count], ...]`` in value order: the whole histogram, for a CDF."""
        return [[value, self.counts[value]] for value in sorted(self.counts)]

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
