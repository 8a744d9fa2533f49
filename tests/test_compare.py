"""``slabpolicy compare`` and ``slabpolicy report``: the matrix, the results
directory, reuse and resume, interruption, and every output format.

The workload is tiny (2 cpus, one cache, 200 ms of simulated time), so a run
takes milliseconds; most tests run in this process (``--jobs 1``), one goes
through the process pool.
"""
from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

import pytest

from slabpolicy.runs import matrix as experiment

from misbehaving_plugins import BOOMER      # tests/misbehaving_plugins.py

from cli_support import LABELS, SMALL, failed, invoke, ok, results_in


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(textwrap.dedent(SMALL))
    return path


@pytest.fixture
def counted(monkeypatch):
    """Count the simulations run in this process (``--jobs 1``)."""
    calls = []
    real = experiment.run_one

    def run_one(workload, policy, seed, **kw):
        calls.append((policy.label, seed))
        return real(workload, policy, seed, **kw)

    monkeypatch.setattr(experiment, "run_one", run_one)
    return calls


def compare(small: Path, out: Path, *extra) -> object:
    return invoke("compare", small, "--out", out, "--jobs", "1", *extra)


def no_temporary_files(directory: Path) -> None:
    assert [p.name for p in directory.iterdir() if p.name.startswith(".")
            or p.suffix == ".tmp"] == []


def report_text(directory: Path, *extra) -> str:
    return ok(invoke("report", directory, *extra))


# --------------------------------------------------------------------------- #
# the matrix
# --------------------------------------------------------------------------- #

def test_a_seed_fixes_the_event_stream_whatever_the_policy(small, tmp_path):
    plan = experiment.plan_experiment([small], seeds=2)
    assert [(r.policy.label, r.task.seed) for r in plan.runs] == \
        [(label, seed) for label in LABELS for seed in (3, 4)]
    outcome = experiment.run_experiment(plan, tmp_path / "out", jobs=1)
    by = {(r["policy"]["label"], r["seed"]): r for r in outcome.results}

    def stream(doc):
        return doc["ops"]["alloc"], doc["ops"]["free"], doc["memcgs"]["created"]

    for seed in (3, 4):
        assert stream(by[LABELS[0], seed]) == stream(by[LABELS[1], seed])
    # the policies do differ (shrink flushes and shrinks dead caches at offline) ...
    assert by[LABELS[0], 3]["latency_ns"]["offline"] != by[LABELS[1], 3]["latency_ns"]["offline"]
    assert by[LABELS[0], 3]["ops"]["free_slow"] != by[LABELS[1], 3]["ops"]["free_slow"]
    # ... and another seed is another event stream
    assert stream(by[LABELS[0], 3]) != stream(by[LABELS[0], 4])
    assert by[LABELS[0], 3]["series"] != by[LABELS[0], 4]["series"]


def test_policy_and_seeds_options(small, tmp_path, counted):
    out = tmp_path / "out"
    ok(compare(small, out, "--policy", "leave-in-place-4.0", "--seeds", "3"))
    assert counted == [("leave-in-place-4.0", s) for s in (3, 4, 5)]
    assert sorted(results_in(out)) == [f"small--leave-in-place-4.0--seed{s}.json"
                                       for s in (3, 4, 5)]
    # --set seed=10 moves the seeds (and is another workload: nothing is reused)
    ok(compare(small, tmp_path / "out10", "--policy", "leave-in-place", "--seeds", "2",
               "--set", "seed=10"))
    assert counted[3:] == [("leave-in-place", 10), ("leave-in-place", 11)]


def test_worker_processes_give_the_same_results(small, tmp_path):
    here, pool = tmp_path / "here", tmp_path / "pool"
    ok(compare(small, here, "--seeds", "2"))
    ok(invoke("compare", small, "--out", pool, "--seeds", "2", "--jobs", "2"))
    assert results_in(here) == results_in(pool)
    assert len(results_in(pool)) == 4
    no_temporary_files(pool)


# --------------------------------------------------------------------------- #
# the results directory
# --------------------------------------------------------------------------- #

def test_manifest_records_provenance_and_runs(small, tmp_path):
    out = tmp_path / "out"
    result = compare(small, out, "--seeds", "2")
    ok(result)
    assert str(out) in result.stderr          # where the results went
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == "slabpolicy.manifest/1" and manifest["status"] == "complete"
    for key in ("slabpolicy", "python", "host", "platform", "command", "started", "finished"):
        assert manifest[key], key
    [workload] = manifest["workloads"]
    doc = json.loads((out / "small--leave-in-place--seed3.json").read_text())
    assert workload["path"] == str(small) and workload["sha256"] == doc["workload"]["sha256"]
    assert workload["seeds"] == [3, 4] and workload["overrides"] == []
    assert [(p["label"], p["name"], p["version"], p["source"]) for p in manifest["policies"]] == \
        [(label, "leave-in-place", "2.0", "bundled") for label in LABELS]
    assert [(r["file"], r["workload"], r["policy"], r["seed"]) for r in manifest["runs"]] == \
        [(f"small--{label}--seed{s}.json", "small", label, s) for label in LABELS for s in (3, 4)]
    assert manifest["missing"] == []
    no_temporary_files(out)


