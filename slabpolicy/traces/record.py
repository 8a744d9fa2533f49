"""``slabpolicy record``: a real kernel's slab traffic per memcg, with what the kernel measured.

On a Linux host, as root, with tracefs (mounted here if it is not, and
unmounted after):

1. the tracing state found is saved (``tracing_on``, ``buffer_size_kb``, the
   enable flag of each event touched) and restored at the end, whatever happens
   (the ring buffer is cleared first: its old content cannot be put back);
2. the kmem events (``kmem_cache_alloc``, ``kmem_cache_free``, ``kmalloc``,
   ``kfree``), the cgroup life-cycle events (``cgroup_mkdir``,
   ``cgroup_rmdir``, ``cgroup_attach_task``) and ``sched_process_fork`` are
   enabled, and ``/proc/*/cgroup`` is read to map every task to its memcg;
3. ``trace_pipe`` is streamed to a temporary file while the command runs (in a
   fresh memcg with ``--cgroup``) or ``--duration`` passes;
4. every ``--poll`` interval the kernel's kmem counter of each memcg under the
   watched subtree (v1 ``memory.kmem.usage_in_bytes``; v2 ``memory.stat``'s
   ``slab``) is written *into the trace* as a ``trace_marker`` line
   (``slabpolicy-kmem path=/job kmem_bytes=12288 when=poll``), so the replay
   knows the instant of each reading; the job memcg is read once more right
   before its rmdir (``when=rmdir``) and its parent right after
   (``when=after-rmdir``), and every memcg at the end (``when=end``);
5. the file is written whole: the magic line, one ``# meta:`` JSON line
   (kernel, cpus, page size, boot id, cgroup version, the memory hierarchy id,
   the task map, ``/proc/slabinfo`` at start and end, the
   ``/sys/kernel/slab`` attributes of every traced cache, the counters read),
   then the trace, gzip-compressed.  With ``--cgroup`` or ``--watch`` only the
   lines of the watched subtree are kept (:func:`keep_watched`): its tasks'
   events, the frees of the objects they allocated (in whatever context),
   its cgroup events and the markers; ``--all-tasks`` keeps every line.

Memcgs this command creates are removed; so is a tracefs mount it made.
"""
from __future__ import annotations

import datetime
import glob
import gzip
import json
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from slabpolicy.errors import SlabpolicyError
from slabpolicy.traces.parser import ALLOC, ATTACH, FORK, FREE, MARK, MKDIR, RMDIR, Unparsed, parse_line
from slabpolicy.traces.tracefile import MAGIC, META_PREFIX, TraceFile

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
CGROUP_V1_MEMORY = "/sys/fs/cgroup/memory"
CGROUP_ROOT = "/sys/fs/cgroup"
EVENTS = ("kmem/kmem_cache_alloc", "kmem/kmem_cache_free", "kmem/kmalloc", "kmem/kfree",
          "cgroup/cgroup_mkdir", "cgroup/cgroup_rmdir", "cgroup/cgroup_attach_task",
          "sched/sched_process_fork")
SLAB_ATTRS = ("object_size", "slab_size", "order", "objs_per_slab", "cpu_partial",
              "min_partial", "slabs", "objects", "partial", "align", "reclaim_account")
BUFFER_KB = 16384


class RecordError(SlabpolicyError):
    """What stops a recording (no root, no tracefs, not Linux...), in one line."""

    exit_code = 1


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def check_host() -> None:
    """Raise RecordError naming what is missing for a recording on this host."""
    if not sys.platform.startswith("linux"):
        raise RecordError(f"record needs a Linux host with ftrace; this is {platform.system()}")
    if os.geteuid() != 0:
        raise RecordError("record needs root: enabling kernel trace events and creating "
                          "memory cgroups are root's (run it with sudo)")


