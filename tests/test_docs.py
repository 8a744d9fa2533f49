"""The plugin guide, docs/plugins.md, checked against the code it documents.

As datasette does for its plugin hooks: every hook of ``slabpolicy.api.hookspecs``
appears in the guide with its exact signature, and is exercised by some test.
Then the rest of what the guide names must exist: allocator operations, cost
steps with their defaults, option types, the test kit's calls, the API version,
and the worked example must be the example package's module, byte for byte.
"""
from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import pytest

from slabpolicy import PLUGIN_API_VERSION
from slabpolicy.api import hookspecs, testing
from slabpolicy.kernel.costs import DEFAULT_STEPS
from slabpolicy.kernel.engine import Simulation
from slabpolicy.kernel.memcg import MemcgTree
from slabpolicy.api.plugin_manager import (BLOCK_ENV, hook_arguments, make_plugin_manager,
                                       policy_registry)
from slabpolicy.api.policy import OPTION_TYPES
from slabpolicy.kernel.slub import Allocator

ROOT = Path(__file__).resolve().parent.parent
GUIDE_PATH = ROOT / "docs" / "plugins.md"
GUIDE = GUIDE_PATH.read_text()
TESTS = Path(__file__).resolve().parent
EXAMPLE = ROOT / "examples" / "reap-after-delay" / "slabpolicy_reap_after_delay.py"


def hookspec_functions() -> dict[str, object]:
    """Every hook specification in slabpolicy.api.hookspecs, by name."""
    specs = {name: fn for name, fn in vars(hookspecs).items()
             if callable(fn) and getattr(fn, f"{hookspecs.PROJECT}_spec", None) is not None}
    assert specs, "no hookspec found"
    return specs


def signature_line(name: str, fn) -> str:
    """``def name(a, b)``: the parameters alone, no annotations, no return type."""
    return f"def {name}({', '.join(inspect.signature(fn).parameters)})"


def code_blocks(language: str = "python") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE, flags=re.S | re.M)


HOOKS = sorted(hookspec_functions())


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    expected = signature_line(hook, hookspec_functions()[hook])
    assert expected in GUIDE.splitlines(), f"docs/plugins.md lacks the line {expected!r}"
    assert f"### {hook}\n" in GUIDE, f"docs/plugins.md lacks a section '### {hook}'"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_exercised_by_a_test(hook):
    users = [path.name for path in sorted(TESTS.glob("test_*.py"))
             if path.name != Path(__file__).name and hook in path.read_text()]
    assert users, f"no test under tests/ (but test_docs.py) mentions {hook}"


def test_the_guide_documents_no_hook_that_does_not_exist():
    documented = re.findall(r"^def (slabpolicy_\w+)\((.*)\)$", GUIDE, flags=re.M)
    specs = hookspec_functions()
    assert sorted(name for name, _ in documented) == HOOKS
    for name, _ in documented:
        assert name in specs
    # any slabpolicy_* word is a hook, or one of the module names the guide uses
    modules = {"slabpolicy_plugins", "slabpolicy_reap_after_delay", "slabpolicy_lazy_reparent",
               "slabpolicy_memcg_ofline"}     # the guide's example of a misspelt hook
    for word in set(re.findall(r"\bslabpolicy_[a-z_]+\b", GUIDE)):
        assert word in specs or word in modules, f"docs/plugins.md names {word!r}"


def test_the_hook_arguments_the_plugin_manager_checks_are_the_specs():
    assert hook_arguments() == {name: tuple(inspect.signature(fn).parameters)
                                for name, fn in hookspec_functions().items()}


