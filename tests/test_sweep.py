"""``slabpolicy sweep``: grids from --grid and from a sweep: section, their exact
errors, the runs of a sweep (paired by seed at each point), the results
directory (parameters, manifest, resume after an interruption), and the report.

The workload is test_compare's tiny one (2 cpus, 200 ms): a run takes
milliseconds, and these tests run in this process (``--jobs 1``).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from slabpolicy.errors import WorkloadError
from slabpolicy.runs import grid as grid_mod
from slabpolicy.runs import matrix
from slabpolicy.runs.sweep import plan_sweep
from slabpolicy.workloads.spec import load_workload

from cli_support import LABELS, SMALL, failed, invoke, ok, results_in

RATE = "cgroups[0].arrival.rate"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture
def counted(monkeypatch):
    """The (rate, policy, seed) of every simulation run in this process."""
    calls = []
    real = matrix.run_one

    def run_one(workload, policy, seed, **kw):
        calls.append((workload.groups[0].arrival.rate_per_s, policy.label, seed))
        return real(workload, policy, seed, **kw)

    monkeypatch.setattr(matrix, "run_one", run_one)
    return calls


def sweep(small: Path, out: Path, *extra):
    return invoke("sweep", small, "--out", out, "--jobs", "1", *extra)


def errors(small: Path, *extra) -> list[str]:
    """The lines of a sweep refused before anything ran (exit 2)."""
    result = invoke("sweep", small, "--jobs", "1", "--out", small.parent / "never", *extra)
    lines = failed(result, 2)
    assert not (small.parent / "never").exists()
    return lines


# --------------------------------------------------------------------------- #
# grids and their errors
# --------------------------------------------------------------------------- #

def test_grid_option_values_are_yaml_in_the_workloads_units():
    axis = grid_mod.parse_grid("cgroups[0].lifetime={dist: fixed, value: 5ms}, forever,'4'")
    assert axis.path == "cgroups[0].lifetime" and axis.file == "--grid"
    assert axis.values == ("{dist: fixed, value: 5ms}", "forever", "'4'")
    assert grid_mod.parse_grid(" machine.cpus = 4,16 ,64").values == ("4", "16", "64")


def test_the_grid_is_the_cross_product_first_axis_slowest():
    axes = [grid_mod.parse_grid(f"{RATE}=1/s,4/s"), grid_mod.parse_grid("machine.cpus=2,4,8")]
    points = grid_mod.grid_points(axes)
    assert [p.overrides() for p in points][:4] == [
        [f"{RATE}=1/s", "machine.cpus=2"], [f"{RATE}=1/s", "machine.cpus=4"],
        [f"{RATE}=1/s", "machine.cpus=8"], [f"{RATE}=4/s", "machine.cpus=2"]]
    assert len(points) == 6
    assert points[5].label([a.path for a in axes]) == "rate=4/s cpus=8"
    assert grid_mod.point_tags(points, axes)[0] == "rate=1_s+cpus=2"


def G(*grids: str) -> list[str]:
    """``--grid`` options."""
    return [a for g in grids for a in ("--grid", g)]


@pytest.mark.parametrize("args, lines", [
    (G("foo"), ["--grid: bad grid 'foo': expected PATH=V1,V2,... with a --set path, "
               "e.g. machine.cpus=4,16,64"]),
    (G("machine.cpus="), ["--grid: machine.cpus: bad values '': expected one or more values "
                         "separated by commas"]),
    (G("machine.cpus=2,4,2"), ["--grid: machine.cpus: duplicate value 2"]),
    (G("machine.cpus=[2,"), ["--grid: machine.cpus: bad values '[2,': not a comma-separated list "
                            "of YAML values: expected ',' or ']', but got '<stream end>'"]),
    (G("machine.cpus=2", "machine.cpus=4"), ["--grid: machine.cpus: given twice; give each "
                                            "path once"]),
    # a value that makes the workload invalid, reported before anything runs
    (G("machine.cpus=2,0"), ["--grid: machine.cpus: must be at least 1, got 0"]),
    (G("machine.cpu=2,4"), ["--grid: machine.cpu: unknown field 'cpu'; did you mean 'cpus'?"]),
    (G(f"{RATE}=40/s,2000"), [f"--grid: {RATE}: bad rate '2000': a time unit is required; use a "
                             f"number per ns, us, ms, s, min or h (e.g. 2000/s)"]),
    (G("cgroups[3].count=1,2"), ["--grid: cgroups[3].count: index 3 is out of range: cgroups has "
                                "1 item"]),
    # values of two axes that clash: the value, and the point
    (G("machine.nodes=1,2", "machine.cpus=1,2"), ["--grid: machine.nodes: must be at most cpus "
                                                 "(1), got 2 (at sweep point nodes=2 cpus=1)"]),
    (G("machine.nodes=2", "machine.cpus=4,1"), ["--grid: machine.nodes: must be at most cpus "
                                               "(1), got 2 (at sweep point nodes=2 cpus=1)"]),
    (G("machine.cpus=1,2", "machine.nodes=1,2"), ["--grid: machine.nodes: must be at most cpus "
                                                 "(1), got 2 (at sweep point cpus=1 nodes=2)"]),
    # a value bad on its own is reported once, without the points it is in
    (G("machine.cpus=0,2", "machine.nodes=1,2"), ["--grid: machine.cpus: must be at least 1, "
                                                 "got 0"]),
    # a clash with a --set: the --set, and the point
    (G("machine.cpus=1,2") + ["--set", "machine.nodes=2"],
     ["--set: machine.nodes: must be at most cpus (1), got 2 (at sweep point cpus=1)"]),
])
def test_grid_errors(small, args, lines):
    assert errors(small, *args) == [line.format(file=small) for line in lines]


def test_a_grid_value_that_clashes_with_the_file(small):
    small.write_text(SMALL.replace("  cpus: 2\n", "  cpus: 2\n  nodes: 2\n"))
    assert errors(small, "--grid", "machine.cpus=4,1,2") == [
        f"{small}:7: machine.nodes: must be at most cpus (1), got 2 (at sweep point cpus=1)"]


def test_a_grid_path_also_set_is_refused(small):
    assert errors(small, "--grid", "machine.cpus=2,4", "--set", "machine.cpus=2") == [
        "--grid: machine.cpus: also set by --set; a parameter is swept or set, not both"]


def test_no_grid_is_refused(small):
    assert errors(small) == [f"{small}: sweep: nothing to sweep: give --grid PATH=V1,V2,... "
                             f"or a sweep: section in the workload"]


SECTION = """\
sweep:
  cgroups[0].arrival.rate: [10/s, 0/s, 40/s]
  machine.cpus:
    - 2
    - {dist: fixed}