class Tracefs:
    """The tracefs directory, mounted if needed, and the state to put back."""

    def __init__(self) -> None:
        self.mounted_here = False
        if os.path.isdir(os.path.join(TRACEFS, "events")):
            self.root = TRACEFS
        elif os.path.isdir(os.path.join(DEBUGFS_TRACING, "events")):
            self.root = DEBUGFS_TRACING
        else:
            result = subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS],
                                    capture_output=True, text=True)
            if result.returncode != 0 or not os.path.isdir(os.path.join(TRACEFS, "events")):
                why = (result.stderr or result.stdout).strip() or "no events directory"
                raise RecordError(f"record needs tracefs: 'mount -t tracefs nodev {TRACEFS}' "
                                  f"failed: {why}")
            self.root = TRACEFS
            self.mounted_here = True
        missing = [e for e in EVENTS if not os.path.exists(self.path(f"events/{e}/enable"))]
        if missing:
            self.unmount()
            raise RecordError(f"this kernel has no trace event {', '.join(missing)}")
        self.saved: dict[str, str] = {}

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def set(self, name: str, value: str) -> None:
        """Write ``value`` to a tracefs file, remembering what it held first."""
        if name not in self.saved:
            self.saved[name] = _read(self.path(name)).split()[0] if name != "trace" else ""
        _write(self.path(name), value)

    def restore(self) -> None:
        """Put back every value changed, tracing_on last."""
        for name, value in sorted(self.saved.items(), key=lambda kv: kv[0] == "tracing_on"):
            if name == "buffer_size_kb" and not value.isdigit():
                continue
            try:
                _write(self.path(name), value)
            except OSError:
                pass
        self.saved.clear()

    def unmount(self) -> None:
        if self.mounted_here:
            subprocess.run(["umount", TRACEFS], capture_output=True)
            self.mounted_here = False


class Memcgs:
    """The memory controller: v1 at /sys/fs/cgroup/memory or v2 at /sys/fs/cgroup."""

    def __init__(self) -> None:
        if os.path.exists(os.path.join(CGROUP_V1_MEMORY, "memory.kmem.usage_in_bytes")):
            self.version, self.mount = 1, CGROUP_V1_MEMORY
            self.hierarchy = self._v1_hierarchy()
        elif "memory" in _safe_read(os.path.join(CGROUP_ROOT, "cgroup.controllers")).split():
            self.version, self.mount, self.hierarchy = 2, CGROUP_ROOT, 0
        else:
            raise RecordError("record needs the memory cgroup controller (v1 mounted at "
                              f"{CGROUP_V1_MEMORY}, or v2 at {CGROUP_ROOT} with memory enabled)")
        self.created: list[str] = []

    @staticmethod
    def _v1_hierarchy() -> int | None:
        for line in _safe_read("/proc/cgroups").splitlines():
            parts = line.split()
            if parts and parts[0] == "memory":
                return int(parts[1])
        return None

    def dir(self, path: str) -> str:
        return os.path.join(self.mount, path.strip("/"))

    def kmem_bytes(self, path: str) -> int | None:
        """The kernel's kmem counter of a memcg: v1 kmem usage, v2 slab bytes; None if gone."""
        try:
            if self.version == 1:
                return int(_read(os.path.join(self.dir(path), "memory.kmem.usage_in_bytes")))
            stat = dict(line.split() for line in
                        _read(os.path.join(self.dir(path), "memory.stat")).splitlines())
            return int(stat.get("slab", 0))
        except (OSError, ValueError):
            return None

    def walk(self, top: str) -> list[str]:
        """Every memcg path at and under ``top`` ('/' is the root)."""
        base = self.dir(top)
        out = []
        for dirpath, _, _ in os.walk(base):
            rel = "/" + os.path.relpath(dirpath, self.mount).replace(os.sep, "/").strip("./")
            out.append(rel.rstrip("/") or "/")
        return out

    def create(self, path: str) -> None:
        """mkdir ``path`` and any missing parent, remembering what to remove."""
        parts = path.strip("/").split("/")
        try:
            for i in range(1, len(parts) + 1):
                sub = "/" + "/".join(parts[:i])
                if not os.path.isdir(self.dir(sub)):
                    os.mkdir(self.dir(sub))
                    self.created.append(sub)
            if self.version == 2:
                parent = os.path.dirname(self.dir(path))
                _write(os.path.join(parent, "cgroup.subtree_control"), "+memory")
        except OSError as e:
            raise RecordError(f"cannot create the memory cgroup {path}: "
                              f"{e.strerror or e}") from None

    def remove(self, path: str) -> None:
        try:
            os.rmdir(self.dir(path))
        except FileNotFoundError:
            pass
        if path in self.created:
            self.created.remove(path)

    def remove_created(self) -> None:
        for path in reversed(list(self.created)):
            for _ in range(50):              # tasks may take a moment to leave
                try:
                    self.remove(path)
                    break
                except OSError:
                    time.sleep(0.1)

    def task_map(self) -> dict[str, str]:
        """pid -> memory cgroup path of every task now (/proc/*/cgroup)."""
        want = "memory" if self.version == 1 else ""
        tasks = {}
        for entry in glob.glob("/proc/[0-9]*/cgroup"):
            pid = entry.split("/")[2]
            for line in _safe_read(entry).splitlines():
                hid, controllers, path = (line.split(":", 2) + ["", ""])[:3]
                if (self.version == 1 and want in controllers.split(",")) or \
                        (self.version == 2 and hid == "0"):
                    tasks[pid] = path.rstrip("/") or "/"
        return tasks


