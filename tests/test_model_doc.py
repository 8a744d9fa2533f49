"""docs/model.md is the model, and the project points at nothing outside itself.

The cost table of docs/model.md must list every cost step with its current
default; every bundled policy must be in its policy table with the kernel it
names; README must link it; and no file of the project may refer to a path
outside the repository (the design folder beside it), which a user's clone does not
have.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.kernel.costs import DEFAULT_STEPS

ROOT = Path(__file__).resolve().parent.parent
MODEL = (ROOT / "docs" / "model.md").read_text()


def test_every_cost_step_is_in_the_model_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d+) \|", MODEL, flags=re.M))
    assert {name: int(ns) for name, ns in rows.items()} == \
        {name: step.ns for name, step in DEFAULT_STEPS.items()}


@pytest.mark.parametrize("name", ["leave-in-place", "reparent", "objcg", "scan-and-move",
                                  "chaining"])
def test_every_bundled_policy_is_in_the_policy_table(name):
    spec = policy_registry(make_plugin_manager())[name].spec
    assert f"| `{name}`" in MODEL
    commits = re.findall(r"\b[0-9a-f]{12}\b", spec.kernel_for(spec.parse_options({})[0]))
    for commit in commits:
        assert commit in MODEL, f"{name}: commit {commit} is not in docs/model.md"


def test_the_readme_links_the_model():
    assert "(docs/model.md)" in (ROOT / "README.md").read_text()


OUTSIDE = "/".join(("..", "shared"))   # spelt in parts so that this file does not name it


def test_nothing_points_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    outside = [f for f in files if f.endswith((".py", ".md", ".yaml", ".toml", ".txt"))
               and OUTSIDE in (ROOT / f).read_text(errors="replace")]
    assert outside == []
