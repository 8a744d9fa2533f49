"""Options a policy declares, checked before anything runs, and given on the command line;
and the hook declarations the load-time checks refuse with the line of their ``def``.
"""
from __future__ import annotations

import json

import pytest

from slabpolicy import Option, SlabpolicyError
from slabpolicy.errors import PluginError
from slabpolicy.runs.policy_args import split_policy_arg, with_options
from test_plugins import TINY, failure, invoke, line_of, ok, policy_module, write  # tests/

# a policy with validated options: a duration with a range, a checked int, a choice
CHECKED = """\
from slabpolicy import Option, PolicySpec, hookimpl


def even(value):
    if value % 2:
        return f"{value} is odd; batches are taken in pairs"


class Checked:
    def __init__(self, options):
        self.options = options
        if options["mode"] == "fast" and options["batch"] > 4:
            raise ValueError("fast mode takes batches of at most 4")


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="checked", version="0.1", description="validated options",
                       factory=Checked, options=(
                           Option("delay", "duration", "10ms", "how long", min="1ms", max="1s"),
                           Option("batch", "int", 2, "slabs per step", min=2, check=even),
                           Option("mode", "str", "slow", "speed", choices=("slow", "fast")),
                       ))]
"""


@pytest.fixture
def checked(tmp_path):
    return write(tmp_path / "checked.py", CHECKED)


#: with_policy's workload names its plugin file (plugins:), which loads only when allowed
ALLOW = "--allow-workload-plugins"


def with_policy(tmp_path, options: str):
    """The tiny workload running 'checked' with ``options`` (a YAML flow mapping)."""
    workload = TINY[:TINY.index("policies:\n")]
    return write(tmp_path / "w.yaml", workload + f"plugins: [checked.py]\npolicies:\n"
                                                 f"  - name: checked\n    options: {options}\n")


# -- validators ------------------------------------------------------------------------

def test_min_max_and_check_validate_a_value():
    opt = Option("delay", "duration", "10ms", "h", min="1ms", max="1s")
    assert (opt.min, opt.max, opt.parse("1s")) == (1_000_000, 1_000_000_000, 1_000_000_000)
    with pytest.raises(ValueError, match=r"^'500us' is below the minimum 1ms$"):
        opt.parse("500us")
    with pytest.raises(ValueError, match=r"^'2s' is above the maximum 1s$"):
        opt.parse("2s")
    size = Option("limit", "size", "4KiB", "h", max="64KiB")
    with pytest.raises(ValueError, match="above the maximum 64KiB"):
        size.parse("1MiB")

    def positive(v):
        if v <= 0:
            raise ValueError("must be positive")
    checked = Option("n", "int", 1, "h", check=positive)
    with pytest.raises(ValueError, match="^must be positive$"):
        checked.parse(0)
    assert checked.parse(3) == 3


def test_a_default_is_validated_and_a_bad_bound_refused():
    with pytest.raises(ValueError, match="option 'n': bad default: 0 is below the minimum 1"):
        Option("n", "int", 0, "h", min=1)
    with pytest.raises(ValueError, match="option 'd': bad min: bad duration '5'"):
        Option("d", "duration", "1s", "h", min=5)
    with pytest.raises(ValueError, match="option 'n': check 3 is not callable"):
        Option("n", "int", 1, "h", check=3)


def test_a_check_that_crashes_is_the_plugins_fault():
    def broken(value):
        return value.upper()
    opt = Option("n", "int", None, "h", check=broken)
    with pytest.raises(PluginError, match=r"option 'n': its check \(.*test_policy_options.py:\d+\) "
                                          r"raised AttributeError"):
        opt.parse(1)


def test_validate_runs_the_validators_and_points_at_the_line(tmp_path, checked):
    workload = with_policy(tmp_path, "{delay: 5s, batch: 3}")
    result = invoke("validate", workload, ALLOW)
    assert result.exit_code == 2, result.stdout
    line = line_of(workload, "options: {delay")
    assert result.stderr.splitlines() == [
        f"{workload}:{line}: policies[0].options.delay: '5s' is above the maximum 1s",
        f"{workload}:{line}: policies[0].options.batch: 3 is odd; batches are taken in pairs",
    ]


def test_validate_builds_the_policy_so_a_factorys_own_check_is_caught(tmp_path, checked):
    workload = with_policy(tmp_path, "{mode: fast, batch: 6}")
    expected = (f"policy checked ({checked.resolve()}:{line_of(checked, 'raise ValueError')}): "
                f"building it raised ValueError: fast mode takes batches of at most 4")
    assert failure(invoke("validate", workload, ALLOW)) == expected
    assert failure(invoke("run", workload, ALLOW)) == expected
    ok(invoke("validate", with_policy(tmp_path, "{mode: fast, batch: 4}"), ALLOW))


def test_a_bad_default_names_the_plugin_file_and_line(tmp_path):
    plugin = write(tmp_path / "bad_default.py", CHECKED.replace('"10ms", "how long"',
                                                                '"5s", "how long"'))
    line = line_of(plugin, 'Option("delay"')
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"plugin {plugin.resolve()}:{line}: slabpolicy_policies() "
        f"raised ValueError: option 'delay': bad default: '5s' is above the maximum 1s")


