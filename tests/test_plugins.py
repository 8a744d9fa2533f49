"""Plugins: how they are found, how a wrong one is named, and that every hook fires.

Third-party plugins are simulated without installing anything: a fake
distribution (a ``*.dist-info`` directory with an ``entry_points.txt``) in a
temporary directory put on ``sys.path`` is found by ``importlib.metadata`` as
an installed one is.  The worked example of ``docs/plugins.md``
(``examples/reap-after-delay``) is loaded as a file, so these tests need it
installed only where they say so (and skip otherwise).
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from slabpolicy import PLUGIN_API_VERSION, Option, PolicySpec
from slabpolicy.errors import PluginError
from slabpolicy.kernel.memcg import RELEASED
from slabpolicy.api.plugin_manager import (BLOCK_ENV, DISABLE_AUTOLOAD_ENV, make_plugin_manager,
                                       policy_registry)
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.api.testing import Kit
from slabpolicy.workloads.spec import load_workload

from cli_support import invoke, ok

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "reap-after-delay" / "slabpolicy_reap_after_delay.py"
EXAMPLE_DIST = "slabpolicy-reap-after-delay"
BUNDLED = ("chaining", "leave-in-place", "objcg", "scan-and-move")

# cgroups arrive at 0, 20, 40, 60 ms and live 50 ms: four offlines, at 50, 70, 90,
# 110 ms.  A fifth of the dentries live about 30 ms, so some outlive their cgroup
# and are freed into its dead cache; ticks every 20 ms.
TINY = """\
name: tiny
seed: 3
duration: 200ms
sample_interval: 10ms
tick_interval: 20ms
machine:
  cpus: 2
caches:
  - name: dentry
    object_size: 192
cgroups:
  - name: c
    count: 4
    arrival: {process: fixed, interval: 20ms}
    lifetime: 50ms
    streams:
      - cache: dentry
        rate: 2000/s
        lifetime:
          dist: mixture
          of:
            - {weight: 0.8, dist: exponential, mean: 5ms}
            - {weight: 0.2, dist: exponential, mean: 30ms}
        remote_free: 0.3
policies:
  - name: leave-in-place
    label: leave-in-place-4.0
    options: {era: "4.0"}
"""
TINY_OFFLINES = 4
TINY_TICKS = 10          # at 20, 40, ... 200 ms


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def failure(result, code: int = 1) -> str:
    """The one line a failing command prints (and no traceback)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``text``."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(BLOCK_ENV, raising=False)


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write(tmp_path / "tiny.yaml", TINY)


