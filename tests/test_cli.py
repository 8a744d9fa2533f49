"""The command line, end to end through ``typer.testing.CliRunner``.

Every test checks the exit code and what is printed: results on stdout, problems on
stderr (one line each, never a traceback).  The workloads are tiny (2 cpus, one
cache, 200 ms of simulated time), so the whole file runs in a few seconds.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from slabpolicy.runs.results import checksum_of
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry

from misbehaving_plugins import BOOMER      # tests/misbehaving_plugins.py
from cli_support import failed, invoke

# cgroups arrive at 0, 20, 40, 60 ms and live 50 ms: four offlines, at 50, 70, 90, 110 ms.
SMALL = """\
name: small
seed: 3
duration: 200ms
sample_interval: 10ms
machine:
  cpus: 2
caches:
  - name: dentry
    object_size: 192
cgroups:
  - name: c
    count: 4
    arrival: {process: fixed, interval: 20ms}
    lifetime: 50ms
    streams:
      - cache: dentry
        rate: 2000/s
        lifetime:
          dist: mixture
          of:
            - {weight: 0.9, dist: exponential, mean: 5ms}
            - {weight: 0.1, dist: forever}
policies:
  - leave-in-place
  - name: leave-in-place
    label: leave-in-place-4.0
    options: {era: "4.0"}
"""
SMALL_OFFLINES = 4

MEMORY_FIGURES = ("slab_pages", "dead_cache_pages", "dead_caches", "dying_memcgs",
                  "live_objects", "utilization")
PERCENTILES = ("count", "p50", "p90", "p99", "p999", "max")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write(tmp_path, "small.yaml", SMALL)


def ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr == ""
    return result.stdout


def check_result_doc(doc: dict, *, label: str = "leave-in-place", seed: int = 3,
                     duration_ns: int = 200_000_000) -> None:
    """The result document's shape and its internal consistency."""
    assert doc["schema"] == "slabpolicy.result/1"
    assert doc["workload"]["name"] == "small"
    assert len(doc["workload"]["sha256"]) == 64
    int(doc["workload"]["sha256"], 16)
    policy = doc["policy"]
    assert policy["name"] == "leave-in-place" and policy["label"] == label
    assert policy["version"] == "2.0" and policy["source"] == "bundled"
    era = "4.0" if label.endswith("-4.0") else "none"
    assert policy["options"] == {"era": era}
    assert policy["kernel"].startswith("Linux 4.0-4.6" if era == "4.0" else "none: ")
    assert doc["seed"] == seed
    assert doc["duration_ns"] == duration_ns

    ops = doc["ops"]
    assert set(ops) == {"alloc", "free", "alloc_fast", "alloc_slow", "free_fast", "free_slow"}
    assert ops["alloc"] == ops["alloc_fast"] + ops["alloc_slow"] > 0
    assert ops["free"] == ops["free_fast"] + ops["free_slow"] > 0
    assert ops["free"] <= ops["alloc"]
    assert isinstance(doc["wall_seconds"], float) and doc["wall_seconds"] >= 0

    series = doc["series"]
    t = series["t_ns"]
    assert set(MEMORY_FIGURES) <= set(series)
    assert {len(v) for v in series.values()} == {len(t)}
    assert t[0] == 0 and t[-1] <= duration_ns
    assert all(a < b for a, b in zip(t, t[1:]))

    memory = doc["memory"]
    assert set(memory) == set(MEMORY_FIGURES)
    for figure in MEMORY_FIGURES:
        summary = memory[figure]
        assert set(summary) == {"peak", "mean", "final"}
        assert summary["final"] == series[figure][-1]
        assert summary["peak"] >= max(series[figure])
        assert min(series[figure]) <= summary["mean"] <= summary["peak"]
    assert 0 <= memory["utilization"]["peak"] <= 1
    assert memory["dead_cache_pages"]["peak"] <= memory["slab_pages"]["peak"]
    assert memory["live_objects"]["final"] == ops["alloc"] - ops["free"]

    latency = doc["latency_ns"]
    for kind in ("alloc", "free", "offline"):
        lat = latency[kind]
        assert set(PERCENTILES) <= set(lat)
        assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert latency["alloc"]["count"] == ops["alloc"]
    assert latency["free"]["count"] == ops["free"]
    assert latency["offline"]["count"] == SMALL_OFFLINES

    assert isinstance(doc["locks"], dict)
    for stats in doc["locks"].values():
        assert stats["contentions"] <= stats["acquisitions"]
    accounting = doc["accounting"]
    assert {"violations", "drift_pages_max", "first_violation_ns"} <= set(accounting)
    assert accounting == {**accounting, "violations": 0, "drift_pages_max": 0,
                          "first_violation_ns": None}
    assert doc["memcgs"]["created"] == SMALL_OFFLINES


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- #
# run
# --------------------------------------------------------------------------- #

