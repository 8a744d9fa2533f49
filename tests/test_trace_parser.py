"""The ftrace parser against real lines of each format, field by field.

Where each line comes from:

* LINUX_6_18: this project's machine, Linux 6.18, ``cat trace`` of the kmem,
  cgroup and sched_process_fork events (and the same buffer read again with
  ``options/fields`` on, and with ``options/context-info`` off);
* LINUX_4_X: a 2019 blog post's ``cat trace`` on Ubuntu (4-character flags, no
  ``node=``, ``name=`` or ``accounted=``; a module's call site with ``[memleak]``);
* LINUX_2_6: the 2009 kmemtrace tutorial's 32-bit trace (``ptr=  (null)``);
* TRACE_CMD: Rabin Vincent's linux-mm post "Non-throttling of mkfs leads to OOM"
  (2015, 4.2-rc5), ``trace-cmd report`` output, and Vasily Averin's 2022 patch
  "add 'accounted' entry into output of allocation tracepoints" (trace-cmd
  without the context prefix);
* TIMESTAMP_ONLY: Steven Rostedt's 2024 patch "Do not use TP_printk() formatting
  for boot mapped buffers" (6.x lines before ``name=`` reached kmem_cache_alloc).
"""
from __future__ import annotations

import gzip

import pytest

from slabpolicy.traces.parser import (ALLOC, ATTACH, FORK, FREE, LOST, MKDIR, OTHER, RMDIR,
                                      Unparsed, parse_line)
from slabpolicy.traces.tracefile import TraceError, TraceFile

