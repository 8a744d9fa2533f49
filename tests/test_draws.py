"""The arithmetic of a draw (slabpolicy/workloads/draws.py) and the samplers give
Python's own values on whichever core runs: on the compiled core they are C
functions and C types, and every run's draws must stay the same numbers.

CI runs this file on both cores (README's two set-up commands, then the
installed compiled package)."""
from __future__ import annotations

import math
import random
import struct
import types
from bisect import bisect_right

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slabpolicy import _core
from slabpolicy.kernel.engine import _Stream
from slabpolicy.workloads import draws
from slabpolicy.workloads.distributions import (
    MAX_LIFETIME_NS,
    CallableSampler,
    Exponential,
    Fixed,
    Forever,
    LogNormal,
    Mixture,
    Pareto,
    Sampler,
    as_sampler,
)

#: floats where rounding and truncation have their edge cases: halves (to even),
#: the neighbours of a half, the last floats below and at 2**53 and 2**63 (where
#: a C conversion to int64 stops being exact), and far beyond
EDGES = [0.0, -0.0, 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999999999999994,
         0.5000000000000001, 2.4999999999999996, 1e-300, 5e-324, 1.0, -1.0, 123456.5,
         2.0 ** 52 + 0.5, 2.0 ** 52 + 1.5, float(2 ** 53 + 1), 2.0 ** 53 - 0.5,
         2.0 ** 63 - 1024.0, 2.0 ** 63, -2.0 ** 63, -2.0 ** 63 - 2048.0, 9.2e18, 9.3e18,
         1e19, -1e19, 1e300, -1e300, 1.7976931348623157e308]
SPECIAL = [math.inf, -math.inf, math.nan]


def outcome(fn, x):
    """What ``fn(x)`` gives: its value with its type (a float by its bits, so that
    -0.0 and NaN compare), or the exception it raises with its message."""
    try:
        value = fn(x)
    except (ValueError, OverflowError) as exc:
        return type(exc), str(exc)
    if isinstance(value, float):
        return float, struct.pack("<d", value)
    return type(value), value


@pytest.mark.parametrize("x", EDGES + SPECIAL)
def test_round_half_even_and_trunc_are_pythons_round_and_int(x):
    assert outcome(draws.round_half_even, x) == outcome(round, x)
    assert outcome(draws.trunc, x) == outcome(int, x)


def test_halves_round_to_even():
    assert [draws.round_half_even(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 4.5)] \
        == [0, 2, 2, 0, -2, 4]
    assert draws.trunc(-2.7) == -2 and draws.trunc(2.0 ** 63) == 2 ** 63


@pytest.mark.parametrize("x", EDGES + SPECIAL + [0.3, 1e-5, 2.0])
def test_log_is_math_log(x):
    assert outcome(draws.log, x) == outcome(math.log, x)


#: where exp() overflows (past 709.78...), underflows to a subnormal and to 0
EXP_EDGES = [709.782712893384, 709.7827128933841, 710.0, -708.4, -745.1, -745.2, -746.0]


@pytest.mark.parametrize("x", EDGES + SPECIAL + EXP_EDGES)
def test_exp_is_math_exp(x):
    assert outcome(draws.exp, x) == outcome(math.exp, x)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_rounds_truncates_and_logs_as_python_does(x):
    assert outcome(draws.round_half_even, x) == outcome(round, x)
    assert outcome(draws.trunc, x) == outcome(int, x)
    assert outcome(draws.log, x) == outcome(math.log, x)
    assert outcome(draws.exp, x) == outcome(math.exp, x)


@settings(max_examples=2000, deadline=None)
@given(u=st.floats(0.0, 1.0, exclude_max=True), per_ns=st.floats(1e-12, 1e3))
def test_an_exponential_gap_is_int_of_expovariate(u, per_ns):
    """The engine's next allocation and the exponential lifetimes: random.expovariate's
    formula with draws' log, truncated or rounded, is Python's to the last digit."""
    gap = -math.log(1.0 - u) / per_ns
    assert draws.trunc(-draws.log(1.0 - u) / per_ns) == int(gap)
    assert draws.round_half_even(-draws.log(1.0 - u) / per_ns) == round(gap)


@pytest.mark.parametrize("seed", [0, 1, 2**70])
def test_uniform_draws_the_generators_own_stream(seed):
    """draws.uniform(rng.random) is rng.random(): the same floats in the same order from
    the same generator, whose state moves as by the call (on the compiled core it calls
    _random's C function directly); any other callable is just called."""
    mine, reference = random.Random(seed), random.Random(seed)
    assert [draws.uniform(mine.random) for _ in range(1000)] == \
        [reference.random() for _ in range(1000)]
    assert mine.getstate() == reference.getstate()
    assert draws.uniform(lambda: 0.25) == 0.25
    assert draws.uniform(mine.random) == reference.random()


