"""A result is a function of the workload, the policy and the seed, and of nothing else.

The bundled experiment (cut to 2 s of simulated time) is run in separate Python
processes, with different hash seeds, and in this process; the documents must be
identical once ``wall_seconds`` and ``provenance`` (the only fields allowed to
vary) are removed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from typer.testing import CliRunner

from slabpolicy.cli import app

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "experiments" / "default.yaml"
ARGS = ("run", str(DEFAULT), "--set", "duration=2s", "--policy", "leave-in-place",
        "--format", "json")
CLEAN_ENV = {"SLABPOLICY_DISABLE_PLUGIN_AUTOLOAD": None, "SLABPOLICY_BLOCK_PLUGINS": None}


def strip(doc: dict) -> dict:
    doc = dict(doc)
    doc.pop("wall_seconds")
    doc.pop("provenance")
    return doc


@lru_cache(maxsize=None)
def run_in_subprocess(seed: int, hashseed: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env["PYTHONHASHSEED"] = hashseed
    proc = subprocess.run(
        [sys.executable, "-c", "from slabpolicy.cli import app; app()", *ARGS,
         "--seed", str(seed)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def doc_of(seed: int, hashseed: str) -> dict:
    doc = json.loads(run_in_subprocess(seed, hashseed))
    assert isinstance(doc, dict) and doc["seed"] == seed
    return doc


def test_same_seed_same_result_in_two_processes():
    first = doc_of(7, "0")
    # a second, separate process (not the cached output of the first)
    run_in_subprocess.cache_clear()
    second = doc_of(7, "0")
    assert strip(first) == strip(second)
    assert first["duration_ns"] == 2_000_000_000
    assert first["ops"]["alloc"] > 0 and first["memcgs"]["created"] > 0


def test_hash_seed_does_not_matter():
    assert strip(doc_of(7, "0")) == strip(doc_of(7, "12345"))


def test_a_different_seed_gives_a_different_result():
    a, b = strip(doc_of(7, "0")), strip(doc_of(8, "0"))
    a.pop("seed"), b.pop("seed")
    assert a["workload"] == b["workload"]
    assert a["ops"] != b["ops"] or a["series"] != b["series"]
    assert a["series"] != b["series"]


def test_in_process_runs_match_the_subprocess():
    """No state leaks between runs in one process (caches, registries, counters)."""
    runner = CliRunner(env=CLEAN_ENV)
    docs = []
    for _ in range(2):
        result = runner.invoke(app, [*ARGS, "--seed", "7"])
        assert result.exit_code == 0, result.stderr
        docs.append(strip(json.loads(result.stdout)))
    assert docs[0] == docs[1] == strip(doc_of(7, "0"))