LINUX_6_18 = {
    "alloc": "            bash-9705    [000] .....   633.467675: kmem_cache_alloc: call_site=alloc_empty_file+0x3c/0x110 ptr=00000000c8e1923d name=filp bytes_req=184 bytes_alloc=192 gfp_flags=GFP_KERNEL node=-1 accounted=true",
    "free": "            bash-9705    [000] .....   633.467837: kmem_cache_free: call_site=task_work_run+0x59/0x90 ptr=00000000c8e1923d name=filp",
    "kmalloc": "            bash-9806    [000] .....   638.622878: kmalloc: call_site=lsm_blob_alloc+0x3b/0x60 ptr=000000007f6c9947 bytes_req=11 bytes_alloc=16 gfp_flags=GFP_KERNEL_ACCOUNT|__GFP_ZERO node=-1 accounted=true",
    "kfree_null": "          <idle>-0       [000] ..s1.   638.634593: kfree: call_site=unwind_task_free+0x15/0x30 ptr=0000000000000000",
    "softirq_free": "          python-9301    [001] ..s..   638.842604: kmem_cache_free: call_site=rcu_do_batch+0x1b7/0x530 ptr=00000000120f1b14 name=lsm_inode_cache",
    "mkdir": "           mkdir-9709    [000] d..1.   633.472387: cgroup_mkdir: root=4 id=4226 level=1 path=/sp11probe",
    "attach": "              sh-9710    [000] d..1.   633.486690: cgroup_attach_task: dst_root=4 dst_id=4226 dst_level=1 dst_path=/sp11probe pid=9710 comm=sh",
    "rmdir": "           rmdir-9713    [000] d..1.   633.492911: cgroup_rmdir: root=4 id=4226 level=1 path=/sp11probe",
    "fork": "            bash-9705    [000] .....   633.469291: sched_process_fork: comm=bash pid=9705 child_comm=bash child_pid=9709",
}
LINUX_6_18_FIELDS = {
    "alloc": "            bash-9806    [000] .....   638.622784: kmem_cache_alloc: call_site=getname_flags.part.0+0x24/0x1f0 (-2123577916) ptr=0xffff888100df6000 (-131387329912832) name=names_cache bytes_req=0x1000 (4096) bytes_alloc=0x1000 (4096) gfp_flags=0xcc0 (3264) node=0xffffffff (-1) accounted=(0)",
    "kmalloc": "            bash-9806    [000] .....   638.622878: kmalloc: call_site=lsm_blob_alloc+0x3b/0x60 (-2119667701) ptr=0xffff88810024eff0 (-131387342131216) bytes_req=0xb (11) bytes_alloc=0x10 (16) gfp_flags=0x400dc0 (4197824) node=0xffffffff (-1)",
    "free": "            bash-9806    [000] .....   638.622723: kmem_cache_free: call_site=do_sys_openat2+0x88/0xd0 (-2123664200) ptr=0xffff888100df6000 (-131387329912832) name=names_cache",
    "fork": "            bash-9806    [000] .....   638.623052: sched_process_fork: parent_comm=bash parent_pid=0x264e (9806) child_comm=bash child_pid=0x2650 (9808)",
}
LINUX_6_18_NO_CONTEXT = "kmem_cache_alloc: call_site=getname_flags.part.0+0x24/0x1f0 ptr=0000000096f7783f name=names_cache bytes_req=4096 bytes_alloc=4096 gfp_flags=GFP_KERNEL node=-1 accounted=false"
LINUX_4_X = {
    "softirq_alloc": "          <idle>-0     [003] ..s. 312444.111637: kmem_cache_alloc: call_site=__build_skb+0x24/0x60 ptr=0000000003218205 bytes_req=224 bytes_alloc=256 gfp_flags=GFP_ATOMIC",
    "module": "           <...>-41112 [002] .... 313039.418842: kmem_cache_alloc: call_site=memleak_task_test+0x70/0xb0 [memleak] ptr=00000000844671fe bytes_req=5678 bytes_alloc=10320 gfp_flags=GFP_KERNEL",
}
LINUX_2_6 = {
    "kmalloc": "               init-1     [000] .N..     0.170000: kmalloc: call_site=c10bfa28 ptr=c147dca0 bytes_req=6 bytes_alloc=32 gfp_flags=GFP_KERNEL",
    "kfree_null": "               init-1     [000] .N..     0.170000: kfree: call_site=c10bfa4a ptr=  (null)",
}
TRACE_CMD = {
    "kmalloc": "       mkfs.ext4-664   [000]     4.776026: kmalloc:              (wb_start_writeback+0x42) call_site=ffffffff811970d2 ptr=0xffff88000d748498 bytes_req=64 bytes_alloc=392 gfp_flags=GFP_ATOMIC|GFP_ZERO",
    "no_prefix": "kmem_cache_alloc:     (mm_alloc+0x16) call_site=mm_alloc+0x16 ptr=0xffff8fff0894d500 bytes_req=1048 bytes_alloc=1088 gfp_flags=GFP_KERNEL accounted=true",
}
TIMESTAMP_ONLY = "  4582.696629: kmem_cache_alloc: call_site=alloc_empty_file+0x6b/0x110 ptr=0000000095808002 bytes_req=360 bytes_alloc=384 gfp_flags=GFP_KERNEL node=-1 accounted=false"


def fields(ev):
    return {k: getattr(ev, k) for k in ("kind", "name", "t_ns", "cpu", "pid", "irq", "ptr",
                                        "cache", "size", "accounted")}


def test_linux_6_18_tp_printk_kmem_events():
    assert fields(parse_line(LINUX_6_18["alloc"])) == {
        "kind": ALLOC, "name": "kmem_cache_alloc", "t_ns": 633_467_675_000, "cpu": 0,
        "pid": 9705, "irq": False, "ptr": 0xc8e1923d, "cache": "filp", "size": 192,
        "accounted": True}
    free = parse_line(LINUX_6_18["free"])
    assert (free.kind, free.ptr, free.cache, free.t_ns) == (FREE, 0xc8e1923d, "filp", 633_467_837_000)
    km = parse_line(LINUX_6_18["kmalloc"])
    assert (km.cache, km.size, km.accounted, km.ptr) == ("kmalloc-cg-16", 16, True, 0x7f6c9947)