def test_slabpolicy_error_is_exported():
    assert issubclass(PluginError, SlabpolicyError)


# -- options on the command line -------------------------------------------------------

def test_policy_arguments_with_options():
    assert split_policy_arg("reap:delay=10ms,shrink=true,n=3,x=0.5") == (
        "reap", {"delay": "10ms", "shrink": True, "n": 3, "x": 0.5})
    assert split_policy_arg("leave-in-place") == ("leave-in-place", {})
    assert with_options(["b:z=1", "a"], ["y=2", "z=9"]) == ["b:y=2,z=1", "a:y=2,z=9"]
    assert with_options(["a"], []) == ["a"]
    for bad, message in (("a:shrink", "--policy a:shrink: expected key=value, got 'shrink'"),
                         (":x=1", "--policy :x=1: expected NAME:key=value")):
        with pytest.raises(SlabpolicyError, match=message):
            split_policy_arg(bad)
    with pytest.raises(SlabpolicyError, match="--option needs --policy"):
        with_options([], ["x=1"])


def test_run_with_options_on_the_command_line(tmp_path, checked, monkeypatch):
    workload = with_policy(tmp_path, "{}")
    both = [json.loads(ok(invoke("run", workload, ALLOW, *args, "--format", "json")))
            for args in (["--policy", "checked:batch=4,mode=fast"],
                         ["--policy", "checked", "--option", "mode=fast", "--option", "batch=4"])]
    for result in both:
        assert result["policy"]["label"] == "checked:batch=4,mode=fast"
        assert result["policy"]["options"] == {"delay": 10_000_000, "batch": 4, "mode": "fast"}


def test_command_line_options_override_a_workload_label_and_are_checked(tmp_path, checked):
    workload = with_policy(tmp_path, "{batch: 4}")
    result = json.loads(ok(invoke("run", workload, ALLOW, "--policy", "checked:delay=20ms",
                                  "--format", "json")))
    assert result["policy"]["options"] == {"delay": 20_000_000, "batch": 4, "mode": "slow"}
    bad = invoke("run", workload, ALLOW, "--policy", "checked", "--option", "delay=2s")
    assert failure(bad, 2) == ("--policy checked:delay=2s: options.delay: '2s' is above the "
                               "maximum 1s")


def test_compare_with_options_on_the_command_line(tmp_path, checked):
    workload = with_policy(tmp_path, "{}")
    out = tmp_path / "results"
    ok(invoke("compare", workload, ALLOW, "--policy", "checked", "--policy", "checked:batch=4",
              "--seeds", "1", "--jobs", "1", "--out", out, "--format", "json"))
    labels = sorted(json.loads(p.read_text())["policy"]["label"] for p in out.glob("tiny--*.json"))
    assert labels == ["checked", "checked:batch=4"]


# -- load-time checks of hook declarations -----------------------------------------------

def test_a_hook_method_without_self_is_refused_with_the_line_of_its_def(tmp_path):
    plugin = write(tmp_path / "no_self.py", policy_module("no-self", """\
    @hookimpl
    def slabpolicy_memcg_offline(sim, memcg):
        pass
"""))
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"plugin {plugin}: policy 'no-self' (Policy): "
        f"{plugin}:{line_of(plugin, 'def slabpolicy_memcg_offline')}: "
        f"slabpolicy_memcg_offline(sim, memcg) has no self: a hook on a policy class is a "
        f"method, called on the policy object; write def slabpolicy_memcg_offline(self, sim, memcg)")


@pytest.mark.parametrize("params, shown", [("*args, **kwargs", "*args and **kwargs"),
                                           ("sim, **kw", "**kw")])
def test_a_star_args_hook_is_refused_with_the_line_of_its_def(tmp_path, params, shown):
    plugin = write(tmp_path / "star.py", f"""\
        from slabpolicy import hookimpl


        @hookimpl
        def slabpolicy_tick({params}):
            pass
        """)
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"plugin {plugin}:{line_of(plugin, 'def slabpolicy_tick')}: slabpolicy_tick({params}) "
        f"takes {shown}, which pluggy leaves empty: it passes a hook's arguments by name; name "
        f"the ones you use, as in def slabpolicy_tick(sim, now_ns)")


def test_a_star_args_method_on_a_policy_class(tmp_path):
    plugin = write(tmp_path / "star_method.py", policy_module("star", """\
    @hookimpl
    def slabpolicy_dead_cache_empty(self, **kwargs):
        pass
"""))
    assert failure(invoke("policies", "--plugin", plugin)).endswith(
        "as in def slabpolicy_dead_cache_empty(self, sim, cache)")


def test_static_and_class_methods_need_no_self(tmp_path):
    plugin = write(tmp_path / "static.py", policy_module("static", """\
    @staticmethod
    @hookimpl
    def slabpolicy_tick(sim, now_ns):
        pass
"""))
    assert "static" in ok(invoke("policies", "--plugin", plugin))
