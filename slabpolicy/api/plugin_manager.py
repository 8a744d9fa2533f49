"""The plugin manager factory and the policy registry.

:func:`make_plugin_manager` builds a fresh pluggy manager per call (nothing is
registered as a side effect of an import, so tests stay isolated): hook
specifications, then local plugins (``--plugin PATH``, a workload's
``plugins:``; a ``.py`` file or a package directory), then every module of the
``slabpolicy`` entry-point group, the bundled policies of ``plugins/`` included:
they are found the way a third party's are, with nothing privileged.

Every way a plugin can be wrong ends in one :class:`~slabpolicy.errors.PluginError`
line that names the plugin (its entry point and distribution, or its file) and
what it did: it failed to import, implements a hook that does not exist or with
an argument the hook does not pass, defines a hook function without
``@hookimpl``, offers a policy name already taken, or needs another plugin API
version.  See ``docs/plugins.md``.

:func:`policy_registry` asks the loaded plugins once which policies they offer;
after that a policy is found by a dict lookup, and pluggy is never on the
simulation's fast path.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import sys
import traceback
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from slabpolicy import __version__
from slabpolicy.api import hookspecs
from slabpolicy.api.installed import declared_entry_points
from slabpolicy.errors import PluginError
from slabpolicy.interrupts import from_user
from slabpolicy.api.policy import PLUGIN_API_VERSION, PolicySpec

ENTRY_POINT_GROUP = "slabpolicy"
#: Set (to anything but "" or "0") to load no entry-point plugin, as pytest's
#: PYTEST_DISABLE_PLUGIN_AUTOLOAD does.  The bundled policies are entry points
#: too, so they are gone as well unless given with ``--plugin``.
DISABLE_AUTOLOAD_ENV = "SLABPOLICY_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin (entry point) names never to load, as pytest's ``-p no:NAME``.
BLOCK_ENV = "SLABPOLICY_BLOCK_PLUGINS"
#: The prefix of every hook name.
HOOK_PREFIX = "slabpolicy_"
#: The distribution whose entry points are the bundled policies.
BUNDLED_DIST = "slabpolicy"

# Where each entry-point plugin of a manager came from: {plugin name: (dist, version)}.
_SOURCES: weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, tuple[str, str]]] = \
    weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PolicyEntry:
    """A policy found in the loaded plugins, and where it came from."""

    spec: PolicySpec
    plugin: str       # the plugin's registered name
    source: str       # "bundled", "entry point (DIST VERSION)" or "file PATH"


def make_plugin_manager(plugin_paths: tuple[str | Path, ...] = (),
                        autoload: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the hook specs, local plugins and entry points.

    ``autoload`` None follows ``SLABPOLICY_DISABLE_PLUGIN_AUTOLOAD``; entry points
    named in ``SLABPOLICY_BLOCK_PLUGINS`` are never loaded.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    _SOURCES[pm] = {}
    for name in blocked_names():
        pm.set_blocked(name)
    seen: set[Path] = set()
    for path in plugin_paths:
        resolved = Path(path).resolve()
        if resolved in seen:          # given twice (--plugin and the workload): once
            continue
        seen.add(resolved)
        module = _load_file(Path(path))
        _register(pm, module, f"file:{resolved}")
    if autoload is None:
        autoload = autoload_enabled()
    if autoload:
        _load_entry_points(pm)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:     # a safety net: check_hooks() comes first
        name = pm.get_name(exc.plugin) or repr(exc.plugin)
        raise PluginError(f"{describe_plugin(pm, name)}: {_one_line(str(exc))}") from exc
    return pm


def autoload_enabled() -> bool:
    """False when ``SLABPOLICY_DISABLE_PLUGIN_AUTOLOAD`` is set to anything but "" or "0"."""
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "") in ("", "0")


def blocked_names() -> list[str]:
    """The entry-point names ``SLABPOLICY_BLOCK_PLUGINS`` blocks."""
    return [n for n in (n.strip() for n in os.environ.get(BLOCK_ENV, "").split(",")) if n]


# -- local plugins ---------------------------------------------------------------------

def _load_file(path: Path) -> ModuleType:
    """Import a plugin file, or a package directory (one with ``__init__.py``).

    The module is executed afresh for every manager, so module-level state starts
    clean for each run.  Its name is unique to its path.
    """
    if path.is_dir():
        init = path / "__init__.py"
        if not init.is_file():
            raise PluginError(f"{path}: plugin directory has no __init__.py")
        location, search = init, [str(path)]
    elif path.is_file():
        location, search = path, None
    else:
        raise PluginError(f"{path}: plugin file not found")
    resolved = str(path.resolve())
    stem = re.sub(r"\W", "_", path.resolve().stem if search is None else path.resolve().name)
    name = f"slabpolicy_local_{stem}_{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, location,
                                                  submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module        # before executing it: relative imports need it
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:      # SystemExit, KeyboardInterrupt... from the plugin too
        if from_user(exc):
            raise
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise PluginError(f"{path}: plugin failed to import: {type(exc).__name__}: "
                          f"{_one_line(str(exc))}") from exc
    return module


# -- entry points ----------------------------------------------------------------------

def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class EntryPointPlugin:
    """An entry point of the ``slabpolicy`` group and the distribution declaring it."""

    entry_point: importlib.metadata.EntryPoint
    dist: str          # the distribution's name, as its metadata spells it
    version: str

    @property
    def name(self) -> str:
        return self.entry_point.name

    def describe(self) -> str:
        ep = self.entry_point
        return f"plugin {ep.name} (entry point {ep.name} = {ep.value} of {self.dist} {self.version})"


def entry_points() -> list[EntryPointPlugin]:
    """Every entry point of the ``slabpolicy`` group not blocked, with its distribution.

    A distribution seen twice on ``sys.path`` (an ``.egg-info`` next to the
    installed copy) counts once, the first, as importlib.metadata has it; two
    distributions declaring the same entry-point name is an error naming both.
    The scan itself is kept between calls while nothing installed can have
    changed (:mod:`slabpolicy.api.installed`).
    """
    found: dict[str, EntryPointPlugin] = {}
    blocked = set(blocked_names())
    for ep, dist, version in declared_entry_points(ENTRY_POINT_GROUP):
        if ep.name in blocked:
            continue
        plugin = EntryPointPlugin(ep, dist, version)
        if ep.name in found:
            other = found[ep.name]
            raise PluginError(
                f"plugin {ep.name}: entry point {ep.name!r} of group {ENTRY_POINT_GROUP!r} is "
                f"declared by {other.dist} {other.version} and by {plugin.dist} {plugin.version}; "
                f"uninstall one (or set {BLOCK_ENV}={ep.name} to load neither)")
        found[ep.name] = plugin
    return list(found.values())


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for found in entry_points():
        if pm.is_blocked(found.name) or pm.get_plugin(found.name) is not None:
            continue
        where = found.describe()
        try:
            plugin = found.entry_point.load()
        except BaseException as exc:  # SystemExit, KeyboardInterrupt... from the plugin too
            if from_user(exc):
                raise
            raise PluginError(f"{where} failed to import: {type(exc).__name__}: "
                              f"{_one_line(str(exc))}; set {BLOCK_ENV}={found.name} to skip it") from exc
        _SOURCES[pm][found.name] = (found.dist, found.version)
        _register(pm, plugin, found.name, where)


# -- registration and the hook checks --------------------------------------------------

@functools.cache
def _hook_arguments() -> dict[str, tuple[str, ...]]:
    return {name: tuple(inspect.signature(fn).parameters)
            for name, fn in vars(hookspecs).items()
            if name.startswith(HOOK_PREFIX) and callable(fn)
            and getattr(fn, f"{hookspecs.PROJECT}_spec", None) is not None}


def hook_arguments() -> dict[str, tuple[str, ...]]:
    """Every hook of the contract and the arguments it passes, in hookspecs.py's order."""
    return dict(_hook_arguments())


