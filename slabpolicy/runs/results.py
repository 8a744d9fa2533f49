"""Result files: one JSON document per run, written whole or not at all.

A result is written to a temporary file in the same directory, flushed and
fsync'ed, then renamed over its final name, so that an interrupted run never
leaves a half-written result behind.

Each result file carries ``checksum``: the sha256 of its figures (the document
without the checksum, as canonical JSON).  A file whose figures were changed
after it was written no longer matches (:func:`checksum_status`): compare runs it
again instead of reusing it, and report warns about it.
"""
from __future__ import annotations

import hashlib
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


CHECKSUM = "checksum"


def checksum_of(doc: dict[str, Any]) -> str:
    """``sha256:HEX`` of ``doc``'s figures: every field but the checksum, as canonical
    JSON (sorted keys, no spaces), so that any change to a figure changes it."""
    figures = {k: v for k, v in doc.items() if k != CHECKSUM}
    text = json.dumps(figures, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write a result document with its checksum, atomically."""
    write_json_atomic(path, {**result, CHECKSUM: checksum_of(result)})


def checksum_status(doc: dict[str, Any]) -> str:
    """"ok", "missing" (a file written before results had checksums) or "mismatch"
    (a figure changed after the file was written)."""
    recorded = doc.get(CHECKSUM)
    if recorded is None:
        return "missing"
    return "ok" if recorded == checksum_of(doc) else "mismatch"
