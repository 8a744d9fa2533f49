"""The plugin manager factory and the policy registry.

:func:`make_plugin_manager` builds a fresh pluggy manager per call (nothing is
registered as a side effect of an import, so tests stay isolated): hook
specifications, then local plugin files (``--plugin PATH``, a workload's
``plugins:``), then every module of the ``slabpolicy`` entry-point group, the
bundled policies of ``plugins/`` included: they are found the way a third
party's are, with nothing privileged.

:func:`policy_registry` asks the loaded plugins once which policies they offer;
after that a policy is found by a dict lookup, and pluggy is never on the
simulation's fast path.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import PluginError
from .policy import PolicySpec

ENTRY_POINT_GROUP = "slabpolicy"
#: Set (to anything but "" or "0") to load no entry-point plugin, as pytest's
#: PYTEST_DISABLE_PLUGIN_AUTOLOAD does.
DISABLE_AUTOLOAD_ENV = "SLABPOLICY_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin (entry point) names never to load.
BLOCK_ENV = "SLABPOLICY_BLOCK_PLUGINS"


@dataclass(frozen=True)
class PolicyEntry:
    """A policy found in the loaded plugins, and where it came from."""

    spec: PolicySpec
    plugin: str       # the plugin's registered name
    source: str       # "bundled", "entry point (DIST VERSION)" or "file PATH"


def make_plugin_manager(plugin_paths: tuple[str | Path, ...] = (),
                        autoload: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the hook specs, local plugins and entry points."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in filter(None, (n.strip() for n in os.environ.get(BLOCK_ENV, "").split(","))):
        pm.set_blocked(name)
    for path in plugin_paths:
        module = _load_file(Path(path))
        _register(pm, module, f"file:{Path(path).resolve()}")
    if autoload is None:
        autoload = os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0")
    if autoload:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:   # an entry point that fails to import names itself
            raise PluginError(f"plugin entry point in group {ENTRY_POINT_GROUP!r} failed "
                              f"to load: {type(exc).__name__}: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r}: {exc}") from exc
    return pm


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginError(f"{path}: plugin file not found")
    name = f"slabpolicy_local_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PluginError(f"{path}: plugin failed to import: {type(exc).__name__}: {exc}") from exc
    sys.modules.setdefault(name, module)
    return module


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name}: {exc}") from exc
    except ValueError as exc:
        raise PluginError(f"plugin {name}: {exc}") from exc


def register_run_plugin(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register a policy object (or an observer) for one run, with a clean error."""
    _register(pm, plugin, name)


def plugin_source(pm: pluggy.PluginManager, plugin: object) -> str:
    """Where a registered plugin came from: bundled, an entry point, or a file."""
    name = pm.get_name(plugin) or ""
    if name.startswith("file:"):
        return f"file {name[5:]}"
    for plug, dist in pm.list_plugin_distinfo():
        if plug is plugin:
            if dist.project_name == "slabpolicy":
                return "bundled"
            return f"entry point ({dist.project_name} {dist.version})"
    return "registered"


def policy_registry(pm: pluggy.PluginManager) -> dict[str, PolicyEntry]:
    """Every policy the loaded plugins offer, by name; a name offered twice is an error."""
    registry: dict[str, PolicyEntry] = {}
    for impl in pm.hook.slabpolicy_policies.get_hookimpls():
        plugin_name = impl.plugin_name
        try:
            specs = impl.function()
        except Exception as exc:
            raise PluginError(f"plugin {plugin_name}: slabpolicy_policies() raised "
                              f"{type(exc).__name__}: {exc}") from exc
        for spec in specs or ():
            if not isinstance(spec, PolicySpec):
                raise PluginError(f"plugin {plugin_name}: slabpolicy_policies() returned "
                                  f"{spec!r}, not a PolicySpec")
            if spec.name in registry:
                raise PluginError(f"plugin {plugin_name}: policy name {spec.name!r} is "
                                  f"already offered by {registry[spec.name].plugin}")
            registry[spec.name] = PolicyEntry(spec, plugin_name, plugin_source(pm, impl.plugin))
    return dict(sorted(registry.items()))