def test_run_table_lists_every_policy_of_the_workload(small):
    out = ok(invoke("run", small))
    lines = out.splitlines()
    assert lines[0] == "workload small"
    header = lines[1]
    assert "leave-in-place" in header and "leave-in-place-4.0" in header
    assert "seed 3" in lines[2]
    rows = {line.split("  ")[0]: line.split()[-2:] for line in lines[4:]}
    for row in ("slab pages, mean", "slab pages, peak", "dead-cache pages, mean",
                "dead caches, final", "dying memcgs, final", "allocs (fast/slow)",
                "alloc p99 ns", "offline p99 ns", "list_lock contentions",
                "accounting violations"):
        assert row in rows, row
    assert rows["accounting violations"] == ["0", "0"]
    fast, slow = rows["allocs (fast/slow)"][0].split("/")
    assert int(fast) > 0 and int(slow) > 0


def test_run_json_is_one_result_document(small):
    doc = json.loads(ok(invoke("run", small, "--policy", "leave-in-place", "--format", "json")))
    assert isinstance(doc, dict)
    check_result_doc(doc)
    assert set(doc["provenance"]) >= {"slabpolicy", "python"}


def test_run_json_two_seeds_is_an_array(small):
    docs = json.loads(ok(invoke("run", small, "--policy", "leave-in-place",
                                "--seed", "11", "--seed", "12", "--format", "json")))
    assert isinstance(docs, list) and len(docs) == 2
    for doc, seed in zip(docs, (11, 12)):
        check_result_doc(doc, seed=seed)
    assert docs[0]["series"] != docs[1]["series"]


def test_run_two_policies_by_label(small):
    docs = json.loads(ok(invoke("run", small, "--policy", "leave-in-place",
                                "--policy", "leave-in-place-4.0", "--format", "json")))
    assert [d["policy"]["label"] for d in docs] == ["leave-in-place", "leave-in-place-4.0"]
    for doc in docs:
        check_result_doc(doc, label=doc["policy"]["label"])
    plain, shrink = docs
    # same seed, same event stream: the workload's allocations are the same
    assert plain["ops"]["alloc"] == shrink["ops"]["alloc"]
    # the shrinking policy does work at offline; leaving in place does none
    assert shrink["latency_ns"]["offline"]["max"] > 0
    assert plain["latency_ns"]["offline"]["max"] == 0


def test_run_policy_name_not_in_the_workload_runs_with_defaults(tmp_path):
    wl = write(tmp_path, "only_default.yaml",
               SMALL.split("policies:")[0])      # no policies: the default list
    doc = json.loads(ok(invoke("run", wl, "--policy", "leave-in-place", "--format", "json")))
    assert doc["policy"]["options"] == {"era": "none"}