class FakeDists:
    """Installs fake distributions (dist-info + modules) in a directory on sys.path."""

    def __init__(self, root: Path, monkeypatch) -> None:
        self.root = root
        self.modules: list[str] = []
        root.mkdir(exist_ok=True)
        monkeypatch.syspath_prepend(str(root))

    def add(self, dist: str, version: str, entry_points: dict[str, str],
            modules: dict[str, str] = {}) -> None:
        for name, text in modules.items():
            write(self.root / f"{name}.py", text)
            self.modules.append(name)
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(
            "[slabpolicy]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
        importlib.invalidate_caches()

    def cleanup(self) -> None:
        for name in self.modules:
            sys.modules.pop(name, None)


@pytest.fixture
def fake_dists(tmp_path, monkeypatch):
    dists = FakeDists(tmp_path / "site", monkeypatch)
    yield dists
    dists.cleanup()


def policy_module(name: str, cls_body: str = "    pass\n", extra: str = "",
                  spec_args: str = "") -> str:
    """A plugin module offering policy ``name`` whose class body is ``cls_body``."""
    return (f"from slabpolicy import Option, PolicySpec, hookimpl\n\n\n"
            f"class Policy:\n    def __init__(self, options):\n        self.options = options\n\n"
            f"{cls_body}\n\n"
            f"@hookimpl\ndef slabpolicy_policies():\n"
            f"    return [PolicySpec(name={name!r}, version='0.3', description='a test policy',\n"
            f"                       factory=Policy{spec_args})]\n{extra}")


# --------------------------------------------------------------------------- #
# discovery
# --------------------------------------------------------------------------- #

def test_the_bundled_policies_are_entry_points_of_slabpolicy():
    registry = policy_registry(make_plugin_manager())
    for name in BUNDLED:
        assert registry[name].source == "bundled"
        assert registry[name].plugin == name


def test_an_installed_entry_point_is_listed_and_runs_by_name(fake_dists, tiny, tmp_path):
    fake_dists.add("slabpolicy-fake", "0.3", {"fake-plugin": "fake_policy_ok"},
                   {"fake_policy_ok": policy_module("fake")})
    rows = {r["name"]: r for r in json.loads(ok(invoke("policies", "--format", "json")))}
    assert rows["fake"]["source"] == "entry point (slabpolicy-fake 0.3)"
    assert rows["fake"]["version"] == "0.3"
    assert set(BUNDLED) <= set(rows)
    table = ok(invoke("policies"))
    assert any(line.split()[:2] == ["fake", "0.3"] and "entry point (slabpolicy-fake 0.3)" in line
               for line in table.splitlines())
    doc = json.loads(ok(invoke("run", tiny, "--policy", "fake", "--format", "json")))
    assert doc["policy"] == {"name": "fake", "label": "fake", "version": "0.3", "options": {},
                             "source": "entry point (slabpolicy-fake 0.3)",
                             "kernel": "not stated by the plugin"}
    assert doc["accounting"]["violations"] == 0


def test_a_distribution_seen_twice_on_sys_path_counts_once(fake_dists, monkeypatch, tmp_path):
    fake_dists.add("slabpolicy-twice", "0.3", {"twice": "fake_policy_twice"},
                   {"fake_policy_twice": policy_module("twice")})
    copy = FakeDists(tmp_path / "site2", monkeypatch)      # a stale copy (an .egg-info, say)
    copy.add("slabpolicy-twice", "0.3", {"twice": "fake_policy_twice"})
    assert policy_registry(make_plugin_manager())["twice"].source == \
        "entry point (slabpolicy-twice 0.3)"


def _counting_scans(monkeypatch) -> list[str]:
    """Count the scans of installed distributions (importlib.metadata.entry_points calls)."""
    scans: list[str] = []
    real = importlib.metadata.entry_points

    def counted(**selection):
        scans.append(selection.get("group", ""))
        return real(**selection)
    monkeypatch.setattr(importlib.metadata, "entry_points", counted)
    return scans


def test_the_entry_point_scan_is_kept_until_a_distribution_is_installed(fake_dists,
                                                                         monkeypatch, tmp_path):
    fake_dists.add("slabpolicy-first", "1.0", {"first": "fake_policy_first"},
                   {"fake_policy_first": policy_module("first")})
    make_plugin_manager()
    scans = _counting_scans(monkeypatch)
    for _ in range(3):                      # a compare worker's runs: one scan kept
        assert "first" in policy_registry(make_plugin_manager())
    assert scans == []
    # a distribution installed into a directory on sys.path changes its mtime
    mtime = fake_dists.root.stat().st_mtime_ns
    fake_dists.add("slabpolicy-second", "2.0", {"second": "fake_policy_second"},
                   {"fake_policy_second": policy_module("second")})
    os.utime(fake_dists.root, ns=(mtime + 10**9, mtime + 10**9))   # surely another tick
    registry = policy_registry(make_plugin_manager())
    assert registry["second"].source == "entry point (slabpolicy-second 2.0)"
    assert scans == ["slabpolicy"]
    # a directory put on sys.path
    FakeDists(tmp_path / "site3", monkeypatch).add(
        "slabpolicy-third", "3.0", {"third": "fake_policy_third"},
        {"fake_policy_third": policy_module("third")})
    assert "third" in policy_registry(make_plugin_manager())
    assert scans == ["slabpolicy", "slabpolicy"]


def test_a_local_file_on_policies_validate_and_run(tmp_path, tiny):
    plugin = write(tmp_path / "local_policy.py", policy_module("local"))
    rows = {r["name"]: r for r in json.loads(ok(invoke("policies", "--plugin", plugin,
                                                       "--format", "json")))}
    assert rows["local"]["source"] == f"file {plugin.resolve()}"
    workload = write(tmp_path / "uses_local.yaml", TINY.replace(
        "  - name: leave-in-place\n    label: leave-in-place-4.0\n    options: {era: \"4.0\"}\n",
        "  - local\n"))
    assert "policies local" in ok(invoke("validate", workload, "--plugin", plugin))
    doc = json.loads(ok(invoke("run", workload, "--plugin", plugin, "--format", "json")))
    assert doc["policy"]["source"] == f"file {plugin.resolve()}"


def test_a_workload_plugins_key_loads_a_file_relative_to_the_workload(tmp_path):
    write(tmp_path / "w" / "policies" / "relative_policy.py", policy_module("relative"))
    workload = write(tmp_path / "w" / "rel.yaml", TINY.replace(
        "policies:\n", "plugins: [policies/relative_policy.py]\npolicies:\n  - relative\n"))
    docs = json.loads(ok(invoke("run", workload, "--format", "json", "--allow-workload-plugins")))
    assert [d["policy"]["label"] for d in docs] == ["relative", "leave-in-place-4.0"]
    assert docs[0]["policy"]["source"] == \
        f"file {(tmp_path / 'w' / 'policies' / 'relative_policy.py').resolve()}"


def test_the_same_file_from_the_command_line_and_the_workload_loads_once(tmp_path):
    plugin = write(tmp_path / "twice_given.py", policy_module("twice-given"))
    workload = write(tmp_path / "w.yaml", TINY.replace(
        "policies:\n", "plugins: [twice_given.py]\npolicies:\n  - twice-given\n"))
    assert ok(invoke("validate", workload, "--plugin", plugin))


def test_a_package_directory_is_a_plugin(tmp_path, tiny):
    package = tmp_path / "my_package_policy"
    write(package / "__init__.py", """\
        from slabpolicy import PolicySpec, hookimpl

        from .policy import Packaged


        @hookimpl
        def slabpolicy_policies():
            return [PolicySpec("packaged", "0.1", "from a package", Packaged)]
        """)
    write(package / "policy.py", """\
        from slabpolicy import hookimpl


        class Packaged:
            def __init__(self, options):
                pass

            @hookimpl
            def slabpolicy_dead_cache_empty(self, sim, cache):
                sim.slub.kmem_cache_destroy(cache)
        """)
    doc = json.loads(ok(invoke("run", tiny, "--plugin", package, "--policy", "packaged",
                               "--format", "json")))
    assert doc["policy"]["source"] == f"file {package.resolve()}"
    assert failure(invoke("policies", "--plugin", tmp_path)) == \
        f"{tmp_path}: plugin directory has no __init__.py"


def test_disable_autoload_hides_every_entry_point_the_bundled_included(tiny, fake_dists):
    fake_dists.add("slabpolicy-fake", "0.3", {"fake-plugin": "fake_policy_hidden"},
                   {"fake_policy_hidden": policy_module("hidden")})
    env = {DISABLE_AUTOLOAD_ENV: "1"}
    assert json.loads(ok(invoke("policies", "--format", "json", env=env))) == []
    line = failure(invoke("run", tiny, "--policy", "leave-in-place", env=env))
    assert line == "--policy leave-in-place: unknown policy 'leave-in-place'; installed: none"
    # "0" and "" mean autoloading stays on
    for value in ("0", ""):
        names = [r["name"] for r in json.loads(ok(invoke(
            "policies", "--format", "json", env={DISABLE_AUTOLOAD_ENV: value})))]
        assert set(BUNDLED) | {"hidden"} <= set(names)


def test_with_autoload_disabled_a_bundled_policy_loads_as_a_file(tiny, monkeypatch):
    import slabpolicy_plugins.leave_in_place as bundled
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    registry = policy_registry(make_plugin_manager((bundled.__file__,)))
    assert list(registry) == ["leave-in-place"]
    assert registry["leave-in-place"].source == f"file {Path(bundled.__file__).resolve()}"
    with pytest.raises(Exception, match="no policy 'leave-in-place' installed"):
        Kit()
    kit = Kit(plugins=(bundled.__file__,))
    assert type(kit.policy).__name__ == "LeaveInPlace"


def test_block_plugins_skips_entry_points_by_name(fake_dists):
    fake_dists.add("slabpolicy-fake", "0.3", {"fake-plugin": "fake_policy_blocked"},
                   {"fake_policy_blocked": policy_module("blocked")})
    names = [r["name"] for r in json.loads(ok(invoke(
        "policies", "--format", "json", env={BLOCK_ENV: "chaining, objcg,fake-plugin"})))]
    assert {"leave-in-place", "scan-and-move"} <= set(names)
    assert not {"chaining", "objcg", "blocked"} & set(names)


# --------------------------------------------------------------------------- #
# errors that name the culprit
# --------------------------------------------------------------------------- #

def test_an_entry_point_that_fails_to_import(fake_dists, tiny):
    fake_dists.add("slabpolicy-broken", "1.2", {"broken": "fake_policy_broken"},
                   {"fake_policy_broken": "import no_such_module_anywhere\n"})
    line = failure(invoke("policies"))
    assert line == ("plugin broken (entry point broken = fake_policy_broken of slabpolicy-broken "
                    "1.2) failed to import: ModuleNotFoundError: No module named "
                    "'no_such_module_anywhere'; set SLABPOLICY_BLOCK_PLUGINS=broken to skip it")
    assert failure(invoke("run", tiny)) == line
    # blocking it, as the message says, lets everything else work
    assert "leave-in-place" in ok(invoke("policies", env={BLOCK_ENV: "broken"}))


def test_an_entry_point_with_a_syntax_error(fake_dists):
    fake_dists.add("slabpolicy-typo", "1.0", {"typo": "fake_policy_typo"},
                   {"fake_policy_typo": "def (:\n"})
    line = failure(invoke("policies"))
    assert line.startswith("plugin typo (entry point typo = fake_policy_typo of slabpolicy-typo "
                           "1.0) failed to import: SyntaxError: ")
    assert "fake_policy_typo.py, line 1" in line


def test_two_distributions_with_the_same_entry_point_name(fake_dists):
    fake_dists.add("slabpolicy-one", "1.0", {"same": "fake_policy_one"},
                   {"fake_policy_one": policy_module("one")})
    fake_dists.add("slabpolicy-two", "2.0", {"same": "fake_policy_two"},
                   {"fake_policy_two": policy_module("two")})
    line = failure(invoke("policies"))
    assert line.startswith("plugin same: entry point 'same' of group 'slabpolicy' is declared by ")
    assert "slabpolicy-one 1.0" in line and "slabpolicy-two 2.0" in line


def test_a_file_that_fails_to_import(tmp_path):
    plugin = write(tmp_path / "raises_on_import.py", "raise ImportError('needs libfoo')\n")
    line = failure(invoke("policies", "--plugin", plugin))
    assert line == f"{plugin}: plugin failed to import: ImportError: needs libfoo"
    workload = write(tmp_path / "w.yaml", TINY.replace(
        "policies:\n", "plugins: [raises_on_import.py]\npolicies:\n"))
    assert failure(invoke("run", workload, "--allow-workload-plugins")) == \
        f"{plugin.resolve()}: plugin failed to import: ImportError: needs libfoo"
    with pytest.raises(PluginError, match="plugin failed to import: ImportError: needs libfoo"):
        Kit(plugins=(str(plugin),))


def test_a_hook_with_an_argument_the_spec_does_not_have(tmp_path):
    plugin = write(tmp_path / "bad_signature.py", """\
        from slabpolicy import hookimpl


        @hookimpl
        def slabpolicy_tick(sim, now_ns, cpu):
            pass
        """)
    line = failure(invoke("policies", "--plugin", plugin))
    assert line == (f"plugin {plugin}:{line_of(plugin, 'def slabpolicy_tick')}: slabpolicy_tick(sim, now_ns, "
                    f"cpu) takes argument 'cpu' that the hook does not pass; the hook is "
                    f"def slabpolicy_tick(sim, now_ns)")


def test_a_policy_method_with_a_wrong_signature_is_found_before_the_run(tmp_path, tiny):
    plugin = write(tmp_path / "bad_method.py", policy_module("bad-method", """\
    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg, when):
        pass
"""))
    where = (f"plugin {plugin}: policy 'bad-method' (Policy): "
             f"{plugin}:{line_of(plugin, 'def slabpolicy_memcg_offline')}")
    expected = (f"{where}: slabpolicy_memcg_offline(sim, memcg, when) takes argument 'when' "
                f"that the hook does not pass; the hook is def slabpolicy_memcg_offline(sim, memcg)")
    assert failure(invoke("policies", "--plugin", plugin)) == expected
    assert failure(invoke("validate", tiny, "--plugin", plugin)) == expected


def test_a_policy_class_checked_once_is_checked_again_when_a_hook_is_replaced():
    from slabpolicy import hookimpl
    from slabpolicy.api.plugin_manager import check_hooks

    class Policy:
        @hookimpl
        def slabpolicy_memcg_offline(self, sim, memcg):
            pass

    pm = make_plugin_manager()
    check_hooks(pm, Policy, "policy p")          # passes, and is remembered
    check_hooks(pm, Policy(), "policy p")        # its objects too

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg, when):
        pass
    Policy.slabpolicy_memcg_offline = slabpolicy_memcg_offline
    for plugin in (Policy, Policy()):
        with pytest.raises(PluginError, match="takes argument 'when' that the hook does not pass"):
            check_hooks(pm, plugin, "policy p")


