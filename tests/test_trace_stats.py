"""Pairing frees with allocations by pointer, and ``slabpolicy trace stats``."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from slabpolicy.cli import app
from slabpolicy.traces.stats import trace_stats
from slabpolicy.traces.tracefile import TraceFile
from trace_lines import alloc, free, kfree, kmalloc


def stats_of(tmp_path, lines):
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n")
    return trace_stats(TraceFile(path))


def test_hashed_pointers_pair_and_reuse_after_free(tmp_path):
    # 00000000c8e1923d is a %p-hashed pointer: the same object prints the same hash
    doc = stats_of(tmp_path, [alloc(1, 0xc8e1923d), free(2, 0xc8e1923d),
                              alloc(3, 0xc8e1923d), free(4, 0xc8e1923d)])
    assert (doc["allocs"], doc["frees"], doc["paired"], doc["unpaired_frees"],
            doc["never_freed"], doc["reallocated_without_free"]) == (2, 2, 2, 0, 0, 0)
    assert doc["caches"]["dentry"] == {"allocs": 2, "frees": 2, "paired": 2,
                                       "unpaired_frees": 0, "never_freed": 0, "bytes_alloc": 384}


def test_frees_without_allocations_and_allocations_never_freed(tmp_path):
    doc = stats_of(tmp_path, [free(1, 0xa), alloc(2, 0xb), alloc(3, 0xc), free(4, 0xc),
                              kfree(5, 0xd), kfree(6, 0)])
    assert (doc["allocs"], doc["frees"], doc["paired"], doc["unpaired_frees"],
            doc["never_freed"], doc["null_frees"]) == (2, 3, 1, 2, 1, 1)
    assert doc["caches"]["dentry"]["unpaired_frees"] == 1
    assert doc["caches"]["(unknown: kfree)"]["unpaired_frees"] == 1


def test_an_address_live_twice_means_an_untraced_free(tmp_path):
    doc = stats_of(tmp_path, [alloc(1, 0xa), alloc(2, 0xa), free(3, 0xa)])
    assert (doc["allocs"], doc["paired"], doc["never_freed"],
            doc["reallocated_without_free"]) == (2, 1, 0, 1)


def test_softirq_frees_and_large_kmallocs_are_counted_apart(tmp_path):
    doc = stats_of(tmp_path, [alloc(1, 0xa), free(2, 0xa, ctx="s", pid=0),
                              kmalloc(3, 0xb, 16384), kfree(4, 0xb), kmalloc(5, 0xc, 64)])
    assert (doc["irq_frees"], doc["paired"], doc["allocs"]) == (1, 1, 2)
    assert doc["large_kmalloc"] == {"allocs": 1, "frees": 1}
    assert doc["caches"]["kmalloc-64"]["never_freed"] == 1
    assert doc["time_span_ns"] == 4000


def test_trace_stats_command_json_and_table(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\n".join([alloc(1, 0xa), "junk line", free(2, 0xa), free(3, 0xe)]) + "\n")
    runner = CliRunner()
    out = runner.invoke(app, ["trace", "stats", str(path), "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert (doc["allocs"], doc["frees"], doc["paired"], doc["unpaired_frees"],
            doc["never_freed"]) == (1, 2, 1, 1, 0)
    assert doc["unparsed_lines"] == {"count": 1, "first": [2]}
    table = runner.invoke(app, ["trace", "stats", str(path)])
    assert table.exit_code == 0
    assert "unparsed lines               1 (lines 2)" in table.output
    strict = runner.invoke(app, ["trace", "stats", str(path), "--strict"])
    assert strict.exit_code == 2
    assert strict.output.strip() == f"{path}:2: not an ftrace event line"


def test_trace_stats_missing_file_is_one_line(tmp_path):
    out = CliRunner().invoke(app, ["trace", "stats", str(tmp_path / "nope.txt")])
    assert out.exit_code == 2
    assert out.output.strip() == f"{tmp_path / 'nope.txt'}: no such trace file"
