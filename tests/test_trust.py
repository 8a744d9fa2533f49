"""A workload file is data: its plugins: run only with --allow-workload-plugins, a
--plugin naming the same file, or an installed entry point."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from slabpolicy.cli import app

ROOT = Path(__file__).resolve().parent.parent
RUNNER = CliRunner()
EVIL = """\
from pathlib import Path

Path(__file__).with_name("it-ran").write_text("the plugin ran")

from slabpolicy import PolicySpec, hookimpl


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="evil", version="0", description="d", factory=lambda o: object())]
"""


@pytest.fixture
def lookalike(tmp_path) -> Path:
    """default.yaml with one more line: plugins: [other/evil.py]."""
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "evil.py").write_text(EVIL)
    text = (ROOT / "experiments" / "default.yaml").read_text().replace(
        "\npolicies:", "\nplugins: [other/evil.py]\npolicies:", 1)
    path = tmp_path / "default.yaml"
    path.write_text(text)
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("command", [["validate"], ["run"],
                                     ["compare", "--seeds", "1", "--jobs", "1"]])
def test_workload_plugins_are_refused_and_not_run(lookalike, command, tmp_path):
    result = RUNNER.invoke(app, [command[0], str(lookalike), *command[1:],
                                 *(["--out", str(tmp_path / "out")] if command[0] == "compare" else [])])
    assert result.exit_code == 2, result.output
    evil = lookalike.parent / "other" / "evil.py"
    assert result.stderr == (
        f"{lookalike}:{line_of(lookalike, 'plugins:')}: plugins[0]: the workload asks to load "
        f"plugin code from {evil}; a workload file is data and runs no code unless you pass "
        f"--allow-workload-plugins (or name the file with --plugin, or install it as an entry "
        f"point)\n")
    assert not (lookalike.parent / "other" / "it-ran").exists()


def test_the_flag_or_a_plugin_option_naming_the_file_lets_it_load(lookalike):
    evil = lookalike.parent / "other" / "evil.py"
    allowed = RUNNER.invoke(app, ["validate", str(lookalike), "--allow-workload-plugins"])
    assert allowed.exit_code == 0, allowed.output
    assert (lookalike.parent / "other" / "it-ran").exists()
    (lookalike.parent / "other" / "it-ran").unlink()
    named = RUNNER.invoke(app, ["validate", str(lookalike), "--plugin", str(evil)])
    assert named.exit_code == 0, named.output
    assert (lookalike.parent / "other" / "it-ran").exists()


def test_an_installed_entry_point_module_is_already_trusted(tmp_path):
    """The bundled policies are entry points: naming one's file in plugins: runs no new code.
    The file is the installed module's (the source tree's in an editable install, the
    site-packages copy in a plain one, as CI installs it)."""
    import slabpolicy_plugins.objcg
    bundled = Path(slabpolicy_plugins.objcg.__file__)
    text = (ROOT / "experiments" / "default.yaml").read_text().replace(
        "\npolicies:", f"\nplugins: [{bundled}]\npolicies:", 1)
    path = tmp_path / "w.yaml"
    path.write_text(text)
    result = RUNNER.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