def test_the_compiled_core_uses_c_functions():
    """On the compiled core the names are draws.pxd's C functions, not Python's (so
    that the tests above compare the two); on the pure one they are Python's."""
    python_ones = (draws.log is math.log, draws.exp is math.exp, draws.trunc is int,
                   draws.round_half_even is round)
    if _core.running() == _core.COMPILED_CORE:
        assert python_ones == (False, False, False, False)
        assert not isinstance(Sampler.draw, types.FunctionType)    # a cpdef method
    else:
        assert python_ones == (True, True, True, True)
        assert isinstance(Sampler.draw, types.FunctionType)


# -- the samplers against the closures they replaced ---------------------------------------

def old_exponential(rng, mean):
    rnd, lambd = rng.random, 1.0 / mean

    def sample():
        x = round(-math.log(1.0 - rnd()) / lambd)
        return x if x >= 1 else 1
    return sample


def old_clamped(draw):
    def sample():
        try:
            x = round(draw())
        except OverflowError:
            return MAX_LIFETIME_NS
        return 1 if x < 1 else min(x, MAX_LIFETIME_NS)
    return sample


def old_sampler(dist, rng):
    """The lifetime samplers as they were written before they were classes."""
    if isinstance(dist, Exponential):
        return old_exponential(rng, dist.mean)
    if isinstance(dist, LogNormal):
        mu = math.log(dist.median_ns)
        return old_clamped(lambda: rng.lognormvariate(mu, dist.sigma))
    if isinstance(dist, Pareto):
        return old_clamped(lambda: dist.scale_ns * rng.paretovariate(dist.alpha))
    if isinstance(dist, Fixed):
        value = max(1, round(dist.value_ns))
        return lambda: value
    if isinstance(dist, Forever):
        return lambda: None
    samplers = [old_sampler(d, rng) for _, d in dist.components]
    bounds = dist._cumulative()[:-1]
    return lambda: samplers[bisect_right(bounds, rng.random())]()


DISTRIBUTIONS = [
    Exponential(40_000_000), Exponential(0.3), Exponential(2.5), Exponential(3 * 2 ** 70),
    LogNormal(1_000_000, 0.5), LogNormal(1e9, 200), LogNormal(0.001, 3), LogNormal(5e18, 1),
    LogNormal(2e9, 1e12), Pareto(1_000, 3.0), Pareto(1, 0.01),
    Pareto(7, 1), Fixed(2.5), Fixed(3.5), Fixed(0), Forever(),
    Mixture(((0.99, Exponential(40_000_000)), (0.01, Forever()))),
    Mixture(((5, Fixed(9)),)),
    Mixture(((1, Fixed(10)), (2, LogNormal(2e9, 1.0)), (7, Exponential(100_000)))),
    Mixture(((1, Mixture(((1, Fixed(1)), (3, Pareto(10, 1.5))))), (1, Exponential(0.7)))),
]


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=repr)
@pytest.mark.parametrize("seed", [1, 2, 12345])
def test_a_sampler_draws_what_its_closure_drew(dist, seed):
    """Same values, and the random stream left in the same state: the runs after a
    draw see the same numbers."""
    new_rng, old_rng = random.Random(seed), random.Random(seed)
    new, old = dist.make_sampler(new_rng), old_sampler(dist, old_rng)
    assert isinstance(new, Sampler)
    got = [new() if i % 2 else new.draw() for i in range(3000)]
    assert got == [old() for _ in range(3000)]
    assert all(x is None or type(x) is int for x in got)
    assert new_rng.getstate() == old_rng.getstate()


@settings(max_examples=300, deadline=None)
@given(weights=st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=6),
       seed=st.integers(0, 2 ** 32))
def test_a_mixture_picks_the_component_bisect_picks(weights, seed):
    mix = Mixture(tuple((w, Fixed(i + 1)) for i, w in enumerate(weights)))
    sample = mix.make_sampler(random.Random(seed))
    ref = random.Random(seed)
    bounds = mix._cumulative()[:-1]
    for _ in range(200):
        assert sample() == bisect_right(bounds, ref.random()) + 1


def test_a_plain_callable_becomes_a_sampler():
    """A Distribution defined elsewhere may return any zero-argument callable: the
    engine's streams and a mixture take it as a Sampler."""
    fn = iter([5, None, 7]).__next__
    s = as_sampler(fn)
    assert isinstance(s, CallableSampler) and [s.draw(), s(), s.draw()] == [5, None, 7]
    exp = Exponential(5).make_sampler(random.Random(1))
    assert as_sampler(exp) is exp
    stream = _Stream(None, 0, 1.0, lambda: 3, 0.0, [0], unused_life=lambda: 4)
    assert (stream.life.draw(), stream.unused_life.draw()) == (3, 4)
    assert _Stream(None, 0, 1.0, exp, 0.0, [0]).unused_life is None
