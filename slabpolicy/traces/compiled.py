"""A trace parsed once, kept as fixed-size binary records for fast replays.

Parsing ftrace text costs more than simulating the events it holds, and a
comparison replays the same trace under every policy; so the first replay of
a trace file writes its events as 33-byte records (:data:`RECORD`) to a cache
file named by the sha256 of the trace's bytes, with a JSON side file holding
the strings (cache names, cgroup paths, marker texts) the records refer to by
number, and what the parse found (unparsed lines, timestamps).  Later replays
read the records in chunks with ``struct.iter_unpack``: memory stays bounded,
and no line is parsed twice.  Both files are written whole and renamed, so
worker processes compiling the same trace at once do no harm.

The cache lives in ``$SLABPOLICY_CACHE_DIR``, else ``$XDG_CACHE_HOME/slabpolicy``,
else ``~/.cache/slabpolicy``; if it cannot be written a temporary directory is
used for the one replay.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from typing import Iterator

from slabpolicy.traces.parser import ALLOC, ATTACH, FORK, FREE, LOST, MARK, MKDIR, RMDIR
from slabpolicy.traces.tracefile import TraceFile

#: t_ns, ptr (or cgroup root + 1), pid, a (cache/path/text id), b (target pid, lost
#: count), cpu, kind, irq, accounted (-1 unknown, 0, 1)
RECORD = struct.Struct("<qQiiiHBBb")
VERSION = 1
_CHUNK = RECORD.size * 4096


def cache_dir() -> str:
    base = os.environ.get("SLABPOLICY_CACHE_DIR")
    if base:
        return base
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(xdg, "slabpolicy")


def _digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _compile(trace: TraceFile, bin_path: str, json_path: str) -> None:
    strings: dict[str, int] = {}

    def sid(text: str | None) -> int:
        if text is None:
            return -1
        i = strings.get(text)
        if i is None:
            i = strings[text] = len(strings)
        return i

    pack = RECORD.pack
    d = os.path.dirname(bin_path)
    fd, tmp_bin = tempfile.mkstemp(dir=d, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            buf = []
            for _, ev in trace.events():
                kind = ev.kind
                acc = -1 if ev.accounted is None else int(ev.accounted)
                ptr = ev.ptr or 0
                a = b = 0
                if kind in (ALLOC, FREE):
                    a = sid(ev.cache)
                elif kind in (MKDIR, RMDIR, ATTACH):
                    ptr = 0 if ev.root is None else ev.root + 1
                    a = sid(ev.path)
                    b = ev.target or 0
                elif kind == FORK:
                    b = ev.target
                elif kind == MARK:
                    a = sid(ev.path)
                elif kind == LOST:
                    b = ev.count
                else:
                    continue                    # other events: nothing to replay
                buf.append(pack(ev.t_ns, ptr, ev.pid, a, b, ev.cpu, kind, ev.irq, acc))
                if len(buf) >= 4096:
                    out.write(b"".join(buf))
                    buf.clear()
            out.write(b"".join(buf))
        info = {"version": VERSION, "strings": list(strings), "unparsed": trace.unparsed,
                "first_unparsed": trace.first_unparsed, "timestamps": trace.timestamps}
        fd2, tmp_json = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd2, "w") as out:
            json.dump(info, out)
        os.replace(tmp_bin, bin_path)
        os.replace(tmp_json, json_path)
    finally:
        if os.path.exists(tmp_bin):
            os.unlink(tmp_bin)


class CompiledTrace:
    """The records of a trace and its string table, compiled on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._tmpdir = None
        key = f"{_digest(path)}.v{VERSION}"
        try:
            d = os.path.join(cache_dir(), "traces")
            os.makedirs(d, exist_ok=True)
            self._paths = (os.path.join(d, key + ".bin"), os.path.join(d, key + ".json"))
            if not all(os.path.exists(p) for p in self._paths):
                _compile(TraceFile(path), *self._paths)
        except OSError:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="slabpolicy-trace-")
            self._paths = (os.path.join(self._tmpdir.name, "t.bin"),
                           os.path.join(self._tmpdir.name, "t.json"))
            _compile(TraceFile(path), *self._paths)
        with open(self._paths[1]) as fh:
            info = json.load(fh)
        self.strings: list[str] = info["strings"]
        self.unparsed: int = info["unparsed"]
        self.first_unparsed: list[int] = info["first_unparsed"]
        self.timestamps: bool = info["timestamps"]

    def records(self) -> Iterator[tuple]:
        """(t_ns, ptr, pid, a, b, cpu, kind, irq, accounted) per event, in order."""
        unpack = RECORD.iter_unpack
        try:
            with open(self._paths[0], "rb") as fh:
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        break
                    yield from unpack(chunk)
        finally:
            if self._tmpdir is not None:
                self._tmpdir.cleanup()
