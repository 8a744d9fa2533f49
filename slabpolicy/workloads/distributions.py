"""Lifetime distributions (of objects and of cgroups).

Each distribution is a small frozen dataclass.  ``make_sampler(rng)`` returns a
zero-argument closure that draws one lifetime in integer nanoseconds (rounded,
at least 1) or ``None`` for "forever"; ``mean_ns()`` is the exact mean
(``math.inf`` for ``Forever`` or an infinite mean).

Samplers are on the hottest path of the simulator, so each one binds the
:class:`random.Random` method it needs as a closure local and does nothing per
call beyond the draw, one multiplication and the rounding.

Determinism: only ``random()``, ``expovariate()``, ``lognormvariate()`` and
``paretovariate()`` are used; for a given seed their output is fixed by the
Python implementation, not by the platform.
"""
from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Optional

from slabpolicy.workloads.units import format_duration

__all__ = [
    "Distribution",
    "Exponential",
    "LogNormal",
    "Pareto",
    "Fixed",
    "Forever",
    "Mixture",
    "Sampler",
    "MAX_LIFETIME_NS",
]

#: A lifetime sampler: returns integer ns >= 1, or None for "forever".
Sampler = Callable[[], Optional[int]]

#: The longest lifetime a heavy-tailed sampler (LogNormal, Pareto) returns: draws
#: above it, or overflowing a float, are clamped to it (2**63 - 1 ns, about 292
#: years: longer than any simulation, and still fits an int64).
MAX_LIFETIME_NS = (1 << 63) - 1


