"""The runs of a results directory in long ("tidy") form, for pandas or polars.

One row per (run, metric[, t]): ``run`` (the result file's name without
``.json``), ``workload``, ``policy`` (its label), ``seed``, ``metric`` (a dotted
path of the metric catalogue, or ``series.FIGURE`` for a sampled time series),
``t`` (simulated ns of a sample; empty for a figure of the whole run) and
``value``.  Every number of a result document is there (:func:`metric_paths`),
then every sample of its time series.  Runs of a sweep add one column per grid
parameter, named by its ``--set`` path, after ``seed`` (:func:`columns`).

CSV writes a missing value (a ``null``: a first violation that did not happen,
a figure an observer added late) as an empty field and an infinity as ``inf``
/ ``-inf``, as the comparison's CSV does; Parquet (through the optional
``pyarrow``, ``pip install 'slabpolicy[parquet]'``) as a null and an IEEE
infinity, with ``t`` an int64 column and ``value`` a float64 one.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from slabpolicy.analysis.metrics import metric_paths
from slabpolicy.analysis.report import csv_value, metric_value
from slabpolicy.analysis.sweep_report import parameter_paths
from slabpolicy.errors import SlabpolicyError
from slabpolicy.runs.results import result_filename

COLUMNS = ("run", "workload", "policy", "seed", "metric", "t", "value")
FORMATS = ("csv", "parquet")


def columns(results: list[dict]) -> tuple[str, ...]:
    """:data:`COLUMNS`, with a sweep's grid parameters (their ``--set`` paths) after ``seed``."""
    return (*COLUMNS[:4], *parameter_paths(results), *COLUMNS[4:])


def long_rows(results: list[dict]) -> Iterator[tuple[Any, ...]]:
    """The row of :func:`columns` for every figure and sample: (run, workload, policy,
    seed, [each grid parameter's value as written,] metric, t, value)."""
    paths = parameter_paths(results)
    for result in results:
        run = result_filename(result).removesuffix(".json")
        point = result.get("parameters") or {}
        key = (run, result["workload"]["name"], result["policy"]["label"], result["seed"],
               *(point.get(p) for p in paths))
        for path in metric_paths(result):
            yield (*key, path, None, metric_value(result, path))
        series = result.get("series") or {}
        times = series.get("t_ns") or []
        for figure, values in series.items():
            if figure == "t_ns":
                continue
            for t, value in zip(times, values):
                yield (*key, f"series.{figure}", t, None if value is None else float(value))


def to_csv(results: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns(results))
    for row in long_rows(results):
        writer.writerow([csv_value(v) for v in row])
    return buf.getvalue()


def to_parquet(results: list[dict], path) -> None:
    """Write the long form to ``path`` as Parquet (needs pyarrow)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SlabpolicyError("--format parquet needs pyarrow: "
                              "pip install 'slabpolicy[parquet]'") from None
    names = columns(results)
    values: dict[str, list[Any]] = {name: [] for name in names}
    for row in long_rows(results):
        for name, value in zip(names, row):
            values[name].append(value)
    nan_to_null = [None if v is not None and v != v else v for v in values["value"]]
    parameters = [(name, pa.string()) for name in names[4:-3]]
    schema = pa.schema([("run", pa.string()), ("workload", pa.string()),
                        ("policy", pa.string()), ("seed", pa.int64()), *parameters,
                        ("metric", pa.string()), ("t", pa.int64()), ("value", pa.float64())])
    table = pa.table({**values, "value": nan_to_null}, schema=schema)
    pq.write_table(table, path)