def test_context_flags_and_idle_mark_irq_context():
    soft = parse_line(LINUX_6_18["softirq_free"])
    assert (soft.irq, soft.pid, soft.cpu, soft.cache) == (True, 9301, 1, "lsm_inode_cache")
    idle = parse_line(LINUX_6_18["kfree_null"])
    assert (idle.irq, idle.pid, idle.ptr, idle.cache) == (True, 0, 0, None)


def test_linux_6_18_cgroup_and_fork_events():
    mk = parse_line(LINUX_6_18["mkdir"])
    assert (mk.kind, mk.root, mk.path, mk.t_ns) == (MKDIR, 4, "/sp11probe", 633_472_387_000)
    at = parse_line(LINUX_6_18["attach"])
    assert (at.kind, at.root, at.path, at.target, at.pid) == (ATTACH, 4, "/sp11probe", 9710, 9710)
    rm = parse_line(LINUX_6_18["rmdir"])
    assert (rm.kind, rm.path) == (RMDIR, "/sp11probe")
    fork = parse_line(LINUX_6_18["fork"])
    assert (fork.kind, fork.pid, fork.target) == (FORK, 9705, 9709)


def test_print_fields_form_other_order_and_spelling():
    alloc = parse_line(LINUX_6_18_FIELDS["alloc"])
    assert fields(alloc) == {
        "kind": ALLOC, "name": "kmem_cache_alloc", "t_ns": 638_622_784_000, "cpu": 0,
        "pid": 9806, "irq": False, "ptr": 0xffff888100df6000, "cache": "names_cache",
        "size": 4096, "accounted": False}
    # no accounted field in the record: it comes from __GFP_ACCOUNT (bit 22) of 0x400dc0
    km = parse_line(LINUX_6_18_FIELDS["kmalloc"])
    assert (km.cache, km.size, km.accounted, km.ptr) == ("kmalloc-cg-16", 16, True,
                                                         0xffff88810024eff0)
    free = parse_line(LINUX_6_18_FIELDS["free"])
    assert (free.ptr, free.cache) == (alloc.ptr, "names_cache")
    fork = parse_line(LINUX_6_18_FIELDS["fork"])
    assert (fork.pid, fork.target) == (9806, 9808)


def test_without_context_info_or_with_only_timestamps():
    bare = parse_line(LINUX_6_18_NO_CONTEXT)
    assert (bare.kind, bare.t_ns, bare.pid, bare.cache, bare.ptr, bare.accounted) == (
        ALLOC, None, -1, "names_cache", 0x96f7783f, False)
    ts = parse_line(TIMESTAMP_ONLY)
    # before name= reached kmem_cache_alloc (6.1), the cache is known by its size
    assert (ts.t_ns, ts.cache, ts.size, ts.ptr, ts.accounted) == (
        4582_696_629_000, "kmem_cache-384", 384, 0x95808002, False)


def test_linux_4_x_four_flag_columns_no_node_name_or_accounted():
    soft = parse_line(LINUX_4_X["softirq_alloc"])
    assert fields(soft) == {
        "kind": ALLOC, "name": "kmem_cache_alloc", "t_ns": 312444_111_637_000, "cpu": 3,
        "pid": 0, "irq": True, "ptr": 0x3218205, "cache": "kmem_cache-256", "size": 256,
        "accounted": None}
    module = parse_line(LINUX_4_X["module"])
    assert (module.pid, module.cpu, module.size, module.ptr, module.irq) == (
        41112, 2, 10320, 0x844671fe, False)


def test_linux_2_6_32bit_pointers_and_null():
    km = parse_line(LINUX_2_6["kmalloc"])
    assert (km.ptr, km.cache, km.size, km.t_ns, km.pid) == (0xc147dca0, "kmalloc-32", 32,
                                                            170_000_000, 1)
    assert parse_line(LINUX_2_6["kfree_null"]).ptr == 0