def test_a_policy_object_from_a_function_factory_is_checked_when_registered(tmp_path, tiny):
    plugin = write(tmp_path / "function_factory.py", """\
        from slabpolicy import PolicySpec, hookimpl


        class Hidden:
            @hookimpl
            def slabpolicy_dead_cache_emtpy(self, sim, cache):
                pass


        def build(options):
            return Hidden()


        @hookimpl
        def slabpolicy_policies():
            return [PolicySpec("hidden", "0.1", "built by a function", build)]
        """)
    assert "hidden" in ok(invoke("policies", "--plugin", plugin))
    line = failure(invoke("run", tiny, "--plugin", plugin, "--policy", "hidden"))
    assert line.startswith(f"policy hidden: {plugin}:{line_of(plugin, 'def slabpolicy_dead')}: "
                           f"slabpolicy_dead_cache_emtpy() is not a slabpolicy hook; did you mean "
                           f"slabpolicy_dead_cache_empty?")


def test_an_unknown_hook_names_the_plugin_and_the_hook(tmp_path):
    plugin = write(tmp_path / "unknown_hook.py", """\
        from slabpolicy import hookimpl


        @hookimpl
        def slabpolicy_memcg_ofline(sim, memcg):
            pass
        """)
    line = failure(invoke("policies", "--plugin", plugin))
    assert line == (f"plugin {plugin}:5: slabpolicy_memcg_ofline() is not a slabpolicy hook; "
                    f"did you mean slabpolicy_memcg_offline? (the hooks are in "
                    f"slabpolicy/api/hookspecs.py and docs/plugins.md)")