class Distribution:
    """Base class of every lifetime distribution (see the subclasses)."""

    __slots__ = ()

    def make_sampler(self, rng: random.Random) -> Sampler:  # pragma: no cover - abstract
        raise NotImplementedError

    def mean_ns(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


def _positive(cls: str, field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0) \
            or not math.isfinite(value):
        raise ValueError(f"{cls}.{field} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, slots=True, init=False)
class Exponential(Distribution):
    """Memoryless lifetimes with the given mean.

    Built as ``Exponential(mean_ns)``; the value is stored in the field ``mean``
    because ``mean_ns`` is the name of the method every distribution has.
    """

    mean: float

    def __init__(self, mean_ns: float | None = None, *, mean: float | None = None):
        if (mean_ns is None) == (mean is None):
            raise TypeError("Exponential() takes exactly one of mean_ns or mean")
        value = mean_ns if mean is None else mean
        _positive("Exponential", "mean_ns", value)
        object.__setattr__(self, "mean", value)

    def make_sampler(self, rng: random.Random) -> Sampler:
        rnd = rng.random
        log = math.log
        lambd = 1.0 / self.mean

        def sample() -> int:
            x = round(-log(1.0 - rnd()) / lambd)     # rng.expovariate(lambd), one call less
            return x if x >= 1 else 1

        return sample

    def mean_ns(self) -> float:
        return float(self.mean)

    def describe(self) -> str:
        return f"exponential(mean={format_duration(self.mean)})"


def _clamped(draw: Callable[[], float]) -> Sampler:
    """A sampler of heavy-tailed draws: rounded to whole ns, at least 1, at most
    MAX_LIFETIME_NS (a draw too large for a float is the cap too)."""
    cap = MAX_LIFETIME_NS

    def sample() -> int:
        try:
            x = round(draw())
        except OverflowError:
            return cap
        if x < 1:
            return 1
        return x if x < cap else cap

    return sample


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """ln(lifetime) is normal with mean ln(median_ns) and standard deviation sigma."""

    median_ns: float
    sigma: float

    def __post_init__(self) -> None:
        _positive("LogNormal", "median_ns", self.median_ns)
        _positive("LogNormal", "sigma", self.sigma)

    def make_sampler(self, rng: random.Random) -> Sampler:
        lognorm = rng.lognormvariate
        mu = math.log(self.median_ns)
        sigma = self.sigma
        return _clamped(lambda: lognorm(mu, sigma))

    def mean_ns(self) -> float:
        try:
            return self.median_ns * math.exp(self.sigma * self.sigma / 2.0)
        except OverflowError:
            return math.inf

    def describe(self) -> str:
        return f"lognormal(median={format_duration(self.median_ns)}, sigma={self.sigma:g})"


@dataclass(frozen=True, slots=True)
class Pareto(Distribution):
    """Heavy tail: ``scale_ns * paretovariate(alpha)``; the mean is infinite for alpha <= 1."""

    scale_ns: float
    alpha: float

    def __post_init__(self) -> None:
        _positive("Pareto", "scale_ns", self.scale_ns)
        _positive("Pareto", "alpha", self.alpha)

    def make_sampler(self, rng: random.Random) -> Sampler:
        pareto = rng.paretovariate
        scale = self.scale_ns
        alpha = self.alpha
        return _clamped(lambda: scale * pareto(alpha))

    def mean_ns(self) -> float:
        if self.alpha <= 1:
            return math.inf
        return self.alpha * self.scale_ns / (self.alpha - 1.0)

    def describe(self) -> str:
        return f"pareto(scale={format_duration(self.scale_ns)}, alpha={self.alpha:g})"


@dataclass(frozen=True, slots=True)
class Fixed(Distribution):
    """Every lifetime is ``value_ns`` (rounded, at least 1 ns)."""

    value_ns: float

    def __post_init__(self) -> None:
        if isinstance(self.value_ns, bool) or not isinstance(self.value_ns, (int, float)) \
                or not math.isfinite(self.value_ns) or self.value_ns < 0:
            raise ValueError(f"Fixed.value_ns must be a finite number >= 0, got {self.value_ns!r}")

    def make_sampler(self, rng: random.Random) -> Sampler:
        value = max(1, round(self.value_ns))
        return lambda: value

    def mean_ns(self) -> float:
        return float(max(1, round(self.value_ns)))

    def describe(self) -> str:
        return f"fixed({format_duration(self.value_ns)})"


@dataclass(frozen=True, slots=True)
class Forever(Distribution):
    """Never freed: the sampler always returns None."""

    def make_sampler(self, rng: random.Random) -> Sampler:
        return _forever

    def mean_ns(self) -> float:
        return math.inf

    def describe(self) -> str:
        return "forever"


def _forever() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Mixture(Distribution):
    """Pick a component with probability weight / sum(weights), then draw from it.

    ``components`` is a tuple of ``(weight, distribution)`` pairs; weights must be
    > 0 and need not sum to 1.  One ``rng.random()`` picks the component.
    """

    components: tuple[tuple[float, Distribution], ...]

    def __post_init__(self) -> None:
        comps = tuple((w, d) for w, d in self.components)
        if not comps:
            raise ValueError("Mixture needs at least one component")
        for w, d in comps:
            _positive("Mixture", "weight", w)
            if not isinstance(d, Distribution):
                raise ValueError(f"Mixture component is not a Distribution: {d!r}")
        object.__setattr__(self, "components", comps)

    def _cumulative(self) -> list[float]:
        total = math.fsum(w for w, _ in self.components)
        cum, acc = [], 0.0
        for w, _ in self.components:
            acc += w
            cum.append(acc / total)
        cum[-1] = 1.0  # random() < 1.0, so the last component always catches the rest
        return cum

    def make_sampler(self, rng: random.Random) -> Sampler:
        rand = rng.random
        samplers = [d.make_sampler(rng) for _, d in self.components]
        cum = self._cumulative()
        if len(samplers) == 1:
            only = samplers[0]

            def sample1() -> int | None:
                rand()  # keep the one-draw-per-pick contract (and the random stream)
                return only()

            return sample1
        if len(samplers) == 2:
            first, second = samplers
            p = cum[0]

            def sample2() -> int | None:
                return first() if rand() < p else second()

            return sample2
        bounds = cum[:-1]

        def sample() -> int | None:
            return samplers[bisect_right(bounds, rand())]()

        return sample

    def mean_ns(self) -> float:
        total = math.fsum(w for w, _ in self.components)
        acc = 0.0
        for w, d in self.components:
            m = d.mean_ns()
            if math.isinf(m):
                return math.inf
            acc += (w / total) * m
        return acc

    def describe(self) -> str:
        total = math.fsum(w for w, _ in self.components)
        parts = ", ".join(f"{w / total:.3g}*{d.describe()}" for w, d in self.components)
        return f"mixture({parts})"
