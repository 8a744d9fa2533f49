"""Which core runs: the modules compiled by Cython at install time, or their Python source.

The event engine and the SLUB, memcg, objcg, lock, histogram, distribution and
draw code (:data:`COMPILED`) are plain Python files.  ``pip install .`` on a machine
with a C compiler also compiles each of them to an extension module next to its
``.py`` (``setup.py``), and writes :data:`MANIFEST`: the SHA-256 of every source
it compiled.  Python's import system prefers an extension module to a ``.py`` of
the same name, so :func:`install` (run by ``slabpolicy/__init__.py`` before
anything imports the kernel) puts a finder in front of it that imports the
``.py`` instead, for every module

* when ``SLABPOLICY_PURE_PYTHON`` is set (to anything but ``0`` or empty): the
  pure-Python core on demand, for a comparison or a bug hunt;
* whose ``.py`` (or ``.pxd``) is not the source its extension was compiled from
  (its hash is not the manifest's, or there is no manifest): an edited checkout
  never runs a stale compiled module.

The core is all or nothing: if one module would fall back, all do, so a run
never mixes the two.  :func:`describe` says which core runs (``slabpolicy
--version`` prints it).  This module is stdlib only: ``setup.py`` reads
:data:`COMPILED` from it before anything is installed.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: the modules compiled when a C compiler is present (the rest stays Python): every
#: module of slabpolicy/kernel, found here so that a new kernel module is compiled too,
#: and the distributions with the arithmetic of their draws
COMPILED = tuple(sorted(
    [f"slabpolicy.kernel.{p.stem}" for p in (PACKAGE_DIR / "kernel").glob("*.py")
     if p.stem != "__init__"]
    + ["slabpolicy.workloads.distributions", "slabpolicy.workloads.draws"]))
#: set (not to ``0``) to import the pure-Python core even where it is compiled
PURE_ENV = "SLABPOLICY_PURE_PYTHON"
#: written next to this file by the build: {"cython": version, "sources": {module: sha256}}
MANIFEST = "_compiled.json"

COMPILED_CORE = "compiled"
PURE_CORE = "pure Python"

#: why the pure-Python core runs where the compiled one exists (set by :func:`install`)
fallback_reason: str | None = None


def source_path(module: str, root: Path = PACKAGE_DIR.parent) -> Path:
    """The ``.py`` of a module of :data:`COMPILED` under ``root`` (the package's parent)."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def source_hash(path: Path) -> str:
    """The SHA-256 of a module's source as the manifest holds it: the ``.py`` and, if
    there is one, the ``.pxd`` of Cython declarations next to it."""
    digest = hashlib.sha256(path.read_bytes())
    pxd = path.with_suffix(".pxd")
    if pxd.exists():
        digest.update(pxd.read_bytes())
    return digest.hexdigest()


def extension_path(module: str) -> Path | None:
    """The compiled extension of a module next to its ``.py``, if there is one."""
    py = source_path(module)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = py.with_name(py.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def read_manifest() -> dict:
    """The build's manifest, or an empty one where nothing was compiled."""
    try:
        return json.loads((PACKAGE_DIR / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def _why_not_compiled() -> str | None:
    """Why the compiled core must not be used here, or None where it can be."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return f"{PURE_ENV} is set"
    built = [m for m in COMPILED if extension_path(m) is not None]
    if not built:
        return "not compiled"
    if len(built) < len(COMPILED):
        return f"only {len(built)} of {len(COMPILED)} modules are compiled"
    sources = read_manifest().get("sources", {})
    stale = [m for m in COMPILED
             if sources.get(m) != source_hash(source_path(m))]
    if stale:
        return f"the source of {stale[0]} changed since it was compiled"
    return None


class _SourceFinder:
    """A meta-path finder that imports the ``.py`` of the modules of :data:`COMPILED`."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(name, source_path(name))


def install() -> None:
    """Decide the core for this process, once, before the kernel is imported."""
    global fallback_reason
    if any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        return
    fallback_reason = _why_not_compiled()
    if fallback_reason is not None:
        sys.meta_path.insert(0, _SourceFinder())


def running() -> str:
    """:data:`COMPILED_CORE` or :data:`PURE_CORE`: what the imported kernel modules are."""
    import importlib
    compiled = [not str(getattr(importlib.import_module(m), "__file__", "")).endswith(".py")
                for m in COMPILED]
    return COMPILED_CORE if all(compiled) else PURE_CORE


def describe() -> str:
    """One line: which core runs, and why not the compiled one where it does not."""
    core = running()
    if core == COMPILED_CORE:
        return f"compiled core (Cython {read_manifest().get('cython', '?')})"
    if fallback_reason == "not compiled":
        return ("pure Python core (not compiled: an editable install, or no C compiler "
                "or Cython at install)")
    return f"pure Python core ({fallback_reason})"