def test_an_unknown_hook_marked_optional_is_allowed(tmp_path):
    plugin = write(tmp_path / "optional_hook.py", """\
        from slabpolicy import hookimpl


        @hookimpl(optionalhook=True)
        def slabpolicy_from_a_later_version(sim):
            pass
        """)
    assert ok(invoke("policies", "--plugin", plugin))


def test_check_pending_is_a_safety_net_naming_the_plugin(tmp_path):
    """A hook pluggy finds unverified at check_pending() (our own check comes first,
    so only a plugin registered behind its back gets there) is still one clear line."""
    import pluggy

    from slabpolicy import hookimpl
    from slabpolicy.api import plugin_manager as pm_mod

    class Sneaky:
        @hookimpl
        def slabpolicy_nothing(self):
            pass

    pm = make_plugin_manager()
    pm.register(Sneaky(), name="sneaky")
    with pytest.raises(pluggy.PluginValidationError) as info:
        pm.check_pending()
    assert "slabpolicy_nothing" in str(info.value)
    assert pm_mod.describe_plugin(pm, pm.get_name(info.value.plugin)) == "plugin sneaky"


def test_a_hook_function_without_hookimpl(tmp_path):
    plugin = write(tmp_path / "unmarked.py", """\
        def slabpolicy_run_end(sim, result):
            result["mine"] = 1
        """)
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"plugin {plugin}:1: slabpolicy_run_end() is not marked @hookimpl, so slabpolicy would "
        f"never call it; decorate it with @slabpolicy.hookimpl")