def _safe_read(path: str) -> str:
    try:
        return _read(path)
    except OSError:
        return ""


def slabinfo() -> dict[str, dict[str, int]]:
    """/proc/slabinfo, by cache name."""
    out = {}
    for line in _safe_read("/proc/slabinfo").splitlines()[2:]:
        f = line.split()
        if len(f) >= 16:
            out[f[0]] = {"active_objs": int(f[1]), "num_objs": int(f[2]), "objsize": int(f[3]),
                         "objperslab": int(f[4]), "pagesperslab": int(f[5]),
                         "active_slabs": int(f[13]), "num_slabs": int(f[14])}
    return out


def slab_attrs(name: str) -> dict[str, int] | None:
    """The /sys/kernel/slab attributes of a cache (None if it has no directory)."""
    d = os.path.join("/sys/kernel/slab", name)
    if not os.path.isdir(d):
        return None
    attrs = {}
    for attr in SLAB_ATTRS:
        text = _safe_read(os.path.join(d, attr)).split()
        if text and text[0].lstrip("-").isdigit():
            attrs[attr] = int(text[0])
    return attrs


class _Pipe(threading.Thread):
    """Streams trace_pipe into a file until told to stop and the pipe is empty."""

    def __init__(self, path: str, out) -> None:
        super().__init__(daemon=True)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.out = out
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while True:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                data = b""
                if ready:
                    try:
                        data = os.read(self.fd, 1 << 16)
                    except BlockingIOError:
                        data = b""
                if data:
                    self.out.write(data)
                elif self.stopping.is_set():
                    return
        finally:
            os.close(self.fd)


def _under(path: str, top: str) -> bool:
    return top == "/" or path == top or path.startswith(top + "/")


def keep_watched(raw: str, out, top: str, tasks: dict[str, str]) -> tuple[int, int]:
    """Copy to ``out`` the lines of ``raw`` that belong to the cgroup subtree ``top``:
    events of its tasks (followed through attach and fork), frees of the objects
    they allocated, cgroup events under ``top``, markers and unreadable lines.
    Returns (lines kept, lines dropped)."""
    pids = {int(pid) for pid, path in tasks.items() if _under(path, top)}
    objects: set[int] = set()
    kept = dropped = 0
    with open(raw, "rb") as fh:
        for raw_line in fh:
            line = raw_line.decode("utf-8", "replace").rstrip("\n")
            try:
                ev = parse_line(line)
            except Unparsed:
                ev = None
            keep = ev is None or ev.kind == MARK
            if ev is not None and not keep:
                kind = ev.kind
                if kind == ATTACH:
                    if _under(ev.path, top):
                        pids.add(ev.target)
                        keep = True
                    else:
                        keep = ev.target in pids
                        pids.discard(ev.target)
                elif kind == FORK:
                    keep = ev.pid in pids
                    if keep:
                        pids.add(ev.target)
                elif kind in (MKDIR, RMDIR):
                    keep = _under(ev.path, top)
                elif kind == ALLOC:
                    keep = ev.pid in pids
                    if keep:
                        objects.add(ev.ptr)
                    else:
                        objects.discard(ev.ptr)
                elif kind == FREE:
                    keep = ev.ptr in objects
                    objects.discard(ev.ptr)
                else:
                    keep = ev.pid in pids
            if keep:
                out.write(raw_line)
                kept += 1
            else:
                dropped += 1
    return kept, dropped


