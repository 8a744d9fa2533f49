"""What a newcomer reaches for: --version, the schema, the bundled experiments by
name, help texts that read as text, and docs/workloads.md covering the schema."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from slabpolicy import __version__, _core
from slabpolicy.cli import app
from slabpolicy.workloads import bundled, spec
from slabpolicy.workloads.spec import load_workload

from cli_support import CLEAN_ENV

ROOT = Path(__file__).resolve().parent.parent
RUNNER = CliRunner(env={**CLEAN_ENV, "COLUMNS": "100"})
#: every field the loader accepts, by block (the names spec.py checks against)
FIELDS = {"top": spec._TOP, "machine": spec._MACHINE, "caches": spec._CACHE,
          "cgroups": spec._GROUP, "arrival": spec._ARRIVAL, "streams": spec._STREAM,
          "policies": spec._POLICY}
COMMANDS = ("validate", "run", "compare", "report", "plot", "policies", "geometry",
            "metrics", "export", "schema", "experiments")


def invoke(*args):
    return RUNNER.invoke(app, list(args))


def test_version_says_which_core_runs():
    done = invoke("--version")
    assert (done.exit_code, done.stdout) == (0, f"slabpolicy {__version__}, {_core.describe()}\n")
    assert _core.describe().startswith(("compiled core (Cython ", "pure Python core ("))


def test_schema_is_a_valid_commented_workload(tmp_path):
    done = invoke("schema")
    assert done.exit_code == 0
    doc = yaml.safe_load(done.stdout)
    for name in FIELDS["top"]:
        assert name in doc, f"the schema lacks the top-level field {name!r}"
    text = done.stdout
    for block, names in FIELDS.items():
        for name in names:
            assert re.search(rf"\b{name}\b", text), f"{block}.{name} not in the schema"
    path = tmp_path / "schema.yaml"
    path.write_text(text)
    workload = load_workload(path)           # every example value in it is valid
    assert workload.name == "default-containers"


def test_experiments_are_listed_and_taken_by_name():
    names = bundled.bundled_experiments()
    assert {"default", "container-churn"} <= set(names)
    done = invoke("experiments", "--format", "json")
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows] == list(names)
    for row in rows:
        assert row["description"], f"bundled experiment {row['name']} has no description"
    table = invoke("experiments").stdout
    for name in names:
        assert name in table
    done = invoke("validate", "container-churn")
    assert done.exit_code == 0 and done.stdout.startswith("container-churn: ok: container-churn")
    assert load_workload("default.yaml").path == str(names["default"])
    done = invoke("validate", "no-such-experiment")
    assert done.exit_code == 2 and "no such workload file" in done.stderr


def test_a_file_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_text("name: mine\n")
    assert bundled.resolve("default") == "default"
    assert bundled.resolve("./default.yaml") == "./default.yaml"     # a path is a path


@pytest.mark.parametrize("command", COMMANDS + ("trace stats",))
def test_help_reads_as_text(command):
    done = invoke(*command.split(), "--help")
    assert done.exit_code == 0
    for raw in ("<list", "<path>", "<str>", "<int", "<bool>", "<float"):
        assert raw not in done.stdout, f"{command} --help shows {raw}"
    assert "[/" not in done.stdout                      # no markup left over


def test_plot_help_keeps_its_extra():
    assert "pip install 'slabpolicy[plot]'" in invoke("plot", "--help").stdout
    assert "--seeds SEEDS" in invoke("compare", "--help").stdout


def test_docs_workloads_covers_every_field():
    text = (ROOT / "docs" / "workloads.md").read_text()
    for block, names in FIELDS.items():
        for name in names:
            assert f"`{name}`" in text, f"docs/workloads.md does not explain {block}.{name}"
    for dist in spec.KNOWN_DISTRIBUTIONS:
        assert f"`{dist}`" in text, dist
    readme = (ROOT / "README.md").read_text()
    assert "(docs/workloads.md)" in readme and "(docs/metrics.md)" in readme


def test_the_whole_workload_of_the_docs_loads(tmp_path):
    text = (ROOT / "docs" / "workloads.md").read_text()
    block = text.split("## A whole workload")[1].split("```yaml\n")[1].split("```")[0]
    path = tmp_path / "w.yaml"
    path.write_text(block)
    assert load_workload(path).name == "two-groups"
