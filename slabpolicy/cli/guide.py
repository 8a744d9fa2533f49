"""Commands that help a newcomer: ``--version``, ``schema`` and ``experiments``."""
from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from tabulate import tabulate
from typer.core import TyperGroup

from slabpolicy import __version__, _core
from slabpolicy.cli.app import FORMATS_TABLE_JSON, _check_format, app
from slabpolicy.workloads import bundled
from slabpolicy.workloads.spec import SCHEMA

SCHEMA_HEADER = """\
# The workload file (YAML), every field with an example value.  In the comments,
# [x] is the default (a field with one may be left out), "required" has none.
# Units are written as people write them: 5ms, 2000/s, 64KiB.  Lifetimes are
# distributions: {dist: exponential, mean: 5ms}, lognormal (median, sigma),
# pareto (scale, alpha), fixed (value), forever, or a mixture (of: [{weight,
# dist...}]).  docs/workloads.md explains each field; `slabpolicy experiments`
# lists the bundled examples.
"""


def readable_metavars(command: Any) -> None:
    """Name each value a parameter takes after the parameter (``--seeds SEEDS``,
    ``FILES ...``) and show nothing for a flag, where Typer would print the Python
    type (``<list[str]>``, ``<bool>``).  A metavar set by hand is kept."""
    for sub in getattr(command, "commands", {}).values():     # a group's own commands
        readable_metavars(sub)
    for param in command.params:
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        longest = max(getattr(param, "opts", None) or [param.name or "value"], key=len)
        param.metavar = longest.lstrip("-").strip("_").replace("-", "_").upper()
        if param.param_type_name == "argument":
            # Typer prints an argument's type beside its name: say only "...", and
            # only for one taking several values
            param.display_type_rich = lambda ctx, many=param.nargs != 1: "..." if many else None


class HelpGroup(TyperGroup):
    """The command group, with readable metavars in every command's help."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            readable_metavars(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        readable_metavars(self)
        super().format_help(ctx, formatter)


# Help texts as written: no rich markup (it ate the "[plot]" of "pip install
# 'slabpolicy[plot]'"), and value names instead of Python types.
app.rich_markup_mode = None
app.info.cls = HelpGroup


def _version(value: bool) -> None:
    if value:
        typer.echo(f"slabpolicy {__version__}, {_core.describe()}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="print slabpolicy's version and which core runs (compiled or pure Python), "
             "and exit")] = False,
) -> None:
    """Simulate SLUB with per-memcg kmem caches and compare dead-cache policies."""


@app.command()
def schema() -> None:
    """Print the workload schema: every field, commented, with its default."""
    typer.echo(SCHEMA_HEADER + SCHEMA, nl=False)


@app.command()
def experiments(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List the bundled experiments; any command taking a workload file takes their name."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    rows = []
    for name, path in bundled.bundled_experiments().items():
        workload, description = bundled.describe(path)
        rows.append({"name": name, "workload": workload, "description": description,
                     "path": str(path)})
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(tabulate([[r["name"], r["description"]] for r in rows],
                        headers=["name", "description"], disable_numparse=True,
                        maxcolwidths=[None, 70]))
    typer.echo("\nrun one with: slabpolicy compare NAME  (or run, validate, ... NAME)")
