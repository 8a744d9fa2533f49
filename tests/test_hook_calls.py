"""A firstresult hook on a frequent path is called without pluggy's dispatch only where
pluggy would call one plain implementation and return its result unchanged."""
from __future__ import annotations

import pytest

from slabpolicy import hookimpl
from slabpolicy.api.hook_calls import direct_caller
from slabpolicy.api.plugin_manager import make_plugin_manager

ARGS = ("sim", "cache", "slab", "cpu")


class Chained:
    """Answers every dead-cache free, as chaining does once its caches are chained."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def slabpolicy_dead_cache_free(self, sim, cache, slab, cpu):
        self.calls.append((sim, cache, slab, cpu))
        return True


class Picky:
    """Takes a subset of the arguments, in another order; answers only on cpu 1."""

    @hookimpl
    def slabpolicy_dead_cache_free(self, cpu, slab):
        return ("picky", slab) if cpu == 1 else None


class Observer:
    """A hookwrapper that sees every call and its result."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    @hookimpl(wrapper=True)
    def slabpolicy_dead_cache_free(self, cpu):
        result = yield
        self.seen.append((cpu, result))
        return result


def manager(*plugins):
    pm = make_plugin_manager(autoload=False)
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{i}")
    return pm


def test_one_plain_implementation_is_called_itself():
    policy = Chained()
    pm = manager(policy)
    call = direct_caller(pm.hook.slabpolicy_dead_cache_free, ARGS)
    assert call == policy.slabpolicy_dead_cache_free       # no pluggy frame in between
    assert call("sim", "cache", "slab", 3) is True
    assert policy.calls == [("sim", "cache", "slab", 3)]


def test_an_implementation_taking_some_arguments_gets_them_by_name():
    pm = manager(Picky())
    call = direct_caller(pm.hook.slabpolicy_dead_cache_free, ARGS)
    for cpu in (0, 1):
        assert call("sim", "cache", "slab-7", cpu) == \
            pm.hook.slabpolicy_dead_cache_free(sim="sim", cache="cache", slab="slab-7", cpu=cpu)
    assert call("sim", "cache", "slab-7", 1) == ("picky", "slab-7")


def test_two_implementations_go_through_pluggy_first_result_first():
    policy = Chained()
    pm = manager(policy, Picky())           # the later registered is called first
    call = direct_caller(pm.hook.slabpolicy_dead_cache_free, ARGS)
    assert call("sim", "cache", "slab", 1) == ("picky", "slab")
    assert policy.calls == []
    assert call("sim", "cache", "slab", 0) is True
    assert policy.calls == [("sim", "cache", "slab", 0)]


def test_a_wrapper_sees_every_call():
    observer = Observer()
    pm = manager(Chained(), observer)
    call = direct_caller(pm.hook.slabpolicy_dead_cache_free, ARGS)
    call("sim", "cache", "slab", 2)
    assert observer.seen == [(2, True)]
    alone = Observer()                      # the wrapper the only implementation
    call = direct_caller(manager(alone).hook.slabpolicy_dead_cache_free, ARGS)
    assert call("sim", "cache", "slab", 3) is None
    assert alone.seen == [(3, None)]


def test_hook_call_monitoring_sees_every_call():
    pm = manager(Chained())
    monitored: list[str] = []
    pm.add_hookcall_monitoring(lambda name, impls, kwargs: monitored.append(name),
                               lambda outcome, name, impls, kwargs: None)
    call = direct_caller(pm.hook.slabpolicy_dead_cache_free, ARGS)
    assert call("sim", "cache", "slab", 0) is True
    assert monitored == ["slabpolicy_dead_cache_free"]


def test_an_exception_from_the_implementation_comes_out_with_its_frame():
    class Broken:
        @hookimpl
        def slabpolicy_dead_cache_free(self, cache):
            raise ValueError(f"no parent_slab in {cache}")

    call = direct_caller(manager(Broken()).hook.slabpolicy_dead_cache_free, ARGS)
    with pytest.raises(ValueError, match="no parent_slab in dentry") as info:
        call("sim", "dentry", "slab", 0)
    assert info.traceback[-1].name == "slabpolicy_dead_cache_free"


def test_a_hook_that_is_not_firstresult_keeps_pluggy_s_list():
    class Sampler:
        @hookimpl
        def slabpolicy_sample(self, now_ns):
            return now_ns

    pm = manager(Sampler())
    call = direct_caller(pm.hook.slabpolicy_sample, ("sim", "now_ns", "sample"))
    assert call("sim", 5, {}) == [5]
