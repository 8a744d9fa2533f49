"""An internal error is a short message saying where to report it, exit 70; the
traceback (plain, no local variables) only with --debug or SLABPOLICY_DEBUG=1."""
from __future__ import annotations

import sys

import pytest

from slabpolicy.cli import main as main_module

#: the module (slabpolicy.cli.app is the Typer object once the package is imported)
APP_MODULE = sys.modules["slabpolicy.cli.app"]


def boom(*args, **kwargs):
    raise TypeError("an internal bug")


@pytest.fixture
def broken(monkeypatch, tmp_path):
    monkeypatch.setattr(APP_MODULE, "load_workload", boom)
    monkeypatch.delenv(main_module.DEBUG_ENV, raising=False)
    path = tmp_path / "w.yaml"
    path.write_text("name: w\n")
    return str(path)


def run_main(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as ended:
        main_module.main(args)
    return ended.value.code, capsys.readouterr().err


def test_internal_error_is_short_and_says_where_to_report(broken, capsys):
    code, err = run_main(["validate", broken], capsys)
    assert code == main_module.EXIT_INTERNAL
    lines = err.splitlines()
    assert lines[0] == "slabpolicy: internal error: TypeError: an internal bug"
    assert lines[1].startswith("This is a bug in slabpolicy, not in your input; please report it")
    assert len(lines) == 2 and "Traceback" not in err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_a_plain_traceback(broken, capsys, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv(main_module.DEBUG_ENV, "1")
    code, err = run_main((["--debug"] if how == "flag" else []) + ["validate", broken], capsys)
    assert code == main_module.EXIT_INTERNAL
    assert err.startswith("Traceback (most recent call last):")
    assert err.rstrip().endswith("TypeError: an internal bug")
    assert "╭" not in err and "locals" not in err      # no rich panel of local variables


def test_a_normal_end_is_untouched(capsys):
    code, _ = run_main(["policies", "--format", "json"], capsys)
    assert code == 0