"""


def test_a_point_past_the_budget_is_refused_before_anything_runs(small):
    [line] = errors(small, "--grid", f"{RATE}=20/s,80/s", "--budget", "100")
    assert "events > the budget of 100" in line and "--yes" in line


def test_a_workloads_plugins_need_the_same_permission_as_in_compare(small, tmp_path):
    plugin = tmp_path / "mine.py"
    plugin.write_text("raise SystemExit('this file must not be imported')\n")
    small.write_text(small.read_text().replace("\npolicies:", f"\nplugins: [{plugin}]\npolicies:", 1))
    [line] = errors(small, "--grid", f"{RATE}=20/s,80/s")
    assert f"asks to load plugin code from {plugin}" in line
    assert "--allow-workload-plugins" in line


def test_options_given_with_option_reach_every_point(small, tmp_path):
    out = tmp_path / "out"
    ok(sweep(small, out, "--grid", f"{RATE}=20/s,80/s", "--seeds", "1",
             "--policy", "chaining", "--option", "variant=corrected"))
    docs = [json.loads(f.read_text()) for f in sorted(out.glob("small--*.json"))]
    assert len(docs) == 2
    assert {d["policy"]["label"] for d in docs} == {"chaining:variant=corrected"}
    assert {d["policy"]["options"]["variant"] for d in docs} == {"corrected"}


def test_the_sweep_section_is_checked_like_the_rest(small):
    small.write_text(SMALL + SECTION)
    n = SMALL.count("\n")
    # the section's shape is the loader's: validate accepts it, a bad shape is refused
    workload = load_workload(small)
    assert [(a.path, a.values, a.line, a.value_lines) for a in workload.sweep] == [
        (RATE, ("10/s", "0/s", "40/s"), n + 2, (n + 2,) * 3),
        ("machine.cpus", ("2", "{dist: fixed}"), n + 3, (n + 4, n + 5))]
    # each bad value at its own line, once however many points it is in
    assert errors(small) == [
        f"{small}:{n + 2}: sweep.{RATE}[1]: 0/s: must be greater than 0, got 0/s",
        f"{small}:{n + 5}: sweep.machine.cpus[1]: {{dist: fixed}}: expected an integer, "
        f"got a mapping"]


@pytest.mark.parametrize("section, message", [
    ("sweep: [1, 2]\n", "{n1}: sweep: expected a mapping of --set paths to lists of values, "
                        "got a list"),
    ("sweep:\n  machine.cpus: 4\n", "{n2}: sweep.machine.cpus: expected a list, got '4'"),
    ("sweep:\n  machine.cpus: []\n", "{n2}: sweep.machine.cpus: must list at least one value"),
    ("sweep:\n  a..b: [1]\n", "{n2}: sweep: expected a --set path such as machine.cpus or "
                              "cgroups[0].arrival.rate, got 'a..b'"),
    ("sweep:\n  machine.cpus: [2, 4, 2]\n", "{n2}: sweep.machine.cpus[2]: duplicate value 2 "
                                            "(also sweep.machine.cpus[0])"),
])
def test_sweep_section_shape_errors(small, section, message):
    small.write_text(SMALL + section)
    n = SMALL.count("\n")
    result = invoke("validate", small)
    assert failed(result, 2) == [f"{small}:" + message.format(n1=n + 1, n2=n + 2)]


def test_grid_replaces_the_sections_axis_of_its_path(small):
    small.write_text(SMALL + "sweep:\n  machine.cpus: [2, 4]\n  seed: [1, 2]\n")
    planned = plan_sweep(small, ["machine.cpus=8"], seeds=1)
    assert [(a.path, a.values, a.file) for a in planned.axes] == [
        ("machine.cpus", ("8",), "--grid"), ("seed", ("1", "2"), str(small))]


# --------------------------------------------------------------------------- #
# running a sweep
# --------------------------------------------------------------------------- #

def test_every_point_under_every_policy_and_seed(small, tmp_path, counted):
    out = tmp_path / "out"
    ok(sweep(small, out, "--grid", f"{RATE}=20/s,80/s", "--seeds", "2"))
    assert counted == [(rate, label, seed) for rate in (20.0, 80.0) for label in LABELS
                       for seed in (3, 4)]
    docs = results_in(out)
    assert sorted(docs) == sorted(f"small--rate={r}_s--{label}--seed{s}.json"
                                  for r in (20, 80) for label in LABELS for s in (3, 4))
    doc = docs["small--rate=80_s--leave-in-place--seed4.json"]
    assert doc["parameters"] == {RATE: "80/s"}
    # a point is the workload with the point as --set: the same figures to the last digit
    result = invoke("run", small, "--set", f"{RATE}=80/s", "--seed", "4", "--policy",
                    "leave-in-place", "--format", "json")
    alone = json.loads(ok(result))
    same = ("ops", "memory", "latency_ns", "locks", "accounting", "memcgs", "series")
    assert {k: doc[k] for k in same} == {k: alone[k] for k in same}
    assert doc["workload"]["sha256"] == alone["workload"]["sha256"]
    # the points differ, and at a point both policies saw the same event stream
    a, b = (docs[f"small--rate={r}_s--leave-in-place--seed3.json"] for r in (20, 80))
    assert a["memcgs"]["created"] <= b["memcgs"]["created"] and a["ops"] != b["ops"]
    shrink = docs[f"small--rate=80_s--{LABELS[1]}--seed4.json"]
    assert shrink["ops"]["alloc"] == doc["ops"]["alloc"]


def test_manifest_lists_the_grid_and_each_runs_parameters(small, tmp_path):
    out = tmp_path / "out"
    ok(sweep(small, out, "--grid", f"{RATE}=20/s,80/s", "--seeds", "1"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["sweep"]["axes"] == [{"path": RATE, "values": ["20/s", "80/s"],
                                          "from": "--grid"}]
    points = manifest["sweep"]["points"]
    assert [p["parameters"] for p in points] == [{RATE: "20/s"}, {RATE: "80/s"}]
    assert manifest["executor"] == {"name": "local", "jobs": 1}
    by_file = {r["file"]: r for r in manifest["runs"]}
    entry = by_file["small--rate=80_s--leave-in-place--seed3.json"]
    assert entry["parameters"] == {RATE: "80/s"} and entry["workload_sha256"] == points[1]["sha256"]


def test_an_interrupted_sweep_resumes_with_only_the_missing_runs(small, tmp_path, monkeypatch):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    real = matrix.run_one
    calls = []
    ctrl_c = {"at": 4}

    def run_one(workload, policy, seed, **kw):
        calls.append((workload.groups[0].arrival.rate_per_s, policy.label, seed))
        if len(calls) == ctrl_c["at"]:
            raise KeyboardInterrupt
        return real(workload, policy, seed, **kw)

    monkeypatch.setattr(matrix, "run_one", run_one)
    grid = ("--grid", f"{RATE}=20/s,80/s", "--seeds", "2")
    [line] = failed(sweep(small, out, *grid), 130)
    assert "interrupted: 3 of 8 runs finished" in line
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    assert len(results_in(out)) == 3
    # a corrupt result is run again too
    (out / "small--rate=20_s--leave-in-place--seed3.json").write_text('{"schema": "sla')
    calls.clear()
    ctrl_c["at"] = None
    result = sweep(small, out, *grid)
    ok(result)
    assert "(6 new, 2 reused)" in result.stderr
    assert calls == [(20.0, "leave-in-place", 3)] + [
        (rate, label, seed) for rate in (20.0, 80.0) for label in LABELS for seed in (3, 4)][3:]
    ok(sweep(small, fresh, *grid))
    assert results_in(out) == results_in(fresh)
    assert ok(invoke("report", out)) == ok(invoke("report", fresh))


# --------------------------------------------------------------------------- #
# the report
# --------------------------------------------------------------------------- #

def test_report_shows_each_metric_at_each_point(small, tmp_path):
    out = tmp_path / "out"
    printed = ok(sweep(small, out, "--grid", f"{RATE}=20/s,80/s", "--grid", "machine.cpus=2,4",
                       "--seeds", "3", "--metric", "memory.slab_pages.mean",
                       "--metric", "ops.alloc"))
    text = ok(invoke("report", out, "--metric", "memory.slab_pages.mean", "--metric", "ops.alloc"))
    assert text == printed
    lines = text.splitlines()
    assert lines[0] == "sweep of small over cgroups[0].arrival.rate, machine.cpus: 4 points"
    start = lines.index("memory.slab_pages.mean [pages]")
    assert lines[start + 1].split() == ["rate", "cpus", "policy", "n", "mean", "±", "CI", "Δ",
                                        "vs", "baseline", "[CI]", "p(Holm)"]
    body = lines[start + 3:start + 11]
    assert [line.split()[:3] for line in body[::2]] == [
        ["20/s", "2", LABELS[0]], ["20/s", "4", LABELS[0]], ["80/s", "2", LABELS[0]],
        ["80/s", "4", LABELS[0]]]
    assert [line.split()[0] for line in body[1::2]] == [LABELS[1]] * 4
    assert "(baseline)" in body[0]
    # the numbers are the comparison's: the mean of the three seeds at that point
    docs = [json.loads((out / f"small--rate=80_s+cpus=4--{LABELS[1]}--seed{s}.json").read_text())
            for s in (3, 4, 5)]
    mean = sum(d["ops"]["alloc"] for d in docs) / 3
    alloc = lines[[line.split(" ")[0] for line in lines].index("ops.alloc") + 10]
    assert alloc.split()[0] == LABELS[1] and alloc.split()[2] == f"{mean:.0f}"


def test_csv_and_json_carry_the_parameters(small, tmp_path):
    out = tmp_path / "out"
    ok(sweep(small, out, "--grid", f"{RATE}=20/s,80/s", "--seeds", "2"))
    lines = list(csv.DictReader(io.StringIO(ok(invoke("report", out, "--format", "csv",
                                                      "--metric", "ops.alloc")))))
    rows = [line for line in lines if line["kind"] == "row"]     # then notes and warnings
    assert [(r["workload"], r[RATE], r["policy"]) for r in rows] == [
        ("small", rate, label) for rate in ("20/s", "80/s") for label in LABELS]
    assert rows[3]["baseline"] == LABELS[0] and rows[3]["n_pairs"] == "2"
    doc = json.loads(ok(invoke("report", out, "--format", "json", "--metric", "ops.alloc")))
    assert doc["parameters"] == [RATE] and doc["workloads"] == ["small"]
    assert [r["parameters"] for r in doc["rows"]] == [{RATE: "20/s"}] * 2 + [{RATE: "80/s"}] * 2
    assert doc["rows"][3]["vs_baseline"]["seeds"] == [3, 4]


def test_export_has_a_column_per_parameter(small, tmp_path):
    out = tmp_path / "out"
    ok(sweep(small, out, "--grid", f"{RATE}=20/s,80/s", "--seeds", "2"))
    rows = list(csv.DictReader(io.StringIO(ok(invoke("export", out)))))
    assert list(rows[0]) == ["run", "workload", "policy", "seed", RATE, "metric", "t", "value"]
    allocs = {(r[RATE], r["policy"], r["seed"]): r["value"] for r in rows
              if r["metric"] == "ops.alloc"}
    assert sorted(allocs) == sorted((rate, label, seed) for rate in ("20/s", "80/s")
                                    for label in LABELS for seed in ("3", "4"))
    for rate in ("20/s", "80/s"):
        doc = json.loads((out / f"small--rate={rate.replace('/', '_')}--{LABELS[0]}--seed3.json")
                         .read_text())
        assert float(allocs[(rate, LABELS[0], "3")]) == doc["ops"]["alloc"]
    pq = pytest.importorskip("pyarrow.parquet")
    ok(invoke("export", out, "--format", "parquet", "--out", tmp_path / "runs.parquet"))
    table = pq.read_table(tmp_path / "runs.parquet")
    assert table.column_names == list(rows[0])
    assert table.column(RATE).to_pylist() == [r[RATE] for r in rows]


def test_numeric_values_and_geometric_grids():
    assert [grid_mod.numeric(t) for t in ("4", "2.5", "4/s", "2/ms", "5ms", "64KiB", "{a: 1}",
                                          "lazy", "true")] == \
        [4.0, 2.5, 4.0, 2000.0, 5e6, 65536.0, None, None, None]
    assert grid_mod.is_geometric([1, 2, 4, 8, 16, 32, 64])
    assert grid_mod.is_geometric([64, 16, 4, 1])
    assert not grid_mod.is_geometric([1, 2, 3, 4])
    assert not grid_mod.is_geometric([1, 4])
    assert not grid_mod.is_geometric([0, 1, 2, 4])


def test_bad_point_values_in_the_api_raise_one_workload_error(small):
    with pytest.raises(WorkloadError) as info:
        plan_sweep(small, ["machine.cpus=0,-1,2"])
    assert [str(p) for p in info.value.problems] == [
        "--grid: machine.cpus: must be at least 1, got 0",
        "--grid: machine.cpus: must be at least 1, got -1"]


# --------------------------------------------------------------------------- #
# the plot
# --------------------------------------------------------------------------- #

def test_plot_draws_each_metric_against_the_parameter(small, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from slabpolicy.analysis import sweep_plot

    scales = []
    real = sweep_plot._plot_metric

    def spy(plt, sweep, metric, x_path, style, path):
        real(plt, sweep, metric, x_path, style, path)
        scales.append((metric, x_path))

    monkeypatch.setattr(sweep_plot, "_plot_metric", spy)
    out = tmp_path / "out"
    ok(sweep(small, out, "--grid", "duration=50ms,100ms,200ms", "--grid",
             "memcg.cache_creation=lazy,eager", "--seeds", "2"))
    printed = ok(invoke("plot", out, "--out", tmp_path / "png")).split()
    assert printed == [str(tmp_path / "png" / f"sweep-{m}.png") for m in sweep_plot.DEFAULT_METRICS]
    for path in printed:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # x: the numeric parameter (durations), whatever the order of the grid
    assert {x for _, x in scales} == {"duration"}
    assert grid_mod.is_geometric([grid_mod.numeric(v) for v in ("50ms", "100ms", "200ms")])
