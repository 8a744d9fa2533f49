"""The metric catalogue against the result documents it describes.

Every bundled policy runs the default experiment (shortened); every number of
every result must have its catalogue entry, and every entry must be a number
some result has.  When this fails after a change to the result document, the
message says what to add (or remove) where.  Then the ``slabpolicy metrics``
command, a plugin's own metrics, and did-you-mean for a mistyped ``--metric``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slabpolicy.analysis.metrics import (DEFAULT_METRICS, SLUB_STATS, Metric, catalogue,
                                         core_metrics, lookup, metric_paths)
from slabpolicy.analysis.report import metric_value
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.cli import app
from slabpolicy.kernel.slub import STAT_ITEMS
from slabpolicy.runs import matrix
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

from cli_support import CLEAN_ENV

ROOT = Path(__file__).resolve().parent.parent
RUNNER = CliRunner(env={**CLEAN_ENV, "COLUMNS": "120"})


@pytest.fixture(scope="module")
def results() -> list[dict]:
    """The default experiment's policies, then every other installed one with its
    defaults (a third party's too), 3 simulated seconds each: long enough for
    containers to die, chaining as posted to break its accounting, and scan-and-move
    and objcg to take their own locks."""
    workload = load_workload(matrix.default_experiment(), ["duration=3s"])
    registry = policy_registry(make_plugin_manager())
    listed = {choice.name for choice in workload.policies}
    others = [name for name in registry if name not in listed]
    runs = resolve_policies(workload, [], registry)
    runs += resolve_policies(workload, others, registry) if others else []
    return [run_one(workload, r, workload.seed) for r in runs]


@pytest.fixture(scope="module")
def full_catalogue() -> list[Metric]:
    return catalogue(make_plugin_manager())


def test_every_number_of_a_result_is_in_the_catalogue(results, full_catalogue):
    for result in results:
        for path in metric_paths(result):
            assert lookup(path, full_catalogue) is not None, (
                f"result field {path!r} (policy {result['policy']['label']}, "
                f"{result['policy']['source']}) is not in the metric catalogue. If the "
                f"policy's plugin writes it (slabpolicy_run_end), return "
                f"Metric({path!r}, UNIT, DESCRIPTION) from that plugin's module-level "
                f"slabpolicy_metrics() hook (as plugins/chaining.py does); if slabpolicy's "
                f"own result document does (runs/runner.py build_result), add it to "
                f"core_metrics() in slabpolicy/analysis/metrics.py, in the generator of its "
                f"section (e.g. _memory()) or a new one called from core_metrics()")


def test_every_catalogue_entry_is_in_some_result(results, full_catalogue):
    paths = {p for result in results for p in metric_paths(result)}
    for m in full_catalogue:
        if m.path.startswith("slub_stats."):
            continue            # counted only when they happen: checked against the source
        assert any(m.matches(p) for p in paths), (
            f"the metric catalogue lists {m.path!r} (source {m.source}), but no result of "
            f"any bundled policy has it: remove its entry from slabpolicy/analysis/metrics.py "
            f"(or the plugin's slabpolicy_metrics()), or make the result document write it")


def test_slub_stats_are_the_counters_the_code_counts():
    sources = list((ROOT / "slabpolicy").rglob("*.py")) + list((ROOT / "plugins").glob("*.py"))
    # a policy counts by name, s.stat("ITEM"); the core's paths by the enum, stat(s, ITEM)
    counted = {item for path in sources
               for quote, item in re.findall(r'\bstat\((?:\w+, )?("?)([A-Z_]+)\1\)',
                                             path.read_text())
               if quote or item in STAT_ITEMS}
    assert counted == set(SLUB_STATS), (
        f"SLUB counters counted in the code but not described in SLUB_STATS of "
        f"slabpolicy/analysis/metrics.py: {sorted(counted - set(SLUB_STATS))}; described but "
        f"never counted: {sorted(set(SLUB_STATS) - counted)}")


def test_the_catalogue_says_what_the_numbers_are(results):
    core = core_metrics()
    assert len({m.path for m in core}) == len(core)
    for m in core:
        assert m.unit and m.description and m.source == "slabpolicy"
    assert lookup("memory.utilization.mean").upper == 1.0
    assert "time-weighted mean" in lookup("memory.slab_pages.mean").description
    assert "end of the run" in lookup("memory.dying_memcgs.final").description
    assert "divided by the bytes of all slab pages" in lookup("memory.utilization.peak").description
    assert lookup("locks.objcg_lock.wait_ns_max").unit == "ns"
    assert not lookup("wall_seconds").deterministic
    assert lookup("nope.nothing") is None
    for metric in DEFAULT_METRICS:
        assert lookup(metric) is not None, metric
    # the bounds hold in every result
    for result in results:
        for path in metric_paths(result):
            m = lookup(path)
            if m is None:
                continue            # a plugin's
            value = metric_value(result, path)
            assert m.lower is None or value >= m.lower, (path, value)
            assert m.upper is None or value <= m.upper, (path, value)


def test_metrics_command_json_and_table(full_catalogue):
    result = RUNNER.invoke(app, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [m.path for m in full_catalogue]
    for row in rows:
        assert {"path", "unit", "description"} <= set(row)
    chained = next(r for r in rows if r["path"] == "policy_stats.chained_frees")
    assert chained["source"] == "bundled"
    table = RUNNER.invoke(app, ["metrics"])
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    starred = [line.split()[1] for line in lines if line.startswith("*")]
    for metric in DEFAULT_METRICS:
        assert [p for p in starred if lookup(metric, [Metric(p, "", "")])], metric
    assert max(map(len, lines[:-1])) <= 120


PLUGIN = '''
from slabpolicy import hookimpl
from slabpolicy.analysis.metrics import Metric


@hookimpl
def slabpolicy_metrics():
    return [Metric("observer.frees_seen", "frees", "frees the observer saw")]


@hookimpl
def slabpolicy_run_end(sim, result):
    result["observer"] = {"frees_seen": sim.slub.n_free_fast + sim.slub.n_free_slow}
'''


def test_a_plugin_declares_its_metrics(tmp_path):
    plugin = tmp_path / "observer.py"
    plugin.write_text(PLUGIN)
    result = RUNNER.invoke(app, ["metrics", "--format", "json", "--plugin", str(plugin)])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads(result.stdout) if r["path"] == "observer.frees_seen"]
    assert row == {"path": "observer.frees_seen", "unit": "frees",
                   "description": "frees the observer saw", "lower": 0.0, "upper": None,
                   "source": f"file {plugin.resolve()}", "deterministic": True}


@pytest.mark.parametrize("body, message", [
    ("raise RuntimeError('no')", "slabpolicy_metrics() raised RuntimeError: no"),
    ("return ['memory.x']", "slabpolicy_metrics() returned 'memory.x', not a"),
    ("return [Metric('memory.slab_pages.mean', 'pages', 'again')]",
     "declares 'memory.slab_pages.mean', which the catalogue already has"),
])
def test_a_plugin_with_bad_metrics_is_one_line(tmp_path, body, message):
    plugin = tmp_path / "bad.py"
    plugin.write_text("from slabpolicy import hookimpl\n"
                      "from slabpolicy.analysis.metrics import Metric\n\n\n"
                      f"@hookimpl\ndef slabpolicy_metrics():\n    {body}\n")
    result = RUNNER.invoke(app, ["metrics", "--plugin", str(plugin)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"plugin {plugin.resolve()}: ")
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_mistyped_metric_gets_did_you_mean(results):
    for typo, meant in (("memory.slab_page.mean", "memory.slab_pages.mean"),
                        ("locks.list_lock.contentoins", "locks.list_lock.contentions"),
                        ("latency_ns.free.p999x", "latency_ns.free.p999")):
        with pytest.raises(KeyError) as info:
            metric_value(results[0], typo)
        assert f"unknown metric {typo!r} (did you mean {meant!r}?)" in str(info.value)
    with pytest.raises(KeyError) as info:
        metric_value(results[0], "zzz")
    assert "did you mean" not in str(info.value)