def test_run_out_writes_one_file_per_run(small, tmp_path):
    out_dir = tmp_path / "results" / "nested"          # created on demand
    stdout = ok(invoke("run", small, "--seed", "1", "--seed", "2", "--out", out_dir,
                       "--format", "json"))
    printed = json.loads(stdout)
    assert files_in(out_dir) == [
        "small--leave-in-place--seed1.json", "small--leave-in-place--seed2.json",
        "small--leave-in-place-4.0--seed1.json", "small--leave-in-place-4.0--seed2.json"]
    by_name = {p.name: json.loads(p.read_text()) for p in out_dir.iterdir()}
    for doc in printed:
        name = f"small--{doc['policy']['label']}--seed{doc['seed']}.json"
        assert by_name[name] == {**doc, "checksum": checksum_of(doc)}     # the file is sealed
        check_result_doc(doc, label=doc["policy"]["label"], seed=doc["seed"])


def test_run_set_duration(small):
    doc = json.loads(ok(invoke("run", small, "--policy", "leave-in-place",
                               "--set", "duration=100ms", "--format", "json")))
    assert doc["duration_ns"] == 100_000_000
    assert doc["series"]["t_ns"][-1] <= 100_000_000
    base = json.loads(ok(invoke("run", small, "--policy", "leave-in-place", "--format", "json")))
    # the overrides are part of what the result is a function of
    assert doc["workload"]["sha256"] != base["workload"]["sha256"]
    assert doc["ops"]["alloc"] < base["ops"]["alloc"]


def test_run_set_bad_value_names_the_override(small):
    lines = failed(invoke("run", small, "--set", "duration=100mz"), 2)
    assert lines == ["--set: duration: bad duration '100mz': use a number with ns, us, ms, "
                     "s, min or h (e.g. 5ms)"]


# --------------------------------------------------------------------------- #
# run: errors
# --------------------------------------------------------------------------- #

def test_unknown_policy(small):
    result = invoke("run", small, "--policy", "leave-in-plce")
    lines = failed(result, 1)
    installed = ", ".join(policy_registry(make_plugin_manager()))
    assert lines == ["--policy leave-in-plce: unknown policy 'leave-in-plce'; did you mean "
                     f"'leave-in-place'? installed: {installed}"]
    assert "leave-in-place" in installed
    assert result.stdout == ""


def test_bad_workload_reports_every_problem_with_file_and_line(tmp_path):
    bad = write(tmp_path, "bad.yaml", SMALL.replace("seed: 3\n", "seed: 3\nseeed: 4\n")
                .replace("duration: 200ms", "duration: 200mz"))
    result = invoke("run", bad)
    lines = failed(result, 2)
    assert lines == [
        f"{bad}:3: seeed: unknown field 'seeed'; did you mean 'seed'?",
        f"{bad}:4: duration: bad duration '200mz': use a number with ns, us, ms, s, min "
        f"or h (e.g. 5ms)",
    ]
    assert result.stdout == ""


def test_nonexistent_workload(tmp_path):
    missing = tmp_path / "nope.yaml"
    lines = failed(invoke("run", missing), 2)
    assert lines == [f"{missing}: no such workload file"]


def test_workload_is_a_directory(tmp_path):
    lines = failed(invoke("run", tmp_path), 2)
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path}: ")


def test_bad_format_is_a_usage_error(small):
    result = invoke("run", small, "--format", "xml")
    failed(result, 2)
    assert "--format" in result.stderr and "table, json" in result.stderr
    assert result.stdout == ""


def test_negative_seed_is_a_usage_error(small):
    # random.Random(-5) is random.Random(5): a negative seed would silently repeat another
    result = invoke("run", small, "--seed", "-5")
    failed(result, 2)
    assert "--seed" in result.stderr


def test_bad_policy_option_points_at_its_line(tmp_path):
    wl = write(tmp_path, "badopt.yaml", SMALL.replace('{era: "4.0"}', '{erra: "4.0"}'))
    line = SMALL.splitlines().index('    options: {era: "4.0"}') + 1
    result = invoke("run", wl)
    lines = failed(result, 2)
    assert lines == [f"{wl}:{line}: policies[1].options.erra: unknown option 'erra' of "
                     f"policy 'leave-in-place'; did you mean 'era'?"]
    assert result.stdout == ""