def test_a_policy_name_offered_twice(tmp_path):
    plugin = write(tmp_path / "taken_name.py", policy_module("leave-in-place"))
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"policy name 'leave-in-place' is offered twice: by plugin {plugin.resolve()} and by "
        f"plugin leave-in-place (entry point of slabpolicy 0.1.0); rename one, or leave one out")


def test_another_plugin_api_version_is_refused(tmp_path, tiny):
    plugin = write(tmp_path / "future_policy.py",
                   policy_module("future", spec_args=f", api_version={PLUGIN_API_VERSION + 1}"))
    expected = (f"plugin {plugin.resolve()}: policy 'future' needs plugin API version "
                f"{PLUGIN_API_VERSION + 1}, but slabpolicy 0.1.0 provides plugin API version "
                f"{PLUGIN_API_VERSION}")
    assert failure(invoke("policies", "--plugin", plugin)) == expected
    assert failure(invoke("run", tiny, "--plugin", plugin, "--policy", "future")) == expected


def test_the_current_api_version_is_accepted(tmp_path):
    plugin = write(tmp_path / "current_policy.py",
                   policy_module("current", spec_args=f", api_version={PLUGIN_API_VERSION}"))
    registry = policy_registry(make_plugin_manager((plugin,)))
    assert registry["current"].spec.api_version == PLUGIN_API_VERSION
    # leaving it out means the installed version
    assert PolicySpec("x", "1", "d", dict).api_version == PLUGIN_API_VERSION


def test_an_api_version_that_is_not_an_integer(tmp_path):
    plugin = write(tmp_path / "string_version.py", policy_module("sv", spec_args=", api_version='1'"))
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"plugin {plugin.resolve()}:{line_of(plugin, 'return [PolicySpec(')}: "
        f"slabpolicy_policies() raised TypeError: policy 'sv': "
        f"api_version must be an integer, got '1'")


def test_slabpolicy_policies_returning_something_else(tmp_path):
    plugin = write(tmp_path / "returns_names.py", """\
        from slabpolicy import hookimpl


        @hookimpl
        def slabpolicy_policies():
            return ["mine"]
        """)
    assert failure(invoke("policies", "--plugin", plugin)) == (
        f"plugin {plugin.resolve()}: slabpolicy_policies() returned 'mine', not a PolicySpec")


