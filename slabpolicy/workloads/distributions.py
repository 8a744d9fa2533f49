"""Lifetime distributions (of objects and of cgroups).

Each distribution is a small frozen dataclass.  ``make_sampler(rng)`` returns a
:class:`Sampler`: a zero-argument callable that draws one lifetime in integer
nanoseconds (rounded, at least 1) or ``None`` for "forever"; ``mean_ns()`` is the
exact mean (``math.inf`` for ``Forever`` or an infinite mean).

Samplers are on the hottest path of the simulator (a draw per allocated object),
so each holds the :class:`random.Random` method it needs and does nothing per
draw beyond the draw, one multiplication and the rounding.  On the compiled core
they are C types (``distributions.pxd``) whose ``draw()`` the engine calls as a C
function, and the rounding and the call of ``random()`` are
:mod:`slabpolicy.workloads.draws`': Python's own, without a Python call.

Determinism: only ``random()`` and ``paretovariate()`` are drawn from, and
``expovariate()`` and ``lognormvariate()`` are computed from ``random()`` as
CPython 3.11's Lib/random.py computes them; for a given seed their output is
fixed by the Python implementation, not by the platform.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from random import NV_MAGICCONST
from typing import Callable, Optional

from slabpolicy.workloads import draws
from slabpolicy.workloads.units import format_duration

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

__all__ = [
    "Distribution",
    "Exponential",
    "LogNormal",
    "Pareto",
    "Fixed",
    "Forever",
    "Mixture",
    "Sampler",
    "as_sampler",
    "MAX_LIFETIME_NS",
]

#: The longest lifetime a heavy-tailed sampler (LogNormal, Pareto) returns: draws
#: above it, or overflowing a float, are clamped to it (2**63 - 1 ns, about 292
#: years: longer than any simulation, and still fits an int64).
MAX_LIFETIME_NS = (1 << 63) - 1


class Sampler:
    """A lifetime sampler: ``draw()``, or calling it, returns integer ns >= 1, or
    None for "forever".  The subclasses below are those of this module's
    distributions; :func:`as_sampler` makes one of any zero-argument callable."""

    __slots__ = ()

    def draw(self) -> Optional[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self) -> Optional[int]:
        return self.draw()


class CallableSampler(Sampler):
    """A zero-argument callable (a sampler of a Distribution subclass defined elsewhere)
    as a :class:`Sampler`."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Optional[int]]) -> None:
        self.fn = fn

    def draw(self) -> Optional[int]:
        return self.fn()


def as_sampler(fn: Callable[[], Optional[int]]) -> Sampler:
    """What ``make_sampler()`` returned, as a :class:`Sampler` (itself if it is one)."""
    return fn if isinstance(fn, Sampler) else CallableSampler(fn)


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
        return ExponentialSampler(rng.random, 1.0 / self.mean)

    def mean_ns(self) -> float:
        return float(self.mean)

    def describe(self) -> str:
        return f"exponential(mean={format_duration(self.mean)})"


class ExponentialSampler(Sampler):
    """``round(rng.expovariate(lambd))``, at least 1.

    It computes random.expovariate()'s ``-log(1.0 - random()) / lambd`` itself
    (CPython 3.11, Lib/random.py): one Python call less per draw, and on the
    compiled core none but ``random()``."""

    __slots__ = ("rnd", "lambd")

    def __init__(self, rnd: Callable[[], float], lambd: float) -> None:
        self.rnd = rnd
        self.lambd = lambd

    def draw(self) -> int:
        u = draws.uniform(self.rnd) if cython.compiled else self.rnd()
        x = draws.round_half_even(-draws.log(1.0 - u) / self.lambd)
        return x if x >= 1 else 1


class ClampedSampler(Sampler):
    """A sampler of heavy-tailed draws (``variate()``): rounded to whole ns, at
    least 1, at most MAX_LIFETIME_NS (a draw too large for a float is the cap too)."""

    __slots__ = ()

    def variate(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self) -> int:
        try:
            x = draws.round_half_even(self.variate())
        except OverflowError:
            return MAX_LIFETIME_NS
        if x < 1:
            return 1
        return x if x < MAX_LIFETIME_NS else MAX_LIFETIME_NS


