"""``slabpolicy costs``: the cost model's steps, their defaults and their sources."""
from __future__ import annotations

import textwrap
from typing import Annotated

import typer
from tabulate import tabulate

from slabpolicy.cli.app import FORMATS_TABLE_JSON, _check_format, _dump, app
from slabpolicy.kernel.costs import DEFAULT_STEPS

#: the width the source column is wrapped to in the table
SOURCE_WIDTH = 72


@app.command()
def costs(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Print every cost step: its default in nanoseconds and the published
    measurement it comes from (or that there is none)."""
    _check_format(fmt, FORMATS_TABLE_JSON)
    rows = [{"step": s.name, "ns": s.ns, "source": s.source} for s in DEFAULT_STEPS.values()]
    if fmt == "json":
        typer.echo(_dump(rows))
    else:
        typer.echo(tabulate([[r["step"], r["ns"], textwrap.fill(r["source"], SOURCE_WIDTH)]
                             for r in rows],
                            headers=["step", "ns", "source"], colalign=("left", "right", "left")))
