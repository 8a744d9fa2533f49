"""Lifetime distributions: means, determinism, mixtures, forever."""
import math
import random

import pytest

from slabpolicy.workloads.distributions import (
    MAX_LIFETIME_NS,
    Distribution,
    Exponential,
    Fixed,
    Forever,
    LogNormal,
    Mixture,
    Pareto,
)

N = 20_000

FINITE = [
    Exponential(5_000_000),
    Exponential(1_000),
    LogNormal(1_000_000, 0.5),
    Pareto(1_000, 3.0),
    Fixed(5_000_000),
    Mixture(((0.9, Exponential(1_000_000)), (0.1, Fixed(50_000_000)))),
    Mixture(((1, Fixed(10)), (2, Fixed(20)), (7, Exponential(100_000)))),
]


def draw(dist, seed=1, n=N):
    sample = dist.make_sampler(random.Random(seed))
    return [sample() for _ in range(n)]


@pytest.mark.parametrize("dist", FINITE + [Pareto(10, 0.8), LogNormal(1e9, 3.0), Forever(),
                                           Mixture(((1, Forever()), (1, Fixed(3))))], ids=repr)
def test_same_seed_same_samples(dist):
    assert draw(dist, seed=42, n=2000) == draw(dist, seed=42, n=2000)


@pytest.mark.parametrize("dist", [Exponential(5_000_000), LogNormal(1_000_000, 0.5), Pareto(1_000, 3.0)],
                         ids=repr)
def test_different_seed_different_samples(dist):
    assert draw(dist, seed=1, n=100) != draw(dist, seed=2, n=100)


@pytest.mark.parametrize("dist", FINITE, ids=repr)
def test_sample_mean_close_to_mean(dist):
    xs = draw(dist)
    assert all(type(x) is int and x >= 1 for x in xs)
    # 20k samples: a few percent (Pareto alpha=3 has a heavier tail: 5 %).
    assert sum(xs) / len(xs) == pytest.approx(dist.mean_ns(), rel=0.05)


def test_exact_means():
    assert Exponential(5e6).mean_ns() == 5e6
    assert LogNormal(1e6, 0.5).mean_ns() == pytest.approx(1e6 * math.exp(0.125))
    assert Pareto(1000, 3.0).mean_ns() == pytest.approx(1500.0)
    assert Pareto(1000, 1.0).mean_ns() == math.inf
    assert Fixed(7).mean_ns() == 7
    assert Forever().mean_ns() == math.inf
    assert Mixture(((3, Fixed(10)), (1, Fixed(30)))).mean_ns() == pytest.approx(15.0)
    assert Mixture(((0.99, Fixed(10)), (0.01, Forever()))).mean_ns() == math.inf
    assert LogNormal(1e9, 100).mean_ns() == math.inf


def test_lognormal_median():
    xs = sorted(draw(LogNormal(2_000_000, 1.0)))
    assert xs[len(xs) // 2] == pytest.approx(2_000_000, rel=0.05)


def test_pareto_never_below_scale():
    assert min(draw(Pareto(1_000, 1.5))) >= 1_000


def test_forever_returns_none():
    assert draw(Forever(), n=10) == [None] * 10


def test_fixed_rounds_and_is_at_least_one():
    assert draw(Fixed(2.6), n=3) == [3, 3, 3]
    assert draw(Fixed(0), n=3) == [1, 1, 1]


def test_tiny_means_give_at_least_one_ns():
    assert min(draw(Exponential(0.01), n=1000)) == 1


def test_heavy_tails_are_clamped_not_raised():
    xs = draw(Pareto(1, 0.01), n=5000) + draw(LogNormal(1e9, 200), n=5000)
    assert max(xs) == MAX_LIFETIME_NS
    assert all(1 <= x <= MAX_LIFETIME_NS for x in xs)


def test_mixture_picks_components_by_weight():
    mix = Mixture(((1, Fixed(1)), (2, Fixed(2)), (7, Fixed(3))))
    xs = draw(mix)
    counts = {v: xs.count(v) / len(xs) for v in (1, 2, 3)}
    assert counts[1] == pytest.approx(0.1, abs=0.01)
    assert counts[2] == pytest.approx(0.2, abs=0.01)
    assert counts[3] == pytest.approx(0.7, abs=0.01)


def test_mixture_with_forever():
    xs = draw(Mixture(((0.9, Exponential(1_000_000)), (0.1, Forever()))))
    assert xs.count(None) / len(xs) == pytest.approx(0.1, abs=0.01)


def test_mixture_uses_one_random_to_pick():
    # Two fixed components consume exactly one rng.random() per draw.
    rng = random.Random(5)
    sample = Mixture(((1, Fixed(1)), (1, Fixed(2)))).make_sampler(rng)
    got = [sample() for _ in range(50)]
    ref = random.Random(5)
    assert got == [1 if ref.random() < 0.5 else 2 for _ in range(50)]


def test_nested_mixture():
    inner = Mixture(((1, Fixed(1)), (1, Fixed(2))))
    xs = draw(Mixture(((1, inner), (1, Fixed(3)))))
    assert xs.count(3) / len(xs) == pytest.approx(0.5, abs=0.02)
    assert xs.count(1) / len(xs) == pytest.approx(0.25, abs=0.02)


def test_single_component_mixture():
    assert draw(Mixture(((5, Fixed(9)),)), n=3) == [9, 9, 9]


def test_dataclasses_are_frozen_hashable_and_distributions():
    for d in FINITE + [Forever()]:
        assert isinstance(d, Distribution)
        hash(d)
        with pytest.raises(Exception):
            d.foo = 1
    assert Exponential(5) == Exponential(mean_ns=5) == Exponential(mean=5)


@pytest.mark.parametrize("make", [
    lambda: Exponential(0), lambda: Exponential(-1), lambda: LogNormal(1, 0), lambda: Pareto(0, 1),
    lambda: Pareto(1, -1), lambda: Fixed(-1), lambda: Mixture(()), lambda: Mixture(((0, Fixed(1)),)),
    lambda: Mixture(((1, "x"),)),
])
def test_invalid_parameters(make):
    with pytest.raises(ValueError):
        make()


def test_describe():
    assert Exponential(5_000_000).describe() == "exponential(mean=5ms)"
    assert Mixture(((9, Fixed(1000)), (1, Forever()))).describe() == "mixture(0.9*fixed(1us), 0.1*forever)"


def test_exponential_draws_are_random_expovariates():
    """The sampler computes random.expovariate()'s -log(1 - random()) / lambd itself
    (one call less per draw): the draws, and so every run, stay the stdlib's."""
    mean = 40_000_000.0
    sample = Exponential(mean).make_sampler(random.Random(7))
    stdlib = random.Random(7)
    for _ in range(1000):
        x = round(stdlib.expovariate(1.0 / mean))
        assert sample() == (x if x >= 1 else 1)