def test_bad_policy_option_value(tmp_path):
    wl = write(tmp_path, "badval.yaml", SMALL.replace('{era: "4.0"}', '{era: "4.6"}'))
    lines = failed(invoke("validate", wl), 2)
    assert len(lines) == 1
    assert ("policies[1].options.era: expected one of none, 4.0, 4.7, 4.11, got '4.6'"
            in lines[0])


def test_out_that_is_a_file_fails_before_running(small, tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    result = invoke("run", small, "--out", target)
    lines = failed(result, 1)
    assert len(lines) == 1 and lines[0].startswith(f"--out {target}: ")
    assert result.stdout == ""


# --------------------------------------------------------------------------- #
# validate
# --------------------------------------------------------------------------- #

def test_validate_good_file(small):
    out = ok(invoke("validate", small))
    assert out == (f"{small}: ok: small, 1 caches, 1 cgroup groups, policies "
                   f"leave-in-place, leave-in-place-4.0\n"
                   f"estimate: about 830 events, 32.09MiB of memory and 1s per run\n")


def test_validate_bad_file_runs_nothing(tmp_path):
    # a duration that would take ages to simulate: validate must not run it
    bad = write(tmp_path, "bad.yaml", SMALL.replace("duration: 200ms", "duration: 1h")
                .replace("    object_size: 192", "    object_size: 192\n    objct_size: 8"))
    result = invoke("validate", bad)
    lines = failed(result, 2)
    assert lines == [f"{bad}:10: caches[0].objct_size: unknown field 'objct_size'; "
                     f"did you mean 'object_size'?"]
    assert result.stdout == ""


def test_validate_a_long_workload_is_instant(tmp_path):
    wl = write(tmp_path, "long.yaml", SMALL.replace("duration: 200ms", "duration: 1h"))
    assert ": ok: small" in ok(invoke("validate", wl))


def test_validate_missing_file(tmp_path):
    lines = failed(invoke("validate", tmp_path / "nope.yaml"), 2)
    assert lines == [f"{tmp_path / 'nope.yaml'}: no such workload file"]


# --------------------------------------------------------------------------- #
# policies
# --------------------------------------------------------------------------- #

def test_policies_table():
    lines = ok(invoke("policies")).splitlines()
    assert lines[0].split() == ["name", "version", "source", "kernel", "description"]
    row = next(line for line in lines if line.startswith("leave-in-place "))
    assert row.split()[:3] == ["leave-in-place", "2.0", "bundled"]


def test_policies_json():
    rows = json.loads(ok(invoke("policies", "--format", "json")))
    assert isinstance(rows, list)
    for row in rows:
        assert {"name", "version", "source", "kernel", "description"} <= set(row)
        assert row["kernel"]
    lip = next(r for r in rows if r["name"] == "leave-in-place")
    assert lip["source"] == "bundled" and lip["version"] == "2.0"
    assert lip["options"]["era"]["type"] == "str"
    assert lip["options"]["era"]["default"] == "none"
    reparent = next(r for r in rows if r["name"] == "reparent")
    assert reparent["kernel"].startswith("Linux 5.3-5.8") and "fb2f2b0adb98" in reparent["kernel"]


def test_policies_with_a_local_plugin(tmp_path):
    plugin = write(tmp_path, "boomer_listed.py", BOOMER)
    rows = json.loads(ok(invoke("policies", "--plugin", plugin, "--format", "json")))
    boomer = next(r for r in rows if r["name"] == "boomer")
    assert boomer["source"] == f"file {plugin.resolve()}"


def test_policies_bad_format():
    failed(invoke("policies", "--format", "yaml"), 2)


# --------------------------------------------------------------------------- #
# geometry
# --------------------------------------------------------------------------- #

def test_geometry_json():
    """One row per size and era: 3.4's cpu_partial (30/13) and 6.x's (120/52) with its
    cpu_partial_slabs, DIV_ROUND_UP(2 * 120, 21) = 12 and DIV_ROUND_UP(2 * 52, 13) = 8."""
    stdout = ok(invoke("geometry", "192", "624", "--cpus", "2", "--format", "json"))
    rows = json.loads(stdout)
    common = [{"object_size": 192, "order": 0, "objects_per_slab": 21, "pages_per_slab": 1,
               "min_partial": 5},
              {"object_size": 624, "order": 1, "objects_per_slab": 13, "pages_per_slab": 2,
               "min_partial": 5}]
    assert rows == [
        {"slub": "3.4", **common[0], "cpu_partial": 30, "cpu_partial_slabs": None},
        {"slub": "6.x", **common[0], "cpu_partial": 120, "cpu_partial_slabs": 12},
        {"slub": "3.4", **common[1], "cpu_partial": 13, "cpu_partial_slabs": None},
        {"slub": "6.x", **common[1], "cpu_partial": 52, "cpu_partial_slabs": 8},
    ]
    assert [list(r) for r in rows] == [["slub", "object_size", "order", "objects_per_slab",
                                        "pages_per_slab", "min_partial", "cpu_partial",
                                        "cpu_partial_slabs"]] * 4


def test_geometry_table_shows_both_eras_side_by_side():
    lines = ok(invoke("geometry", "192", "4KiB", "10928", "--cpus", "2")).splitlines()
    assert lines[0].startswith("2 cpus, 4KiB pages, slub_max_order=3;")
    assert lines[1].split() == ["object_size", "min_partial", "3.4", "order", "3.4", "objects",
                                "3.4", "cpu_partial", "6.x", "order", "6.x", "objects", "6.x",
                                "cpu_partial", "6.x", "cpu_partial_slabs"]
    assert lines[3].split() == ["192", "5", "0", "21", "30", "0", "21", "120", "12"]
    assert lines[4].split() == ["4096", "6", "3", "8", "2", "3", "8", "6", "2"]
    # 3.4 lowers min_objects to one object of order 2 where 6.8+ takes two at order 3
    assert lines[5].split() == ["10928", "6", "2", "1", "2", "3", "2", "6", "6"]


def test_geometry_bad_size():
    result = invoke("geometry", "192", "12zz", "--cpus", "2")
    lines = failed(result, 2)
    assert len(lines) == 1
    assert lines[0].startswith("geometry: bad size '12zz': ")
    assert result.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["4"], "geometry: size must be >= 8 bytes, got 4"),
    (["192", "--page-size", "3KiB"], "geometry: page_size must be a power of two >= 1024, got 3072"),
    (["192", "--max-order", "20"], "geometry: max_order must be in 0..10, got 20"),
])
def test_geometry_bad_parameters(args, message):
    lines = failed(invoke("geometry", *args, "--cpus", "2"), 2)
    assert lines == [message]