class LogNormalSampler(ClampedSampler):
    """``rng.lognormvariate(mu, sigma)``, clamped.

    It computes random.lognormvariate() itself (CPython 3.11, Lib/random.py):
    ``exp(normalvariate(mu, sigma))``, normalvariate() being Kinderman and
    Monahan's ratio of uniforms, which draws ``random()`` twice a try until a try
    is accepted.  The same draws in the same order, the same float operations
    (``mu + z * sigma`` on the Python objects ``mu`` and ``sigma``, as there), and
    draws' ``log`` and ``exp``: the same values, and on the compiled core no
    Python frame per draw (the interpreted normalvariate() was a fifth of
    many-small-cgroups' instructions)."""

    __slots__ = ("rnd", "mu", "sigma")

    def __init__(self, rnd: Callable[[], float], mu: float, sigma) -> None:
        self.rnd = rnd
        self.mu = mu
        self.sigma = sigma

    def variate(self) -> float:
        rnd = self.rnd
        magic = NV_MAGICCONST
        while True:
            if cython.compiled:
                u1 = draws.uniform(rnd)
                u2 = 1.0 - draws.uniform(rnd)
            else:
                u1 = rnd()
                u2 = 1.0 - rnd()
            z = magic * (u1 - 0.5) / u2
            zz = z * z / 4.0
            if zz <= -draws.log(u2):
                break
        return draws.exp(self.mu + z * self.sigma)


class ParetoSampler(ClampedSampler):
    """``scale * rng.paretovariate(alpha)``, clamped."""

    __slots__ = ("pareto", "scale", "alpha")

    def __init__(self, pareto: Callable[[float], float], scale, alpha) -> None:
        self.pareto = pareto
        self.scale = scale
        self.alpha = alpha

    def variate(self) -> float:
        return self.scale * self.pareto(self.alpha)


@dataclass(frozen=True, slots=True)
class LogNormal(Distribution):
    """ln(lifetime) is normal with mean ln(median_ns) and standard deviation sigma."""

    median_ns: float
    sigma: float

    def __post_init__(self) -> None:
        _positive("LogNormal", "median_ns", self.median_ns)
        _positive("LogNormal", "sigma", self.sigma)

    def make_sampler(self, rng: random.Random) -> Sampler:
        return LogNormalSampler(rng.random, math.log(self.median_ns), self.sigma)

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
        return ParetoSampler(rng.paretovariate, self.scale_ns, self.alpha)

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
        return FixedSampler(max(1, round(self.value_ns)))

    def mean_ns(self) -> float:
        return float(max(1, round(self.value_ns)))

    def describe(self) -> str:
        return f"fixed({format_duration(self.value_ns)})"


@dataclass(frozen=True, slots=True)
class Forever(Distribution):
    """Never freed: the sampler always returns None."""

    def make_sampler(self, rng: random.Random) -> Sampler:
        return ForeverSampler()

    def mean_ns(self) -> float:
        return math.inf

    def describe(self) -> str:
        return "forever"


class FixedSampler(Sampler):
    """The same lifetime every time."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def draw(self) -> int:
        return self.value


class ForeverSampler(Sampler):
    """Never freed: None every time."""

    __slots__ = ()

    def draw(self) -> None:
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
        samplers = [as_sampler(d.make_sampler(rng)) for _, d in self.components]
        return MixtureSampler(rng.random, self._cumulative()[:-1], samplers)

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


class MixtureSampler(Sampler):
    """One ``rng.random()`` picks a component (also where there is only one: the
    random stream does not depend on how a mixture is written), which then draws.

    ``bounds`` are the cumulative probabilities but the last (which is 1): the
    component is ``bisect.bisect_right(bounds, u)``, found by a scan, as short as
    the few components a mixture has."""

    __slots__ = ("rand", "bounds", "samplers")

    def __init__(self, rand: Callable[[], float], bounds: list[float],
                 samplers: list[Sampler]) -> None:
        self.rand = rand
        self.bounds = bounds
        self.samplers = samplers

    def draw(self) -> Optional[int]:
        u = draws.uniform(self.rand) if cython.compiled else self.rand()
        i = 0
        for bound in self.bounds:
            if u < bound:
                break
            i += 1
        pick = self.samplers[i]
        return pick.draw()