def test_resume_runs_only_what_is_missing(small, tmp_path, counted):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    ok(compare(small, out, "--seeds", "2"))
    assert len(counted) == 4
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("small--*.json")}
    first = results_in(out)

    result = compare(small, out, "--seeds", "3")
    ok(result)
    assert counted[4:] == [(label, 5) for label in LABELS]        # one new run per policy
    assert "(2 new, 4 reused)" in result.stderr
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("small--*.json")}
    assert {name: after[name] for name in before} == before       # not rewritten
    assert {name: results_in(out)[name] for name in first} == first

    # the same as one uninterrupted 3-seed compare
    fresh_result = compare(small, fresh, "--seeds", "3")
    assert results_in(out) == results_in(fresh)
    assert result.stdout == fresh_result.stdout
    assert report_text(out) == report_text(fresh)

    # everything there: nothing runs
    ok(compare(small, out, "--seeds", "3"))
    assert len(counted) == 4 + 2 + 6


def test_another_policy_is_added_to_the_directory(small, tmp_path, counted):
    out = tmp_path / "out"
    ok(compare(small, out, "--seeds", "2", "--policy", "leave-in-place"))
    ok(compare(small, out, "--seeds", "2"))
    assert counted == [(label, s) for label in LABELS for s in (3, 4)]


def test_a_corrupt_or_foreign_result_is_run_again(small, tmp_path, counted):
    out = tmp_path / "out"
    ok(compare(small, out, "--seeds", "2"))
    (out / "small--leave-in-place--seed3.json").write_text('{"schema": "slabpolicy.res')
    doc = json.loads((out / "small--leave-in-place--seed4.json").read_text())
    doc["policy"]["options"] = {"era": "4.11"}        # not what this label runs
    (out / "small--leave-in-place--seed4.json").write_text(json.dumps(doc))
    ok(compare(small, out, "--seeds", "2"))
    assert counted[4:] == [("leave-in-place", 3), ("leave-in-place", 4)]
    assert experiment.read_result(out / "small--leave-in-place--seed3.json") is not None

    # another workload file content (here: an override) is another workload
    ok(compare(small, out, "--seeds", "2", "--set", "duration=150ms"))
    assert len(counted) == 4 + 2 + 4


def test_interrupted_compare_loses_no_finished_run(small, tmp_path, monkeypatch):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    real = experiment.run_one
    calls = []

    def run_one(*args, **kw):
        calls.append(args[2])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(experiment, "run_one", run_one)
    result = compare(small, out, "--seeds", "2")
    [line] = failed(result, 130)
    assert "interrupted" in line and "2 of 4 runs finished" in line and str(out) in line
    assert result.stdout == ""
    assert sorted(results_in(out)) == ["small--leave-in-place--seed3.json",
                                       "small--leave-in-place--seed4.json"]
    for name in results_in(out):
        assert experiment.read_result(out / name) is not None
    no_temporary_files(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and len(manifest["runs"]) == 2
    assert [m["policy"] for m in manifest["missing"]] == [LABELS[1]] * 2

    monkeypatch.setattr(experiment, "run_one", real)
    resumed = compare(small, out, "--seeds", "2")
    ok(resumed)
    assert "(2 new, 2 reused)" in resumed.stderr
    ok(compare(small, fresh, "--seeds", "2"))
    assert results_in(out) == results_in(fresh)
    assert report_text(out) == report_text(fresh)
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_a_plugin_error_keeps_the_other_runs(small, tmp_path):
    plugin = tmp_path / "boomer_plugin.py"
    plugin.write_text(BOOMER)
    out = tmp_path / "out"
    result = compare(small, out, "--seeds", "2", "--plugin", plugin,
                     "--policy", "leave-in-place", "--policy", "boomer")
    lines = failed(result, 1)
    assert len(lines) == 2, lines
    assert "RuntimeError: boom" in lines[0] and str(plugin) in lines[0]
    assert "2 of 2 runs of boomer" in lines[0]
    assert "2 of 4 runs finished" in lines[1] and str(out) in lines[1]
    assert result.stdout == ""
    assert sorted(results_in(out)) == ["small--leave-in-place--seed3.json",
                                       "small--leave-in-place--seed4.json"]
    no_temporary_files(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert all("boom" in m["error"] for m in manifest["missing"])


# --------------------------------------------------------------------------- #
# output
# --------------------------------------------------------------------------- #

@pytest.fixture
def made(small, tmp_path):
    """A results directory and the plain output of the compare that made it."""
    out = tmp_path / "made"
    result = compare(small, out, "--seeds", "2")
    return out, ok(result)


def test_every_format_of_compare_and_report(small, made):
    from slabpolicy.analysis import report

    out, plain = made
    assert report_text(out) == plain
    for fmt in report.FORMATS:
        printed = ok(compare(small, out, "--seeds", "2", "--format", fmt))
        assert printed.strip(), fmt
        assert report_text(out, "--format", fmt) == printed, fmt
        if fmt == "json":
            json.loads(printed)
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(printed)))
            assert len(rows) >= 2 and len({len(r) for r in rows}) == 1
    assert "LABEL" not in plain
    for label in LABELS:
        assert label in plain