# --------------------------------------------------------------------------- #
# plugins that misbehave
# --------------------------------------------------------------------------- #

LEAKY = """\
from slabpolicy import PolicySpec, hookimpl


class Leaky:
    def __init__(self, options):
        pass

    @hookimpl
    def slabpolicy_memcg_offline(self, sim, memcg):
        sim.memcgs.uncharge(memcg, 1)     # uncharges a page that is still there


@hookimpl
def slabpolicy_policies():
    return [PolicySpec(name="leaky", version="0.1", description="breaks accounting",
                       factory=Leaky)]
"""


def test_plugin_that_raises(small, tmp_path):
    plugin = write(tmp_path, "boomer_plugin.py", BOOMER)
    out_dir = tmp_path / "out"
    result = invoke("run", small, "--plugin", plugin, "--policy", "boomer", "--out", out_dir)
    lines = failed(result, 1)
    assert len(lines) == 1
    assert str(plugin) in lines[0] and "RuntimeError: boom" in lines[0]
    assert "policy boomer, seed 3, t=" in lines[0]
    assert result.stdout == ""
    assert not out_dir.exists() or files_in(out_dir) == []


def test_plugin_that_raises_after_other_runs_finished(small, tmp_path):
    plugin = write(tmp_path, "boomer_late.py", BOOMER)
    out_dir = tmp_path / "out"
    result = invoke("run", small, "--plugin", plugin, "--policy", "leave-in-place",
                    "--policy", "boomer", "--seed", "1", "--seed", "2", "--out", out_dir,
                    "--format", "json")
    lines = failed(result, 1)
    assert len(lines) == 1 and "boom" in lines[0] and str(plugin) in lines[0]
    # the runs that finished are written whole, nothing else (no temporary files)
    assert files_in(out_dir) == ["small--leave-in-place--seed1.json",
                                 "small--leave-in-place--seed2.json"]
    for path in out_dir.iterdir():
        check_result_doc(json.loads(path.read_text()), seed=int(path.stem[-1]))
    # and printed: four runs were asked for, so an array even though two finished
    printed = json.loads(result.stdout)
    assert isinstance(printed, list) and [d["seed"] for d in printed] == [1, 2]