RAISES_LATER = '''\
from slabpolicy import PolicySpec, hookimpl


class RaisesLater:
    def __init__(self, options):
        pass

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        yield sim.synchronize_rcu()
        self.fail(memcg)

    def fail(self, memcg):
        raise KeyError(memcg.name)


@hookimpl
def slabpolicy_policies():
    return [PolicySpec("raises-later", "0.1", "raises after an RCU wait", RaisesLater)]
'''


def test_a_policy_raising_during_a_run_is_named_with_its_file_and_line(tmp_path, tiny):
    plugin = write(tmp_path / "raises_later.py", RAISES_LATER)
    out = tmp_path / "out"
    result = invoke("run", tiny, "--plugin", plugin, "--policy", "leave-in-place-4.0",
                    "--policy", "raises-later", "--out", out)
    line = failure(result)
    raise_line = line_of(plugin, "raise KeyError")
    # the first offline is at 50 ms, its RCU grace period 4 ms
    assert line == (f"policy raises-later ({plugin}:{raise_line}) raised KeyError: 'c-0' "
                    f"(policy raises-later, seed 3, t=54000000ns)")
    # the run that had finished is kept, printed and written
    assert [p.name for p in out.iterdir()] == ["tiny--leave-in-place-4.0--seed3.json"]
    assert "leave-in-place-4.0" in result.stdout


def test_an_observer_raising_during_a_run_is_named(tmp_path, tiny):
    plugin = write(tmp_path / "observer_raises.py", """\
        from slabpolicy import hookimpl


        @hookimpl
        def slabpolicy_tick(sim, now_ns):
            if now_ns >= 40_000_000:
                raise ValueError("tick too late")
        """)
    line = failure(invoke("run", tiny, "--plugin", plugin))
    assert line == (f"plugin file:{plugin.resolve()} ({plugin}:{line_of(plugin, 'raise')}) raised "
                    f"ValueError: tick too late (policy leave-in-place-4.0, seed 3, "
                    f"t=40000000ns)")


# --------------------------------------------------------------------------- #
# options
# --------------------------------------------------------------------------- #

def test_option_defaults_are_parsed_and_checked():
    assert Option("delay", "duration", "1s", "h").default == 1_000_000_000
    assert Option("limit", "size", "64KiB", "h").default == 65536
    assert Option("maybe", "str", None, "h").default is None
    with pytest.raises(ValueError, match="option 'delay': bad default: bad duration '5'"):
        Option("delay", "duration", 5, "h")
    with pytest.raises(ValueError, match="option 'v': bad default: expected one of a, b"):
        Option("v", "str", "c", "h", choices=("a", "b"))
    with pytest.raises(ValueError, match="option 'x' declared twice"):
        PolicySpec("p", "1", "d", dict, options=(Option("x", "int", 1, "h"),
                                                 Option("x", "int", 2, "h")))


def test_a_bad_option_in_a_workload_points_at_its_line(tmp_path, monkeypatch):
    monkeypatch.setenv(BLOCK_ENV, "reap-after-delay")      # in case it is installed
    workload = write(tmp_path / "bad_option.yaml", TINY.replace(
        "policies:\n",
        f"plugins: [{EXAMPLE}]\npolicies:\n"
        "  - name: reap-after-delay\n"
        "    options:\n"
        "      delay: 100\n"
        "      dely: 1s\n"))
    result = invoke("validate", workload, "--allow-workload-plugins",
                    env={BLOCK_ENV: "reap-after-delay"})
    assert result.exit_code == 2
    delay_line = line_of(workload, "delay: 100")
    assert result.stderr.splitlines() == [
        f"{workload}:{delay_line}: policies[0].options.delay: bad duration '100': a unit is "
        f"required; use a number with ns, us, ms, s, min or h (e.g. 5ms)",
        f"{workload}:{delay_line + 1}: policies[0].options.dely: unknown option 'dely' of policy "
        f"'reap-after-delay'; did you mean 'delay'?",
    ]


# --------------------------------------------------------------------------- #
# every hook fires
# --------------------------------------------------------------------------- #

