"""Result files: one JSON document per run, written whole or not at all.

A result is written to a temporary file in the same directory, flushed and
fsync'ed, then renamed over its final name, so that an interrupted run never
leaves a half-written result behind.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable


def result_filename(result: dict[str, Any]) -> str:
    """``WORKLOAD--LABEL--seedN.json``, with anything unsafe in a name replaced."""
    def safe(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", text)
    return (f"{safe(result['workload']['name'])}--{safe(result['policy']['label'])}"
            f"--seed{result['seed']}.json")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path`` atomically (write, fsync, rename)."""
    write_atomic(path, lambda f: (json.dump(doc, f, indent=1), f.write("\n")))


def write_atomic(path: Path, write: Callable[[IO[Any]], Any], mode: str = "w") -> None:
    """Write ``path`` whole or not at all: ``write(file)`` fills a temporary file in
    the same directory, which is fsync'ed and renamed over ``path``; on any error
    the temporary file goes and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; a result is for sharing
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