def test_json_shape_follows_what_was_asked_not_what_finished(small, tmp_path):
    plugin = write(tmp_path, "boomer_second.py", BOOMER)
    result = invoke("run", small, "--plugin", plugin, "--policy", "leave-in-place",
                    "--policy", "boomer", "--format", "json")
    failed(result, 1)
    printed = json.loads(result.stdout)
    assert isinstance(printed, list) and len(printed) == 1
    check_result_doc(printed[0])


def test_plugin_that_raises_when_building_its_policy(small, tmp_path):
    plugin = write(tmp_path, "broken_factory.py",
                   BOOMER.replace("        pass", "        raise ValueError('no way')"))
    lines = failed(invoke("run", small, "--plugin", plugin, "--policy", "boomer"), 1)
    assert len(lines) == 1 and "ValueError: no way" in lines[0]


def test_plugin_that_fails_to_import(small, tmp_path):
    plugin = write(tmp_path, "syntax_error.py", "def (:\n")
    lines = failed(invoke("run", small, "--plugin", plugin), 1)
    assert len(lines) == 1 and str(plugin) in lines[0] and "failed to import" in lines[0]


def test_missing_plugin_file(small, tmp_path):
    lines = failed(invoke("run", small, "--plugin", tmp_path / "none.py"), 1)
    assert lines == [f"{tmp_path / 'none.py'}: plugin file not found"]


def test_strict_stops_at_an_accounting_violation(small, tmp_path):
    plugin = write(tmp_path, "leaky_strict.py", LEAKY)
    out_dir = tmp_path / "out"
    result = invoke("run", small, "--plugin", plugin, "--policy", "leaky", "--strict",
                    "--out", out_dir)
    lines = failed(result, 3)
    assert len(lines) == 1
    assert lines[0].startswith("accounting violation at t=")
    assert "(policy leaky, seed 3)" in lines[0]
    assert result.stdout == ""
    assert files_in(out_dir) == []


def test_without_strict_a_violation_is_counted(small, tmp_path):
    plugin = write(tmp_path, "leaky_lax.py", LEAKY)
    doc = json.loads(ok(invoke("run", small, "--plugin", plugin, "--policy", "leaky",
                               "--format", "json")))
    accounting = doc["accounting"]
    assert accounting["violations"] >= 1
    assert accounting["drift_pages_max"] >= 1
    # the first offline is at 50 ms: nothing can be wrong before
    assert accounting["first_violation_ns"] >= 50_000_000
    assert doc["policy"]["source"] == f"file {plugin.resolve()}"
