"""The kernel this runs on, checked against what the model says (cgroup v1 memory).

objcg (Linux 5.9+) says: objects that outlive their cgroup stay charged to the
parent after rmdir, and freeing them later uncharges the parent.  This machine's
kernel is such a kernel: a child cgroup creates files (dentries and inodes,
__GFP_ACCOUNT), is removed while the files live on, and the parent keeps the
charge until the files go.  Skipped where there is no writable cgroup v1 memory
controller; every cgroup and file it creates is removed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from slabpolicy.api.testing import Kit

MEMCG = Path("/sys/fs/cgroup/memory")
FILES = 5000


def kmem(cgroup: Path) -> int:
    return int((cgroup / "memory.kmem.usage_in_bytes").read_text())


@pytest.fixture
def cgroups(tmp_path):
    if os.geteuid() != 0 or not (MEMCG / "memory.kmem.usage_in_bytes").exists():
        pytest.skip("no cgroup v1 memory controller to write to")
    parent = MEMCG / f"slabpolicy-test-{uuid.uuid4().hex[:8]}"
    child = parent / "c"
    try:
        parent.mkdir()
        child.mkdir()
    except OSError as exc:
        if parent.exists():
            parent.rmdir()
        pytest.skip(f"cannot create a memory cgroup: {exc}")
    if (parent / "memory.use_hierarchy").read_text().strip() != "1":
        child.rmdir()
        parent.rmdir()
        pytest.skip("memory.use_hierarchy is off")
    try:
        yield parent, child
    finally:
        if child.exists():
            child.rmdir()
        parent.rmdir()


def test_objects_outliving_their_cgroup_stay_charged_to_the_parent_until_freed(cgroups, tmp_path):
    parent, child = cgroups
    files = tmp_path / "files"
    files.mkdir()
    # a process in the child creates the files, then exits: the child has no task
    subprocess.run([sys.executable, "-c",
                    "import os, sys\n"
                    f"open({str(child / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
                    f"for i in range({FILES}): open(os.path.join({str(files)!r}, str(i)), 'w').close()\n"],
                   check=True)
    charged = kmem(child)
    assert charged > FILES * 192            # at least a dentry per file
    assert kmem(parent) >= charged          # hierarchical
    child.rmdir()                           # the files, and their objects, live on
    after_rmdir = kmem(parent)
    assert after_rmdir >= 0.9 * charged     # re-parented, not dropped
    for f in files.iterdir():
        f.unlink()
    files.rmdir()                 # the now negative dentries go with their directory
    # inodes and dentries are freed after an RCU grace period, by softirq or, on a
    # loaded machine, by ksoftirqd competing with the load: up to a minute
    deadline = time.monotonic() + 60
    while kmem(parent) >= after_rmdir - 0.5 * charged and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kmem(parent) < after_rmdir - 0.5 * charged   # freeing them uncharged the parent

    # the model's objcg says the same, with exact counts (tests/test_objcg.py has more)
    k = Kit(cpus=2, policy="objcg")
    model_parent = k.memcg("p")
    model_child = k.memcg("c", model_parent)
    cache = k.cache(model_child, "dentry")
    objcg = k.objcg(model_child)
    objs = k.alloc(cache, n=FILES, objcg=objcg)
    model_charged = model_child.usage
    k.offline(model_child)
    assert model_child.state == "released" and model_parent.usage == model_charged
    k.free(cache, objs, objcg=objcg)
    assert model_parent.usage <= 1          # at most the page the stock holds
    k.assert_accounting()
