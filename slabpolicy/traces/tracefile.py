"""Opening a trace and streaming its events, with line numbers.

A trace is either plain ftrace text (``cat trace``, ``trace_pipe``, ``trace-cmd
report``), gzip-compressed or not, or a file written by ``slabpolicy record``:
gzip text whose first line is :data:`MAGIC` and whose second is ``# meta:``
followed by one JSON object (kernel, cpus, page size, caches, cgroups, the
counters the kernel reported), then ftrace text.  Either way the file is read
line by line, never whole: memory does not grow with its length.

A line that cannot be read is counted and its number kept (the first
:data:`KEEP_LINES`); with ``strict`` the first one stops the read with a
:class:`TraceError` naming file and line.  A trace without timestamps (read
with ``options/context-info`` off) gets one microsecond per line, and says so.
"""
from __future__ import annotations

import gzip
import io
import json
import os
from typing import Iterator

from slabpolicy.errors import SlabpolicyError
from slabpolicy.traces.parser import Event, Unparsed, parse_line

MAGIC = "# slabpolicy-trace 1"
META_PREFIX = "# meta: "
KEEP_LINES = 10
#: the time given to each line of a trace printed without timestamps
NO_TIMESTAMP_STEP_NS = 1000


class TraceError(SlabpolicyError):
    """A trace or task map that cannot be read; the message names file and line."""

    exit_code = 2


def _open_text(path: str) -> io.TextIOBase:
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except OSError as e:
        raise TraceError(f"{path}: cannot read the trace: {e.strerror or e}") from None
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)


class TraceFile:
    """One trace file: its metadata (None for plain ftrace text) and its events.

    ``events()`` may be called more than once; each call reads the file again.
    After a full read, ``unparsed`` and ``first_unparsed`` tell what could not
    be read, and ``timestamps`` whether the lines had their own.
    """

    def __init__(self, path: str | os.PathLike[str], strict: bool = False) -> None:
        self.path = os.fspath(path)
        self.strict = strict
        self.meta: dict | None = None
        self.unparsed = 0
        self.first_unparsed: list[int] = []
        self.timestamps = True
        self.lines = 0
        with _open_text(self.path) as fh:
            try:
                first = fh.readline()
                if first.rstrip("\n") == MAGIC:
                    self.meta = self._read_meta(fh.readline())
            except (OSError, EOFError) as e:
                raise TraceError(f"{self.path}: not a readable trace: {e}") from None
        page_size = (self.meta or {}).get("page_size", 4096)
        #: KMALLOC_MAX_CACHE_SIZE of SLUB: two pages
        self.kmalloc_max = 2 * page_size

    def _read_meta(self, line: str) -> dict:
        if not line.startswith(META_PREFIX):
            raise TraceError(f"{self.path}:2: a recorded trace needs its '# meta:' line here")
        try:
            meta = json.loads(line[len(META_PREFIX):])
        except json.JSONDecodeError as e:
            raise TraceError(f"{self.path}:2: the metadata is not valid JSON: {e.msg}") from None
        if not isinstance(meta, dict):
            raise TraceError(f"{self.path}:2: the metadata must be a JSON object")
        return meta

    def events(self) -> Iterator[tuple[int, Event]]:
        """(line number, event) for every event line, in file order."""
        self.unparsed = 0
        self.first_unparsed = []
        self.timestamps = True
        kmalloc_max = self.kmalloc_max
        lineno = 0
        with _open_text(self.path) as fh:
            try:
                for lineno, line in enumerate(fh, 1):
                    try:
                        event = parse_line(line.rstrip("\n"), kmalloc_max)
                    except Unparsed as e:
                        self._unparsed(lineno, str(e))
                        continue
                    if event is None:
                        continue
                    if event.t_ns is None:
                        self.timestamps = False
                        event.t_ns = lineno * NO_TIMESTAMP_STEP_NS
                    yield lineno, event
            except (OSError, EOFError) as e:   # a truncated gzip stream, say
                raise TraceError(f"{self.path}:{lineno + 1}: cannot read on: {e}") from None
        self.lines = lineno

    def _unparsed(self, lineno: int, reason: str) -> None:
        if self.strict:
            raise TraceError(f"{self.path}:{lineno}: {reason}")
        self.unparsed += 1
        if len(self.first_unparsed) < KEEP_LINES:
            self.first_unparsed.append(lineno)


def read_task_map(path: str | os.PathLike[str]) -> dict[int, str]:
    """A task map: ``PID<TAB>CGROUP`` per line (``#`` comments and blank lines allowed)."""
    path = os.fspath(path)
    tasks: dict[int, str] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                pid, _, cgroup = line.partition("\t")
                if not pid.isdigit() or not cgroup.startswith("/"):
                    raise TraceError(f"{path}:{lineno}: expected PID<TAB>/cgroup/path, "
                                     f"got {line!r}")
                tasks[int(pid)] = cgroup.rstrip("/") or "/"
    except FileNotFoundError:
        raise TraceError(f"{path}: no such task map") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TraceError(f"{path}: cannot read the task map: {e}") from None
    return tasks
