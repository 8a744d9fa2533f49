"""Pairing frees with allocations by pointer, and ``slabpolicy trace stats``."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from slabpolicy.cli import app
from slabpolicy.traces.stats import trace_stats
from slabpolicy.traces.tracefile import TraceFile


def alloc(t_us, ptr, cache="dentry", size=192, pid=100, cpu=0, ctx=".", accounted="true"):
    return (f"            bash-{pid}    [{cpu:03d}] ..{ctx}..   {t_us // 10**6}.{t_us % 10**6:06d}: "
            f"kmem_cache_alloc: call_site=__d_alloc+0x2d/0x230 ptr={ptr:016x} name={cache} "
            f"bytes_req={size} bytes_alloc={size} gfp_flags=GFP_KERNEL node=-1 "
            f"accounted={accounted}")


def free(t_us, ptr, cache="dentry", pid=100, cpu=0, ctx="."):
    return (f"            bash-{pid}    [{cpu:03d}] ..{ctx}..   {t_us // 10**6}.{t_us % 10**6:06d}: "
            f"kmem_cache_free: call_site=__d_free+0x2d/0x230 ptr={ptr:016x} name={cache}")


def kfree(t_us, ptr, pid=100, ctx="."):
    return (f"            bash-{pid}    [000] ..{ctx}..   {t_us // 10**6}.{t_us % 10**6:06d}: "
            f"kfree: call_site=x+0x1/0x2 ptr={ptr:016x}")


def kmalloc(t_us, ptr, size):
    return (f"            bash-100    [000] .....   {t_us // 10**6}.{t_us % 10**6:06d}: kmalloc: "
            f"call_site=x+0x1/0x2 ptr={ptr:016x} bytes_req={size} bytes_alloc={size} "
            f"gfp_flags=GFP_KERNEL node=-1 accounted=false")


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