def test_every_operation_the_guide_names_exists():
    owners = {"sim.slub": Allocator, "sim.memcgs": MemcgTree, "sim": Simulation}
    named = re.findall(r"`(sim(?:\.slub|\.memcgs)?)\.(\w+)\(", GUIDE)
    assert len(named) > 20
    for owner, attr in named:
        assert hasattr(owners[owner], attr), f"docs/plugins.md names {owner}.{attr}()"
    # and the operations the guide promises are at least these
    for op in ("flush_all", "kmem_cache_shrink", "kmem_cache_destroy", "kmem_cache_dup",
               "discard_slab", "free_slab", "add_partial", "remove_partial", "lock", "unlock",
               "inc_slabs_node", "dec_slabs_node", "set_slab_cache"):
        assert ("sim.slub", op) in named, op
    for op in ("synchronize_rcu", "schedule", "schedule_every", "memcg_cache", "move_slab", "move_slabs",
               "move_partial_slabs", "move_charge", "destroy_cache_if_empty", "dead_caches",
               "dying_memcgs", "online_ancestor"):
        assert ("sim", op) in named, op
    for op in ("charge", "uncharge", "uncharge_until", "get", "put"):
        assert ("sim.memcgs", op) in named, op


def test_every_cost_step_is_in_the_guide_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d+) ns \|", GUIDE, flags=re.M))
    assert {name: int(ns) for name, ns in rows.items()} == \
        {name: step.ns for name, step in DEFAULT_STEPS.items()}


def test_every_option_type_is_documented():
    documented = re.findall(r"^\| `(\w+)` \| .* \| `?\w", GUIDE, flags=re.M)
    for kind in OPTION_TYPES:
        assert kind in documented, kind
    assert "Option(name, type, default, help, choices=(), min=None, max=None, check=None)" in GUIDE


def test_the_kit_calls_in_the_guide_exist_and_cover_the_kit():
    kit_cls = testing.Kit
    public = {name for name, _ in inspect.getmembers(kit_cls, callable) if not name.startswith("_")}
    named = set(re.findall(r"`kit\.(\w+)\(", GUIDE))
    assert named <= public, named - public
    assert public <= named, f"Kit calls the guide does not document: {public - named}"
    signature = inspect.signature(kit_cls)
    documented = "Kit(" + ", ".join(f"{p.name}={p.default!r}" for p in signature.parameters.values()) + ")"
    assert documented.replace("'", '"') in GUIDE, documented


def test_the_api_version_in_the_guide_is_the_current_one():
    assert f"`slabpolicy.PLUGIN_API_VERSION` (now **{PLUGIN_API_VERSION}**)" in GUIDE
    assert f"api_version={PLUGIN_API_VERSION}" in EXAMPLE.read_text()


def test_the_worked_example_is_the_example_package():
    marker = "<!-- example: examples/reap-after-delay/slabpolicy_reap_after_delay.py -->\n```python\n"
    start = GUIDE.index(marker) + len(marker)
    block = GUIDE[start:GUIDE.index("```", start)]
    assert block == EXAMPLE.read_text(), \
        "docs/plugins.md's worked example differs from the example package's module"


def test_the_one_file_policy_of_the_guide_loads_and_runs(tmp_path):
    [block] = [b for b in code_blocks() if b.startswith("# my_policy.py")]
    plugin = tmp_path / "my_policy.py"
    plugin.write_text(block)
    registry = policy_registry(make_plugin_manager((plugin,)))
    assert registry["destroy-when-empty"].source == f"file {plugin.resolve()}"
    kit = testing.Kit(policy="destroy-when-empty", plugins=(str(plugin),))
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    objs = kit.alloc(dentry, n=21)
    kit.offline(cg)
    kit.free(dentry, objs, cpu=1)
    kit.assert_accounting()


def test_the_kit_snippet_of_the_guide_runs(monkeypatch):
    """The snippet uses the worked example by name: load it as a file (and block the
    installed one, if any, or the name would be offered twice)."""
    [block] = [b for b in code_blocks() if b.startswith("from slabpolicy.api.testing import Kit")]
    monkeypatch.setenv(BLOCK_ENV, "reap-after-delay")

    class Kit(testing.Kit):
        def __init__(self, **kwargs):
            super().__init__(plugins=(str(EXAMPLE),), **kwargs)

    monkeypatch.setattr(testing, "Kit", Kit)
    exec(compile(block, "docs/plugins.md", "exec"), {})


def test_every_python_block_of_the_guide_compiles():
    for block in code_blocks():
        if re.fullmatch(r"def slabpolicy_\w+\(.*\)\n", block):
            continue            # a hook's signature, not code
        compile(textwrap.dedent(block), "docs/plugins.md", "exec")