def _impl_arguments(owner: object, attr: str, function: object) -> list[str]:
    """The required arguments of a hook implementation, as pluggy matches them."""
    try:
        params = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []
    if _is_method(owner, attr) and inspect.isclass(owner) and params:
        params = params[1:]           # self, on a class not yet instantiated
    return [p.name for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]


def _is_method(owner: object, attr: str) -> bool:
    """Whether ``owner.attr`` is a plain method: it gets ``self`` (``owner`` a policy
    class or object, the function neither a staticmethod nor a classmethod)."""
    if isinstance(owner, ModuleType):
        return False
    cls = owner if inspect.isclass(owner) else type(owner)
    raw = inspect.getattr_static(cls, attr, None)
    return inspect.isfunction(raw)


def _misdeclared(owner: object, attr: str, function: object, spec: tuple[str, ...]) -> str | None:
    """What is wrong with a hook's parameters that pluggy would only show at run time:
    ``*args``/``**kwargs`` (pluggy passes arguments by name, so they receive nothing)
    or, on a policy class or object, a method without ``self``."""
    code_fn = inspect.unwrap(getattr(function, "__func__", function))
    try:
        params = list(inspect.signature(code_fn).parameters.values())
    except (TypeError, ValueError):
        return None
    method = _is_method(owner, attr)
    shown = f"{attr}({', '.join(str(p) for p in params)})"
    wanted = f"def {attr}({', '.join((('self',) if method else ()) + spec)})"
    star = [str(p) for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if star:
        return (f"{shown} takes {' and '.join(star)}, which pluggy leaves empty: it passes a "
                f"hook's arguments by name; name the ones you use, as in {wanted}")
    if method and (not params or params[0].name in spec):
        return (f"{shown} has no self: a hook on a policy class is a method, called on "
                f"the policy object; write {wanted}")
    return None


def _at(where: str, function: object) -> str:
    """``where: FILE:LINE`` of a hook function's ``def`` (``plugin FILE:LINE`` for a file plugin)."""
    code = getattr(inspect.unwrap(getattr(function, "__func__", function)), "__code__", None)
    if code is None:
        return where
    return _at_line(where, code.co_filename, _def_line(code))


def _def_line(code) -> int:
    """The line of the ``def`` itself, below any decorator (``co_firstlineno`` is the
    first decorator's)."""
    try:
        lines, start = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return code.co_firstlineno
    for offset, text in enumerate(lines):
        if text.lstrip().startswith(("def ", "async def ")):
            return start + offset
    return code.co_firstlineno


def _at_line(where: str, filename: str, line: int) -> str:
    """``where`` followed by ``FILE:LINE``, the file written once if ``where`` names it."""
    if where.startswith("plugin ") and os.path.realpath(where[7:]) == os.path.realpath(filename):
        return f"{where}:{line}"
    return f"{where}: {filename}:{line}"


# -- where in a plugin an exception came from ------------------------------------------

def _raised_at(exc: BaseException, filename: str) -> int | None:
    """The line of the innermost frame of ``exc``'s traceback that runs in ``filename``."""
    target = os.path.realpath(filename)
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if os.path.realpath(frame.f_code.co_filename) == target:
            line = lineno
    return line


def build_policy(entry: PolicyEntry, options: dict, label: str) -> object:
    """``entry.spec.factory(options)``: the policy object of one run.

    A factory that raises is a :class:`PluginError` naming the policy, the plugin
    file and the line that raised (the factory's own ``def`` if the exception
    came from deeper).
    """
    factory = entry.spec.factory
    try:
        return factory(dict(options))
    except BaseException as exc:      # SystemExit, KeyboardInterrupt... from the plugin too
        if from_user(exc):
            raise
        module = sys.modules.get(getattr(factory, "__module__", ""), None)
        filename = getattr(module, "__file__", None)
        where = f"policy {label} ({entry.plugin})"
        if filename:
            code = getattr(getattr(factory, "__init__", factory), "__code__", None)
            line = _raised_at(exc, filename) or (code.co_firstlineno if code else 0)
            where = f"policy {label} ({filename}:{line})"
        raise PluginError(f"{where}: building it raised {type(exc).__name__}: "
                          f"{_one_line(str(exc))}") from exc


def check_hooks(pm: pluggy.PluginManager, plugin: object, where: str) -> None:
    """Check every ``slabpolicy_*`` attribute of ``plugin`` (a module, a policy object
    or a policy class) against the contract, before pluggy sees it.

    Raises :class:`PluginError` for a hook that does not exist (with a did-you-mean),
    an argument the hook does not pass, ``*args``/``**kwargs``, a method without
    ``self``, or a hook function not marked ``@hookimpl`` (pluggy would silently
    never call it); each names the line of the ``def``.
    """
    hooks = _hook_routines(plugin)
    key, kind = _checked_as(plugin)
    functions = tuple((attr, getattr(f, "__func__", f)) for attr, f in hooks)
    passed = _CHECKED.setdefault(key, {})
    if passed.get(kind) == functions:
        return
    specs = hook_arguments()
    for attr, function in hooks:
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            if attr in specs and getattr(function, f"{hookspecs.PROJECT}_spec", None) is None:
                raise PluginError(f"{_at(where, function)}: {attr}() is not marked "
                                  f"@hookimpl, so slabpolicy would never call it; decorate it "
                                  f"with @slabpolicy.hookimpl")
            continue
        if attr not in specs:
            if opts.get("optionalhook"):
                continue
            # compared without the common prefix, which would make every name close
            close = difflib.get_close_matches(attr[len(HOOK_PREFIX):],
                                              [h[len(HOOK_PREFIX):] for h in specs], n=1)
            hint = f"; did you mean {HOOK_PREFIX}{close[0]}?" if close else ""
            raise PluginError(f"{_at(where, function)}: {attr}() is not a slabpolicy "
                              f"hook{hint} (the hooks are in slabpolicy/api/hookspecs.py and "
                              f"docs/plugins.md)")
        problem = _misdeclared(plugin, attr, function, specs[attr])
        if problem:
            raise PluginError(f"{_at(where, function)}: {problem}")
        args = _impl_arguments(plugin, attr, function)
        extra = [a for a in args if a not in specs[attr]]
        if extra:
            what = "argument" if len(extra) == 1 else "arguments"
            raise PluginError(f"{_at(where, function)}: {attr}({', '.join(args)}) takes "
                              f"{what} {', '.join(map(repr, extra))} that the hook does not pass; "
                              f"the hook is def {attr}({', '.join(specs[attr])})")
    passed[kind] = functions


def _hook_routines(plugin: object) -> list[tuple[str, object]]:
    """``plugin``'s ``slabpolicy_*`` attributes that are routines, by name."""
    hooks = []
    for attr in dir(plugin):
        if not attr.startswith(HOOK_PREFIX):
            continue
        try:
            function = getattr(plugin, attr)
        except Exception:
            continue
        if inspect.isroutine(function):
            hooks.append((attr, function))
    return hooks


#: What check_hooks() passed, so that the same plugin is not inspected again at each
#: run (inspect.signature() of every hook: 1-2 ms a run): a module or a class (for a
#: policy object, its class) -> {what was checked: its hook functions}.  A module or
#: class whose hooks were added or replaced since is checked again; a file plugin,
#: executed afresh for every run, is a new module each time.
_CHECKED: weakref.WeakKeyDictionary[object, dict[str, tuple]] = weakref.WeakKeyDictionary()


def _checked_as(plugin: object) -> tuple[object, str]:
    """Where ``plugin``'s check is recorded in _CHECKED: the key and what it is."""
    if isinstance(plugin, ModuleType):
        return plugin, "module"
    if inspect.isclass(plugin):
        return plugin, "class"
    return type(plugin), "object"


def _register(pm: pluggy.PluginManager, plugin: object, name: str, where: str | None = None) -> None:
    where = where or describe_plugin(pm, name)
    check_hooks(pm, plugin, where)
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{where}: {_one_line(str(exc))}") from exc
    except ValueError as exc:
        raise PluginError(f"{where}: {_one_line(str(exc))}") from exc


def register_run_plugin(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register a policy object (or an observer) for one run, with a clean error.

    The object's hooks are checked as a module's are: an unknown ``slabpolicy_*``
    method or a wrong signature is an error, not a hook silently never called.
    """
    _register(pm, plugin, name)


def describe_plugin(pm: pluggy.PluginManager, name: str) -> str:
    """How an error names a registered plugin: ``plugin NAME (its source)``."""
    if name.startswith("file:"):
        return f"plugin {name[5:]}"
    if name.startswith("policy:"):
        return f"policy {name[7:]}"
    dist = _SOURCES.get(pm, {}).get(name)
    if dist is not None:
        return f"plugin {name} (entry point of {dist[0]} {dist[1]})"
    return f"plugin {name}"


def plugin_source(pm: pluggy.PluginManager, plugin: object) -> str:
    """Where a registered plugin came from: bundled, an entry point, or a file."""
    name = pm.get_name(plugin) or ""
    if name.startswith("file:"):
        return f"file {name[5:]}"
    dist = _SOURCES.get(pm, {}).get(name)
    if dist is None:
        for plug, facade in pm.list_plugin_distinfo():   # loaded by pluggy itself
            if plug is plugin:
                dist = (facade.project_name, facade.version)
    if dist is None:
        return "registered"
    if _normalize(dist[0]) == BUNDLED_DIST:
        return "bundled"
    return f"entry point ({dist[0]} {dist[1]})"


def policy_registry(pm: pluggy.PluginManager) -> dict[str, PolicyEntry]:
    """Every policy the loaded plugins offer, by name.

    An error (one line naming the plugin) for: ``slabpolicy_policies()`` raising or
    returning something not a :class:`PolicySpec`, a name offered twice, a plugin
    API version other than this slabpolicy's, or a policy class whose hooks break
    the contract.
    """
    registry: dict[str, PolicyEntry] = {}
    for impl in pm.hook.slabpolicy_policies.get_hookimpls():     # in registration order
        plugin_name = impl.plugin_name
        where = describe_plugin(pm, plugin_name)
        try:
            specs = impl.function()
        except BaseException as exc:  # SystemExit, KeyboardInterrupt... from the plugin too
            if from_user(exc):
                raise
            # the line in the plugin that raised: a bad Option default, say
            filename = impl.function.__code__.co_filename
            line = _raised_at(exc, filename) or impl.function.__code__.co_firstlineno
            raise PluginError(f"{_at_line(where, filename, line)}: slabpolicy_policies() raised "
                              f"{type(exc).__name__}: {_one_line(str(exc))}") from exc
        for spec in specs or ():
            if not isinstance(spec, PolicySpec):
                raise PluginError(f"{where}: slabpolicy_policies() returned "
                                  f"{spec!r}, not a PolicySpec")
            if spec.api_version != PLUGIN_API_VERSION:
                raise PluginError(f"{where}: policy {spec.name!r} needs plugin API version "
                                  f"{spec.api_version}, but slabpolicy {__version__} provides "
                                  f"plugin API version {PLUGIN_API_VERSION}")
            if spec.name in registry:
                first = registry[spec.name]
                raise PluginError(f"policy name {spec.name!r} is offered twice: by "
                                  f"{describe_plugin(pm, first.plugin)} and by {where}; "
                                  f"rename one, or leave one out")
            if not callable(spec.factory):
                raise PluginError(f"{where}: policy {spec.name!r}: factory {spec.factory!r} "
                                  f"is not callable")
            if inspect.isclass(spec.factory):
                check_hooks(pm, spec.factory, f"{where}: policy {spec.name!r} "
                                              f"({spec.factory.__qualname__})")
            registry[spec.name] = PolicyEntry(spec, plugin_name, plugin_source(pm, impl.plugin))
    return dict(sorted(registry.items()))


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())
