"""The bundled experiments: workload files shipped with slabpolicy, found by name.

``slabpolicy experiments`` lists them; any command that takes a workload file
also takes a bundled experiment's name (``container-churn`` or
``container-churn.yaml``) when no file of that name exists, so that they can be
run after a plain ``pip install`` without knowing where pip put them.
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml


def experiments_dirs() -> list[Path]:
    """Where bundled experiments may be, in order: package data, then the source tree.

    ``slabpolicy/experiments/`` exists when the package was installed with its
    package data; ``<repo>/experiments/`` when it runs from a checkout (or an
    editable install), next to the ``slabpolicy`` package directory.
    """
    package = Path(__file__).resolve().parent.parent
    return [package / "experiments", package.parent / "experiments"]


def bundled_experiments() -> dict[str, Path]:
    """Every bundled experiment by name (its file name without ``.yaml``), sorted;
    the first directory of :func:`experiments_dirs` that has a name wins."""
    found: dict[str, Path] = {}
    for directory in experiments_dirs():
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else ():
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def describe(path: Path) -> tuple[str, str]:
    """(workload name, description) of an experiment file, read without validating it."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return "", ""
    if not isinstance(doc, dict):
        return "", ""
    return str(doc.get("name", "")), str(doc.get("description", ""))


def resolve(path: str | os.PathLike[str]) -> str:
    """``path`` itself if it names a file (or anything that exists, or has a directory
    part); else the bundled experiment of that name, if there is one; else ``path``."""
    text = os.fspath(path)
    if os.path.exists(text) or os.sep in text:
        return text
    name = text.removesuffix(".yaml").removesuffix(".yml")
    bundled = bundled_experiments().get(name)
    return str(bundled) if bundled is not None else text
