"""Result files carry a checksum of their figures: a changed figure is run again by
compare and warned about by report."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from slabpolicy.cli import app
from slabpolicy.runs.results import checksum_of, checksum_status

ROOT = Path(__file__).resolve().parent.parent
RUNNER = CliRunner()
WORKLOAD = """\
name: sums
duration: 300ms
sample_interval: 30ms
machine: {cpus: 2}
caches: [{name: dentry, object_size: 192}]
cgroups:
  - {name: g, count: 2, lifetime: 100ms, streams: [{cache: dentry, rate: 500/s, lifetime: 5ms}]}
policies: [leave-in-place]
"""


def test_checksum_changes_with_any_figure():
    doc = {"memory": {"slab_pages": {"peak": 10}}, "seed": 1}
    sealed = {**doc, "checksum": checksum_of(doc)}
    assert checksum_status(sealed) == "ok"
    assert checksum_status(doc) == "missing"
    sealed["memory"]["slab_pages"]["peak"] = 9
    assert checksum_status(sealed) == "mismatch"


def test_a_tampered_result_is_run_again_and_reported(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD)
    out = tmp_path / "out"
    args = ["compare", str(path), "--seeds", "2", "--jobs", "1", "--out", str(out)]
    first = RUNNER.invoke(app, args)
    assert first.exit_code == 0, first.output
    tampered = out / "sums--leave-in-place--seed1.json"
    doc = json.loads(tampered.read_text())
    honest = doc["memory"]["slab_pages"]["peak"]
    doc["memory"]["slab_pages"]["peak"] = honest + 1000
    tampered.write_text(json.dumps(doc))

    report = RUNNER.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert report.stderr == (f"{tampered}: its figures do not match its checksum (changed after "
                             f"it was written?); shown anyway, and compare into this directory "
                             f"runs it again\n")

    again = RUNNER.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "2 runs (1 new, 1 reused)" in again.stderr
    rerun = json.loads(tampered.read_text())
    assert rerun["memory"]["slab_pages"]["peak"] == honest and checksum_status(rerun) == "ok"


def test_report_skips_a_fifo_named_like_a_result(tmp_path):
    """A FIFO among the results would block report forever on open()."""
    import os
    path = tmp_path / "w.yaml"
    path.write_text(WORKLOAD)
    out = tmp_path / "out"
    assert RUNNER.invoke(app, ["compare", str(path), "--seeds", "1", "--jobs", "1",
                               "--out", str(out)]).exit_code == 0
    os.mkfifo(out / "sums--leave-in-place--seed9.json")
    report = RUNNER.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert "seed9.json: not a result document" in report.stderr