OBSERVER = '''\
"""Records every hook call; adds them to the result at the end."""
from collections import Counter

from slabpolicy import hookimpl

CALLS = Counter()
PROBLEMS = []


@hookimpl
def slabpolicy_policies():
    CALLS["slabpolicy_policies"] += 1
    return []


@hookimpl
def slabpolicy_memcg_cache(sim, memcg, kind, root_cache):
    CALLS["slabpolicy_memcg_cache"] += 1
    if memcg.is_root or root_cache.kind is not kind:
        PROBLEMS.append(f"memcg_cache({memcg.name}, {kind.name})")
    return None


@hookimpl
def slabpolicy_memcg_offline(sim, memcg):
    CALLS["slabpolicy_memcg_offline"] += 1
    if memcg.state != "offline" or not all(c.dead for c in memcg.caches.values()):
        PROBLEMS.append(f"memcg_offline({memcg.name})")


@hookimpl
def slabpolicy_dead_cache_free(sim, cache, slab, cpu):
    CALLS["slabpolicy_dead_cache_free"] += 1
    if not cache.dead:
        PROBLEMS.append(f"dead_cache_free({cache.name})")
    return None


@hookimpl
def slabpolicy_dead_cache_empty(sim, cache):
    CALLS["slabpolicy_dead_cache_empty"] += 1
    if not cache.dead or cache.nr_slabs:
        PROBLEMS.append(f"dead_cache_empty({cache.name})")


@hookimpl
def slabpolicy_tick(sim, now_ns):
    CALLS["slabpolicy_tick"] += 1


@hookimpl
def slabpolicy_sample(sim, now_ns, sample):
    CALLS["slabpolicy_sample"] += 1
    sample["observer_ticks"] = CALLS["slabpolicy_tick"]


@hookimpl
def slabpolicy_run_start(sim):
    CALLS["slabpolicy_run_start"] += 1


@hookimpl
def slabpolicy_run_end(sim, result):
    CALLS["slabpolicy_run_end"] += 1
    result["observer"] = {"calls": dict(CALLS), "problems": PROBLEMS}
'''


@pytest.fixture(scope="module")
def observed(tmp_path_factory) -> dict:
    """One run of the tiny workload (leave-in-place-4.0) with the observer."""
    directory = tmp_path_factory.mktemp("observed")
    plugin = write(directory / "observer.py", OBSERVER)
    workload = load_workload(write(directory / "tiny.yaml", TINY))
    pm = make_plugin_manager((str(plugin),))
    [run] = resolve_policies(workload, [], policy_registry(pm))
    result = run_one(workload, run, workload.seed, plugin_paths=(str(plugin),))
    assert result["observer"]["problems"] == []
    assert result["accounting"]["violations"] == 0
    return result


def calls(result: dict, hook: str) -> int:
    return result["observer"]["calls"].get(hook, 0)


def test_slabpolicy_policies_fires(observed):
    assert calls(observed, "slabpolicy_policies") == 1      # the run's registry lookup


def test_slabpolicy_memcg_cache_fires(observed):
    assert calls(observed, "slabpolicy_memcg_cache") == TINY_OFFLINES   # 4 memcgs, 1 kind


def test_slabpolicy_memcg_offline_fires(observed):
    assert calls(observed, "slabpolicy_memcg_offline") == TINY_OFFLINES
    assert observed["latency_ns"]["offline"]["count"] == TINY_OFFLINES


def test_slabpolicy_dead_cache_free_fires(observed):
    assert 0 < calls(observed, "slabpolicy_dead_cache_free") <= observed["ops"]["free_slow"]


def test_slabpolicy_dead_cache_empty_fires(observed):
    # every dead cache lost its last slab and was destroyed: its memcg released
    assert calls(observed, "slabpolicy_dead_cache_empty") == TINY_OFFLINES
    assert observed["memcgs"]["released"] == TINY_OFFLINES


def test_slabpolicy_tick_fires(observed):
    assert calls(observed, "slabpolicy_tick") == TINY_TICKS


def test_slabpolicy_sample_fires(observed):
    assert calls(observed, "slabpolicy_sample") == len(observed["series"]["t_ns"]) == 21
    # a figure the observer added to the sample is in the series
    assert observed["series"]["observer_ticks"][-1] == TINY_TICKS


def test_slabpolicy_run_start_fires(observed):
    assert calls(observed, "slabpolicy_run_start") == 1


def test_slabpolicy_run_end_fires(observed):
    assert calls(observed, "slabpolicy_run_end") == 1


