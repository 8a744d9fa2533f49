"""``slabpolicy export``: a results directory in long form, CSV and Parquet alike;
and the comparison's CSV and JSON carrying the same content."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from slabpolicy.analysis.export import COLUMNS, long_rows, to_csv
from slabpolicy.analysis.metrics import metric_paths
from slabpolicy.analysis.report import comparison_table, csv_value, jnum, render
from slabpolicy.cli import app
from slabpolicy.runs import matrix

from cli_support import RUNNER
from cli_support import SMALL as WORKLOAD      # two policies, poisson arrivals, 200 ms


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("export")
    (directory / "w.yaml").write_text(WORKLOAD)
    done = RUNNER.invoke(app, ["compare", str(directory / "w.yaml"), "--seeds", "2",
                               "--jobs", "1", "--out", str(directory / "r")])
    assert done.exit_code == 0, done.output
    return directory / "r"


def test_csv_holds_every_figure_and_sample(results_dir):
    results = matrix.load_results(results_dir)
    done = RUNNER.invoke(app, ["export", str(results_dir)])
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert tuple(rows[0]) == COLUMNS
    samples = sum(len(r["series"]["t_ns"]) * (len(r["series"]) - 1) for r in results)
    assert len(rows) == sum(len(metric_paths(r)) for r in results) + samples
    by_key = {(row["run"], row["metric"], row["t"]): row for row in rows}
    for r in results:
        run = f"small--{r['policy']['label']}--seed{r['seed']}"
        row = by_key[(run, "memory.slab_pages.mean", "")]
        assert (row["workload"], row["policy"], row["seed"]) == (
            "small", r["policy"]["label"], str(r["seed"]))
        assert float(row["value"]) == r["memory"]["slab_pages"]["mean"]
        t, pages = r["series"]["t_ns"][3], r["series"]["slab_pages"][3]
        assert float(by_key[(run, "series.slab_pages", str(t))]["value"]) == pages


def test_parquet_is_the_same_table(results_dir, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "runs.parquet"
    done = RUNNER.invoke(app, ["export", str(results_dir), "--format", "parquet",
                               "--out", str(path)])
    assert done.exit_code == 0, done.output
    table = pq.read_table(path)
    assert table.column_names == list(COLUMNS)
    assert str(table.schema.field("t").type) == "int64"
    assert str(table.schema.field("value").type) == "double"
    results = matrix.load_results(results_dir)
    assert table.to_pylist() == [dict(zip(COLUMNS, row)) for row in long_rows(results)]


def test_missing_values_and_infinities_are_encoded_alike(tmp_path):
    doc = {"workload": {"name": "w"}, "policy": {"label": "p"}, "seed": 1,
           "memory": {"x": {"mean": math.inf}},
           "series": {"t_ns": [0, 10], "late": [None, 2.5]}}
    rows = list(long_rows([doc]))
    assert rows == [("w--p--seed1", "w", "p", 1, "memory.x.mean", None, math.inf),
                    ("w--p--seed1", "w", "p", 1, "series.late", 0, None),
                    ("w--p--seed1", "w", "p", 1, "series.late", 10, 2.5)]
    lines = to_csv([doc]).splitlines()
    assert lines[1] == "w--p--seed1,w,p,1,memory.x.mean,,inf"
    assert lines[2] == "w--p--seed1,w,p,1,series.late,0,"
    # the comparison's encoders agree: nan missing, infinities as inf / -inf
    assert (csv_value(math.nan), jnum(math.nan)) == ("", None)
    assert (csv_value(math.inf), jnum(math.inf)) == ("inf", "inf")
    assert (csv_value(-math.inf), jnum(-math.inf)) == ("-inf", "-inf")
    pq = pytest.importorskip("pyarrow.parquet")
    from slabpolicy.analysis.export import to_parquet
    to_parquet([doc], tmp_path / "x.parquet")
    values = pq.read_table(tmp_path / "x.parquet").column("value").to_pylist()
    assert values == [math.inf, None, 2.5]


def test_parquet_needs_a_file(results_dir):
    done = RUNNER.invoke(app, ["export", str(results_dir), "--format", "parquet"])
    assert done.exit_code == 2
    assert done.stderr == "--format parquet: name the file to write with --out FILE\n"


def test_the_comparison_csv_and_json_carry_the_same_content(results_dir):
    table = comparison_table(matrix.load_results(results_dir))
    doc = json.loads(render(table, "json"))
    lines = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    rows = [line for line in lines if line["kind"] == "row"]
    assert [line["message"] for line in lines if line["kind"] == "warning"] == doc["warnings"]
    assert [line["message"] for line in lines if line["kind"] == "note"] == doc["notes"]
    assert len(rows) == len(doc["rows"])
    for got, want in zip(rows, doc["rows"]):
        flat = {**{k: v for k, v in want.items() if k != "vs_baseline"},
                **{k: v for k, v in (want["vs_baseline"] or {}).items()
                   if k not in ("n", "mean", "seeds")}}
        if want["vs_baseline"]:
            flat["n_pairs"] = want["vs_baseline"]["n"]
        for key, value in flat.items():
            expected = csv_value(value)
            if isinstance(value, float):
                assert float(got[key]) == value, key
            else:
                assert got[key] == str(expected), key
