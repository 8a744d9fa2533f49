"""``slabpolicy export``: a results directory's figures and time series in long form."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from slabpolicy.cli.app import _check_format, _echo, _guarded, _usage, app
from slabpolicy.errors import SlabpolicyError
from slabpolicy.runs import matrix
from slabpolicy.runs.results import write_atomic


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="a results directory written by compare")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    out: Annotated[Optional[Path], typer.Option(
        help="the file to write (default: stdout for csv; parquet needs a file)",
        show_default=False)] = None,
) -> None:
    """Every figure and time series of the runs, one row per (run, metric, t).

    Columns: run, workload, policy, seed, metric, t, value: ready for
    pandas.read_csv or polars.read_parquet.  Parquet needs pyarrow:
    pip install 'slabpolicy[parquet]'.
    """
    # imported here, not with the CLI: it needs the report's modules (numpy, scipy.stats)
    from slabpolicy.analysis import export as export_mod
    _check_format(fmt, export_mod.FORMATS)

    def go() -> str | None:
        results = matrix.load_results(
            directory, warn=lambda message: typer.echo(message, err=True))
        if fmt == "parquet":
            if out is None:
                raise _usage("--format parquet: name the file to write with --out FILE")
            try:
                export_mod.to_parquet(results, out)
            except OSError as exc:
                raise SlabpolicyError(f"--out {out}: cannot write it: "
                                      f"{exc.strerror or exc}") from exc
            return None
        text = export_mod.to_csv(results)
        if out is None:
            return text
        try:
            write_atomic(out, lambda f: f.write(text))
        except OSError as exc:
            raise SlabpolicyError(f"--out {out}: cannot write it: {exc.strerror or exc}") from exc
        return None

    text = _guarded(go)
    if text is not None:
        _echo(text)