class Recorder:
    """One recording (see the module docstring)."""

    def __init__(self, out: str, command: list[str], duration_s: float | None,
                 cgroup: str | None, poll_s: float, watch: str | None,
                 all_tasks: bool = False) -> None:
        self.out = out
        self.command = command
        self.duration_s = duration_s
        self.cgroup = "/" + cgroup.strip("/") if cgroup else None
        self.poll_s = poll_s
        self.watch = watch or (("/" + self.cgroup.strip("/").split("/")[0]) if self.cgroup else "/")
        self.counters: dict[str, dict] = {}
        #: keep every line, not only the watched subtree's
        self.all_tasks = all_tasks or self.watch == "/"
        self.last: dict[str, int] = {}
        self.exit_status: int | None = None

    def marker(self, tfs: Tracefs, path: str, value: int, when: str) -> None:
        _write(tfs.path("trace_marker"), f"slabpolicy-kmem path={path} kmem_bytes={value} "
                                         f"when={when}\n")

    def poll(self, tfs: Tracefs, memcgs: Memcgs) -> None:
        """Read every watched memcg, note the ones that went (rmdir) with their last reading."""
        now = {}
        for path in memcgs.walk(self.watch):
            value = memcgs.kmem_bytes(path)
            if value is not None:
                now[path] = value
                self.marker(tfs, path, value, "poll")
        for path in set(self.last) - set(now):
            entry = self.counters.setdefault(path, {})
            entry.setdefault("at_rmdir", {"kmem_bytes": self.last[path], "exact": False})
            parent = path.rsplit("/", 1)[0] or "/"
            if parent in now and "parent_after_rmdir" not in entry:
                entry["parent_after_rmdir"] = {"path": parent, "kmem_bytes": now[parent]}
        self.last = now

    def run(self) -> None:
        check_host()
        memcgs = Memcgs()
        tfs = Tracefs()
        started = datetime.datetime.now(datetime.timezone.utc)
        meta: dict = {
            "kernel": platform.release(), "kernel_version": platform.version(),
            "arch": platform.machine(), "host": platform.node(), "cpus": os.cpu_count(),
            "page_size": os.sysconf("SC_PAGE_SIZE"),
            "boot_id": _safe_read("/proc/sys/kernel/random/boot_id").strip(),
            "cgroup_version": memcgs.version, "memory_hierarchy": memcgs.hierarchy,
            "command": self.command, "cgroup": self.cgroup, "watch": self.watch,
            "recorded_at": started.isoformat(timespec="seconds"),
        }
        tmp = tempfile.NamedTemporaryFile(prefix="slabpolicy-record-", suffix=".txt",
                                          delete=False)
        pipe = None
        try:
            meta["hash_ptr"] = "nohash-ptr" not in _safe_read(tfs.path("trace_options"))
            tfs.set("tracing_on", "0")
            tfs.set("buffer_size_kb", str(BUFFER_KB))
            for event in EVENTS:
                tfs.set(f"events/{event}/enable", "1")
            _write(tfs.path("trace"), "")
            meta["memcgs_at_start"] = memcgs.walk("/")
            meta["slabinfo_start"] = slabinfo()
            pipe = _Pipe(tfs.path("trace_pipe"), tmp)
            pipe.start()
            meta["tasks_at_start"] = memcgs.task_map()
            tfs.set("tracing_on", "1")
            if self.cgroup:
                memcgs.create(self.cgroup)      # traced: the replay sees its mkdir
            self.poll(tfs, memcgs)
            self._run_job(tfs, memcgs)
            for path, value in sorted(self.last.items()):
                if memcgs.kmem_bytes(path) is not None:
                    value = memcgs.kmem_bytes(path)
                    self.marker(tfs, path, value, "end")
                    self.counters.setdefault(path, {})["end"] = {"kmem_bytes": value}
            _write(tfs.path("tracing_on"), "0")
            meta["slabinfo_end"] = slabinfo()
        finally:
            if pipe is not None:
                pipe.stopping.set()
                pipe.join()
            tmp.close()
            tfs.restore()
            tfs.unmount()
            memcgs.remove_created()
        try:
            meta["counters"] = self.counters
            meta["exit_status"] = self.exit_status
            self._write_file(tmp.name, meta)
        finally:
            os.unlink(tmp.name)

    def _run_job(self, tfs: Tracefs, memcgs: Memcgs) -> None:
        deadline = None if self.duration_s is None else time.monotonic() + self.duration_s
        proc = None
        if self.command:
            procs = os.path.join(memcgs.dir(self.cgroup), "cgroup.procs") if self.cgroup else None

            def enter() -> None:
                if procs is not None:
                    _write(procs, str(os.getpid()))
            try:
                proc = subprocess.Popen(self.command, preexec_fn=enter)
            except OSError as e:
                raise RecordError(f"cannot run {self.command[0]}: {e.strerror or e}") from None
        elif deadline is None:
            deadline = time.monotonic() + 10.0
        while True:
            if proc is not None and proc.poll() is not None:
                self.exit_status = proc.returncode
                break
            if deadline is not None and time.monotonic() >= deadline:
                if proc is not None:
                    proc.terminate()
                    self.exit_status = proc.wait()
                break
            time.sleep(min(self.poll_s, 0.05))
            self._maybe_poll(tfs, memcgs)
        self.poll(tfs, memcgs)
        if self.cgroup:
            self._rmdir_job(tfs, memcgs)

    _last_poll = 0.0

    def _maybe_poll(self, tfs: Tracefs, memcgs: Memcgs) -> None:
        now = time.monotonic()
        if now - self._last_poll >= self.poll_s:
            self._last_poll = now
            self.poll(tfs, memcgs)

    def _rmdir_job(self, tfs: Tracefs, memcgs: Memcgs) -> None:
        """The job's memcg read right before its rmdir, its parent right after."""
        path = self.cgroup
        parent = path.rsplit("/", 1)[0] or "/"
        value = memcgs.kmem_bytes(path)
        self.marker(tfs, path, value, "rmdir")
        for _ in range(50):
            try:
                memcgs.remove(path)
                break
            except OSError:
                time.sleep(0.1)
        after = memcgs.kmem_bytes(parent)
        self.marker(tfs, parent, after, "after-rmdir")
        self.counters[path] = {"at_rmdir": {"kmem_bytes": value, "exact": True},
                               "parent_after_rmdir": {"path": parent, "kmem_bytes": after}}
        self.last.pop(path, None)

    def _write_file(self, raw: str, meta: dict) -> None:
        if not self.all_tasks:
            with tempfile.NamedTemporaryFile(prefix="slabpolicy-kept-", delete=False) as kept:
                meta["lines_kept"], meta["lines_dropped"] = keep_watched(
                    raw, kept, self.watch, meta["tasks_at_start"])
            os.replace(kept.name, raw)
        trace = TraceFile(raw)
        traced: dict[str, dict] = {}
        first = last = None
        lost = 0
        for _, ev in trace.events():
            if ev.kind == ALLOC and ev.cache is not None:
                entry = traced.setdefault(ev.cache, {"bytes_alloc": ev.size, "allocs": 0})
                entry["allocs"] += 1
            if ev.pid >= 0:
                first = ev.t_ns if first is None else first
                last = ev.t_ns
            lost += ev.count
        meta.update(traced_caches=traced, first_ns=first or 0, last_ns=last or 0,
                    lost_events=lost, unparsed_lines=trace.unparsed,
                    slab={name: slab_attrs(name) for name in traced if slab_attrs(name)})
        directory = os.path.dirname(os.path.abspath(self.out))
        fd, tmp_out = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as raw_out, gzip.GzipFile(fileobj=raw_out, mode="wb",
                                                               mtime=0) as gz, \
                    open(raw, "rb") as src:
                gz.write(f"{MAGIC}\n{META_PREFIX}{json.dumps(meta, sort_keys=True)}\n".encode())
                shutil.copyfileobj(src, gz)
            os.replace(tmp_out, self.out)
        finally:
            if os.path.exists(tmp_out):
                os.unlink(tmp_out)
