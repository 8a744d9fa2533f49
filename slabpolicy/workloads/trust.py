"""Workload files are data: the plugin code a workload names runs only if the user says so.

A workload's ``plugins:`` lists Python files to import, and importing a file
runs it.  A workload that looks like ``default.yaml`` must not run code because
someone ran ``slabpolicy validate`` on it, so :func:`trusted_plugins` lets a
workload's plugin through only when

* the user passed ``--allow-workload-plugins``, or
* the user named the same file with ``--plugin`` (so they chose to run it), or
* the file is the module of a plugin already installed by entry point (installed
  code runs anyway);

and otherwise refuses with one ``FILE:LINE: plugins[i]: ...`` line per plugin
saying what the file asks to load and how to allow it (exit status 2).
"""
from __future__ import annotations

import importlib.util
import os
from typing import Iterable

from slabpolicy.errors import WorkloadError

ALLOW_FLAG = "--allow-workload-plugins"


def _installed_plugin_files() -> set[str]:
    """The real paths of the modules of installed entry-point plugins (none imported)."""
    from slabpolicy.api.plugin_manager import entry_points
    found = set()
    for plugin in entry_points():
        try:
            spec = importlib.util.find_spec(plugin.entry_point.module)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            found.add(os.path.realpath(spec.origin))
    return found


def trusted_plugins(workload, allow: bool, given: Iterable[str | os.PathLike[str]] = ()
                    ) -> tuple[str, ...]:
    """The workload's plugin files to load by path; a WorkloadError naming each one
    not allowed.  A file that is an installed entry point's module is allowed and
    left out (it is loaded as that entry point, unless autoloading is off)."""
    if allow or not workload.plugins:
        return tuple(workload.plugins)
    from slabpolicy.api.plugin_manager import autoload_enabled
    chosen = {os.path.realpath(os.fspath(p)) for p in given}
    installed: set[str] | None = None
    load, problems = [], []
    for i, path in enumerate(workload.plugins):
        real = os.path.realpath(path)
        if real in chosen:
            load.append(path)
            continue
        if installed is None:
            installed = _installed_plugin_files()
        if real in installed:
            if not autoload_enabled():
                load.append(path)
            continue
        problems.append(workload.problem(
            f"plugins[{i}]", f"the workload asks to load plugin code from {path}; a workload "
                             f"file is data and runs no code unless you pass {ALLOW_FLAG} (or "
                             f"name the file with --plugin, or install it as an entry point)"))
    if problems:
        raise WorkloadError(problems)
    return tuple(load)
