"""The compiled core: Cython compiles the modules of ``slabpolicy._core.COMPILED``.

Everything else about the package is in ``pyproject.toml``; this file only adds
the extension modules, and makes every way of not getting them quiet and safe:

* an editable install (``pip install -e``) compiles nothing: the checkout's
  ``.py`` files are what runs, so an edit is never shadowed by a stale module;
* ``SLABPOLICY_PURE_PYTHON=1`` at install compiles nothing;
* without Cython, or when the C compiler fails or is missing (``CC=false``
  simulates that), the build says so in one line and installs pure Python.

A successful build writes ``slabpolicy/_compiled.json``, the hash of every
source it compiled, next to the extension modules; ``slabpolicy._core`` uses
the compiled modules only where the sources still have those hashes.

The Cython directives keep Python's semantics: annotations are not taken as C
types (``annotation_typing=False``: a ``float`` annotation would otherwise be a
C double, an ``int`` one an exact-type check), division and modulo stay
Python's (``cdivision=False``, the default), integers stay Python's unbounded
ints, and an attribute of ``None`` where a ``.pxd`` declares a class is
Python's AttributeError, not a crash (``nonecheck=True``); C types come only
from the ``.pxd`` files next to the sources, where
each declaration is chosen to leave every result unchanged.
"""
from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
CORE = runpy.run_path(str(HERE / "slabpolicy" / "_core.py"))
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True,
              "cdivision": False, "nonecheck": True}


def _say(message: str) -> None:
    print(f"slabpolicy: {message}", file=sys.stderr)


class BuildCompiledCore(build_ext):
    """build_ext that compiles the core when it can, and otherwise builds nothing."""

    def run(self) -> None:
        reason = self._skip_reason()
        if reason is None:
            try:
                from Cython import __version__ as cython_version
                from Cython.Build import cythonize
            except ImportError:
                reason = "Cython is not installed"
        if reason is not None:
            _say(f"installing the pure-Python core: {reason}")
            self.extensions = []
            return
        self.parallel = self.parallel or os.cpu_count()
        try:
            c_sources = cythonize(self.extensions, compiler_directives=DIRECTIVES,
                                  build_dir=str(Path(self.build_temp) / "cython"),
                                  nthreads=os.cpu_count() or 1, quiet=True)
            # cythonize hands back new (distutils) Extensions: keep setuptools' finalized
            # ones, compiling the C files instead of the .py
            for ext, c_ext in zip(self.extensions, c_sources, strict=True):
                ext.sources = c_ext.sources
            super().run()
        except Exception as exc:    # Cython's or the C compiler's failure, or no compiler
            _say(f"installing the pure-Python core: the C build failed ({exc})")
            self._remove_outputs()
            return
        self._write_manifest(cython_version)
        _say(f"compiled core built with Cython {cython_version}")

    def _skip_reason(self) -> str | None:
        if self.editable_mode:
            return "an editable install runs the checkout's .py files"
        if os.environ.get(CORE["PURE_ENV"], "") not in ("", "0"):
            return f"{CORE['PURE_ENV']} is set"
        return None

    def _remove_outputs(self) -> None:
        """All or nothing: no extension module of a failed build is installed."""
        for ext in self.extensions:
            Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)

    def _write_manifest(self, cython_version: str) -> None:
        package_dir = Path(self.get_ext_fullpath("slabpolicy._compiled")).parent
        sources = {m: CORE["source_hash"](CORE["source_path"](m, HERE)) for m in CORE["COMPILED"]}
        (package_dir / CORE["MANIFEST"]).write_text(
            json.dumps({"cython": cython_version, "sources": sources}, indent=1) + "\n")

    def get_outputs(self) -> list[str]:
        outputs = super().get_outputs()
        if self.extensions:
            outputs.append(str(Path(self.get_ext_fullpath("slabpolicy._compiled")).parent
                               / CORE["MANIFEST"]))
        return outputs


if __name__ == "__main__":     # as pip's build backend runs it (tests import the class)
    setup(
        ext_modules=[Extension(m, [str(CORE["source_path"](m, Path(".")))])
                     for m in CORE["COMPILED"]],
        cmdclass={"build_ext": BuildCompiledCore},
    )