def test_the_hooks_of_a_policy_object_fire(tmp_path):
    """A policy object's hooks, in the kit: a chosen cache, an offline that waits for
    RCU, a free it does itself, a periodic tick is not scheduled in the kit."""
    plugin = write(tmp_path / "recording_policy.py", '''\
        from slabpolicy import PolicySpec, hookimpl


        class Recording:
            def __init__(self, options):
                self.calls = []

            @hookimpl
            def slabpolicy_run_start(self, sim):
                self.calls.append("run_start")

            @hookimpl
            def slabpolicy_memcg_cache(self, sim, memcg, root_cache):
                self.calls.append(f"memcg_cache {memcg.name}")
                cache = sim.slub.kmem_cache_dup(root_cache, memcg)
                cache.policy_data["mine"] = True
                return cache

            @hookimpl
            def slabpolicy_memcg_offline(self, sim, memcg):
                self.calls.append(f"offline {memcg.name}")
                yield sim.synchronize_rcu()
                self.calls.append(f"after rcu {memcg.name}")
                for cache in memcg.caches.values():
                    cache.discard_empty = True
                    sim.slub.flush_all(cache)

            @hookimpl
            def slabpolicy_dead_cache_free(self, sim, cache, slab):
                self.calls.append(f"free {slab.inuse}")
                return None

            @hookimpl
            def slabpolicy_dead_cache_empty(self, sim, cache):
                self.calls.append(f"empty {cache.name}")
                sim.slub.kmem_cache_destroy(cache)


        @hookimpl
        def slabpolicy_policies():
            return [PolicySpec("recording", "0.1", "records its hooks", Recording)]
        ''')
    kit = Kit(cpus=2, policy="recording", plugins=(str(plugin),))
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    assert dentry.policy_data == {"mine": True}
    objs = kit.alloc(dentry, n=21, cpu=0)        # one full slab, the cpu slab of cpu 0
    kit.free(dentry, objs[:20], cpu=1)           # remote: slow path, before the offline
    offline_at = kit.t + kit.step_ns
    kit.offline(cg)
    assert kit.sim.h_offline.summary()["max"] >= 4_000_000   # the RCU wait (2 cpus) is offline latency
    assert kit.t >= offline_at + 4_000_000
    kit.free(dentry, objs[20], cpu=1)            # the last object, into the dead cache
    assert kit.policy.calls == ["run_start", "memcg_cache a", "offline a", "after rcu a",
                                "free 1", f"empty {dentry.name}"]
    assert dentry.destroyed and cg.state == RELEASED


# --------------------------------------------------------------------------- #
# the worked example and the pytest fixture
# --------------------------------------------------------------------------- #

def example_installed() -> bool:
    try:
        importlib.metadata.distribution(EXAMPLE_DIST)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_the_example_policy_as_a_file(monkeypatch):
    monkeypatch.setenv(BLOCK_ENV, "reap-after-delay")      # in case it is installed too
    kit = Kit(cpus=2, policy="reap-after-delay", options={"delay": "10ms"},
              plugins=(str(EXAMPLE),))
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    kit.free(dentry, kit.alloc(dentry, n=42, cpu=0))
    kit.offline(cg)                      # runs the reap, 10 ms later
    assert dentry.destroyed and cg.state == RELEASED and kit.slub.total_pages == 0
    kit.assert_accounting()


def test_the_example_compared_on_a_workload(tiny):
    docs = json.loads(ok(invoke("run", tiny, "--plugin", EXAMPLE, "--policy", "leave-in-place",
                                "--policy", "reap-after-delay", "--format", "json",
                                env={BLOCK_ENV: "reap-after-delay"})))
    left, reaped = docs
    assert reaped["policy"]["options"] == {"delay": 1_000_000_000}
    assert reaped["policy_stats"]["caches_reaped"] == 0      # 1 s is after the run's end
    assert reaped["latency_ns"]["offline"]["max"] == 0
    assert reaped["accounting"]["violations"] == 0


@pytest.mark.skipif(not example_installed(),
                    reason=f"{EXAMPLE_DIST} is not installed (pip install -e examples/reap-after-delay)")
def test_the_installed_example_is_an_entry_point(tiny):
    rows = {r["name"]: r for r in json.loads(ok(invoke("policies", "--format", "json")))}
    assert rows["reap-after-delay"]["source"] == f"entry point ({EXAMPLE_DIST} 0.1.0)"
    assert rows["reap-after-delay"]["options"]["delay"]["default"] == 1_000_000_000
    doc = json.loads(ok(invoke("run", tiny, "--policy", "reap-after-delay", "--format", "json")))
    assert doc["policy"]["source"] == f"entry point ({EXAMPLE_DIST} 0.1.0)"


def test_the_slab_kit_fixture(pytester):
    pytester.makepyfile(test_uses_slab_kit="""
        from slabpolicy.api.testing import Kit


        def test_a_kit(slab_kit):
            kit = slab_kit("leave-in-place", options={"era": "4.0"}, cpus=3)
            assert isinstance(kit, Kit) and kit.workload.machine.cpus == 3
            cg = kit.memcg("a")
            dentry = kit.cache(cg, "dentry")
            kit.free(dentry, kit.alloc(dentry, n=21))
            kit.offline(cg)
            assert dentry.destroyed
        """)
    registered = any(ep.value == "slabpolicy.api.pytest_plugin"
                     for ep in importlib.metadata.entry_points(group="pytest11"))
    args = () if registered else ("-p", "slabpolicy.api.pytest_plugin")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=1)