def test_trace_cmd_report_lines():
    km = parse_line(TRACE_CMD["kmalloc"])
    assert fields(km) == {
        "kind": ALLOC, "name": "kmalloc", "t_ns": 4_776_026_000, "cpu": 0, "pid": 664,
        "irq": False, "ptr": 0xffff88000d748498, "cache": "kmalloc-392", "size": 392,
        "accounted": None}
    bare = parse_line(TRACE_CMD["no_prefix"])
    assert (bare.ptr, bare.size, bare.accounted, bare.cache) == (0xffff8fff0894d500, 1088, True,
                                                                 "kmem_cache-1088")


def test_kmalloc_caches_follow_kmalloc_type():
    line = ("  cc1-7 [001] ..... 1.000000: kmalloc: call_site=f+0x1/0x2 ptr=0000000000000010 "
            "bytes_req=2000 bytes_alloc=2048 gfp_flags={} node=-1 accounted={}")
    assert parse_line(line.format("GFP_KERNEL", "false")).cache == "kmalloc-2k"
    assert parse_line(line.format("GFP_KERNEL_ACCOUNT", "true")).cache == "kmalloc-cg-2k"
    assert parse_line(line.format("GFP_KERNEL|__GFP_RECLAIMABLE", "false")).cache == \
        "kmalloc-rcl-2k"
    assert parse_line(line.format("GFP_DMA", "false")).cache == "dma-kmalloc-2k"
    large = line.replace("2048", "16384").format("GFP_KERNEL", "false")
    assert parse_line(large).cache is None          # kmalloc_large(): pages, not a slab


def test_lines_that_are_not_events():
    for line in ("# tracer: nop", "", "version = 6", "cpus=2", "CPU 0 is empty"):
        assert parse_line(line) is None
    lost = parse_line("CPU:1 [LOST 42 EVENTS]")
    assert (lost.kind, lost.cpu, lost.count) == (LOST, 1, 42)
    other = parse_line("       mkfs.ext4-664   [000]     4.776026: writeback_queue:      bdi 254:0: "
                       "sb_dev 0:0 nr_pages=1105")
    assert other.kind == OTHER


@pytest.mark.parametrize("line, reason", [
    ("bash-1 [000] ..... 1.000000: kmem_cache_alloc: call_site=x bytes_alloc=3", "no ptr= field"),
    ("bash-1 [000] ..... 1.000000: kfree: call_site=x ptr=zz", "bad value"),
    ("bash-1 [000] ..... 1.000000: cgroup_mkdir: root=4 id=1 level=1", "no path= field"),
    ("this is not a trace", "not an ftrace event line"),
])
def test_malformed_lines_say_why(line, reason):
    with pytest.raises(Unparsed, match=reason):
        parse_line(line)


def test_tracefile_counts_bad_lines_with_their_numbers(tmp_path):
    lines = ["# tracer: nop", LINUX_6_18["alloc"], "garbage here", LINUX_6_18["free"],
             "bash-1 [000] ..... 1.000000: kfree: call_site=x ptr=zz"]
    path = tmp_path / "t.txt.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    trace = TraceFile(path)
    got = [(n, ev.kind) for n, ev in trace.events()]
    assert got == [(2, ALLOC), (4, FREE)]
    assert (trace.unparsed, trace.first_unparsed) == (2, [3, 5])
    with pytest.raises(TraceError, match=r"t\.txt\.gz:3: not an ftrace event line"):
        list(TraceFile(path, strict=True).events())


def test_lines_without_timestamps_get_one_microsecond_each(tmp_path):
    path = tmp_path / "bare.txt"
    path.write_text(LINUX_6_18_NO_CONTEXT + "\n" + LINUX_6_18_NO_CONTEXT + "\n")
    trace = TraceFile(path)
    assert [ev.t_ns for _, ev in trace.events()] == [1000, 2000]
    assert trace.timestamps is False
