"""One compare at a time per results directory: a lock file, held while it runs.

``DIR/.lock`` is locked with flock(2) for as long as a compare writes ``DIR``; a
second compare into the same directory refuses at once, saying which process
holds it.  The kernel drops the lock when its holder ends however it ends (kill
-9 included), so a lock is never stale; the holder removes the file when it ends
normally, and a file left by a kill -9 holds the pid of the killed compare.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from slabpolicy.errors import SlabpolicyError

LOCK_FILE = ".lock"


class DirectoryBusy(SlabpolicyError):
    """Another process holds the results directory's lock."""

    exit_code = 1


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        return "another process"
    return f"process {text}" if text.isdigit() else "another process"


def _open_locked(directory: Path, path: Path) -> int:
    """An fd of ``path`` locked by this process, the file still at ``path``."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise SlabpolicyError(f"--out {directory}: cannot create {LOCK_FILE}: "
                                  f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DirectoryBusy(f"--out {directory}: {_holder(path)} is running a compare into "
                                f"this directory; wait for it to end, or give another --out") \
                from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)                  # the holder before us removed it as we opened it: again


@contextmanager
def hold_directory(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s lock for the block; DirectoryBusy if another process has it.

    The lock file is removed on the way out (while still locked, so that a
    compare waiting to lock it opens a fresh one); after a kill -9 it stays, free.
    """
    path = Path(directory) / LOCK_FILE
    fd = _open_locked(directory, path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def is_held(directory: Path) -> bool:
    """Is a compare running into ``directory`` now?"""
    try:
        fd = os.open(Path(directory) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
