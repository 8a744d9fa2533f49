"""ftrace lines in Linux 6.18's ``cat trace`` format, for tests that build small traces."""
from __future__ import annotations


def _prefix(t_us: int, pid: int, cpu: int, ctx: str) -> str:
    task = "<idle>" if pid == 0 else "bash"
    return f"{task:>16}-{pid:<7} [{cpu:03d}] ..{ctx}..  {t_us // 10**6:5d}.{t_us % 10**6:06d}: "


def alloc(t_us, ptr, cache="dentry", size=192, pid=100, cpu=0, ctx=".", accounted="true"):
    return (_prefix(t_us, pid, cpu, ctx) + f"kmem_cache_alloc: call_site=__d_alloc+0x2d/0x230 "
            f"ptr={ptr:016x} name={cache} bytes_req={size} bytes_alloc={size} "
            f"gfp_flags=GFP_KERNEL node=-1 accounted={accounted}")


def free(t_us, ptr, cache="dentry", pid=100, cpu=0, ctx="."):
    return (_prefix(t_us, pid, cpu, ctx)
            + f"kmem_cache_free: call_site=__d_free+0x2d/0x230 ptr={ptr:016x} name={cache}")


def kfree(t_us, ptr, pid=100, ctx="."):
    return _prefix(t_us, pid, 0, ctx) + f"kfree: call_site=x+0x1/0x2 ptr={ptr:016x}"


def kmalloc(t_us, ptr, size, pid=100):
    return (_prefix(t_us, pid, 0, ".") + f"kmalloc: call_site=x+0x1/0x2 ptr={ptr:016x} "
            f"bytes_req={size} bytes_alloc={size} gfp_flags=GFP_KERNEL node=-1 accounted=false")


def mkdir(t_us, path, root=4):
    return _prefix(t_us, 1, 0, ".") + f"cgroup_mkdir: root={root} id=9 level=1 path={path}"


def rmdir(t_us, path, root=4):
    return _prefix(t_us, 1, 0, ".") + f"cgroup_rmdir: root={root} id=9 level=1 path={path}"


def attach(t_us, path, pid, root=4):
    return (_prefix(t_us, pid, 0, ".") + f"cgroup_attach_task: dst_root={root} dst_id=9 "
            f"dst_level=1 dst_path={path} pid={pid} comm=sh")


def fork(t_us, parent, child):
    return (_prefix(t_us, parent, 0, ".")
            + f"sched_process_fork: comm=sh pid={parent} child_comm=sh child_pid={child}")


def marker(t_us, text):
    return _prefix(t_us, 1, 0, ".") + f"tracing_mark_write: {text}"