def test_report_with_baseline_and_metrics(small, made):
    out, _ = made
    args = ("--baseline", "leave-in-place-4.0", "--metric", "memory.slab_pages.mean",
            "--metric", "latency_ns.alloc.p99")
    printed = ok(compare(small, out, "--seeds", "2", *args))
    assert report_text(out, *args) == printed
    assert "memory.slab_pages.mean" in printed or "slab" in printed


def test_unknown_metric_and_baseline(small, made, tmp_path, counted):
    out, _ = made
    for command in (("compare", small, "--out", out, "--jobs", "1", "--seeds", "2"),
                    ("report", out)):
        [line] = failed(invoke(*command, "--metric", "memory.no_such_figure.mean"), 2)
        assert "memory.no_such_figure.mean" in line
        [line] = failed(invoke(*command, "--baseline", "no-such-policy"), 2)
        assert "no-such-policy" in line
    assert counted == []
    # a bad baseline is found before anything runs
    fresh = tmp_path / "fresh"
    failed(compare(small, fresh, "--baseline", "nope"), 2)
    assert not fresh.exists()


def test_unknown_metric_stops_after_the_first_run(small, tmp_path, counted):
    out = tmp_path / "out"
    [line] = failed(compare(small, out, "--seeds", "2", "--metric", "memory.nope"), 2)
    assert "memory.nope" in line and "slab_pages" in line      # what is valid there
    assert len(counted) == 1 and len(results_in(out)) == 1      # and that run is kept
    no_temporary_files(out)


def test_two_workloads(small, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(textwrap.dedent(SMALL).replace("name: small", "name: other"))
    out = tmp_path / "out"
    printed = ok(invoke("compare", small, other, "--out", out, "--jobs", "1", "--seeds", "2",
                        "--policy", "leave-in-place", "--policy", "leave-in-place-4.0",
                        "--format", "json"))
    assert json.loads(printed)["workloads"] == ["small", "other"]
    assert len(results_in(out)) == 8
    assert report_text(out, "--format", "json") == printed
    # two files of one name would overwrite each other's results
    clash = tmp_path / "clash.yaml"
    clash.write_text(textwrap.dedent(SMALL).replace("seed: 3", "seed: 4"))
    [line] = failed(invoke("compare", small, clash, "--out", tmp_path / "x", "--jobs", "1"), 1)
    assert "small" in line and str(clash) in line


def test_bad_arguments(small, tmp_path):
    failed(invoke("report", tmp_path / "nowhere"), 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    [line] = failed(invoke("report", empty), 1)
    assert "no result files" in line
    assert failed(compare(small, tmp_path / "x", "--format", "yaml"), 2)
    [line] = failed(compare(small, tmp_path / "x", "--policy", "nope"), 1)
    assert "unknown policy 'nope'" in line


# --------------------------------------------------------------------------- #
# the default experiment
# --------------------------------------------------------------------------- #

def test_default_experiment_is_found(tmp_path, monkeypatch):
    found = experiment.default_experiment()
    assert found.is_file() and found.name == "default.yaml"
    assert found.parent.name == "experiments"
    # installed package data comes first, the source tree second
    data, tree = tmp_path / "data", tmp_path / "tree"
    tree.mkdir()
    (tree / "default.yaml").write_text("name: x\n")
    monkeypatch.setattr(experiment, "experiments_dirs", lambda: [data, tree])
    assert experiment.default_experiment() == tree / "default.yaml"
    data.mkdir()
    (data / "default.yaml").write_text("name: x\n")
    assert experiment.default_experiment() == data / "default.yaml"
    (data / "default.yaml").unlink()
    (tree / "default.yaml").unlink()
    with pytest.raises(experiment.SlabpolicyError, match="not installed"):
        experiment.default_experiment()


def test_compare_without_a_file_runs_the_default_experiment(tmp_path, counted):
    out = tmp_path / "out"
    result = invoke("compare", "--out", out, "--jobs", "1", "--seeds", "1",
                    "--policy", "leave-in-place", "--policy", "objcg", "--set", "duration=300ms")
    ok(result)
    assert counted == [("leave-in-place", 1), ("objcg", 1)]
    assert sorted(results_in(out)) == ["default-containers--leave-in-place--seed1.json",
                                       "default-containers--objcg--seed1.json"]
