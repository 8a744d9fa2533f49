"""What a policy plugin declares: its name, version, options and factory.

A plugin returns :class:`PolicySpec` objects from ``slabpolicy_policies()``.  The
options are declared with types and defaults, so that a workload's
``policies[i].options`` are checked like any other field, with the file and line
of the mistake.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from slabpolicy.errors import PluginError
from slabpolicy.workloads.units import (UnitError, format_duration, format_size, parse_duration,
                                       parse_size)

#: The version of the plugin contract (the hooks of :mod:`slabpolicy.api.hookspecs`, their
#: arguments and meaning, :class:`PolicySpec` and :class:`Option`).  It goes up when
#: the contract changes in a way an existing plugin could notice.  A policy declares
#: the version it was written for in ``PolicySpec(api_version=...)``; a policy
#: declaring another version than this one is refused, with both versions named.
PLUGIN_API_VERSION = 1


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


def _parse_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _parse_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _parse_str(value: Any) -> str:
    """A string; a number stands for its text, since YAML and the command line read a
    version such as ``era=5.9`` as one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "bool": _parse_bool, "int": _parse_int, "float": _parse_float, "str": _parse_str,
    "duration": parse_duration, "size": parse_size,
}


#: The option types, for the guide and for checks.
OPTION_TYPES: tuple[str, ...] = tuple(_PARSERS)


@dataclass(frozen=True)
class Option:
    """One policy option: ``type`` is bool, int, float, str, duration (ns) or size
    (bytes); ``default`` is used when absent.

    Validators, run wherever a value is checked (``slabpolicy validate``, ``run``,
    ``compare``, the kit), before the factory sees it: ``choices`` restricts the
    value to a list; ``min`` and ``max`` bound it (inclusive, written like a value:
    ``min="1ms"`` for a duration); ``check`` is a function of the parsed value
    that raises ValueError (its message is the error) or returns a message for
    a bad value, None for a good one.

    The default is checked like a value from a workload, validators included,
    and stored parsed: a duration default may be written ``"1s"`` (the factory
    gets 1000000000).  A ``None`` default is kept as is (an option that may be
    left unset).
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple = ()
    min: Any = None
    max: Any = None
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self) -> None:
        if self.type not in _PARSERS:
            raise ValueError(f"option {self.name!r}: unknown type {self.type!r}; "
                             f"use one of {', '.join(_PARSERS)}")
        object.__setattr__(self, "choices", tuple(self.choices))
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if value is not None:
                try:
                    object.__setattr__(self, bound, _PARSERS[self.type](value))
                except (ValueError, UnitError) as exc:
                    raise ValueError(f"option {self.name!r}: bad {bound}: {exc}") from None
        if self.check is not None and not callable(self.check):
            raise ValueError(f"option {self.name!r}: check {self.check!r} is not callable")
        if self.default is not None:
            try:
                object.__setattr__(self, "default", self.parse(self.default))
            except ValueError as exc:
                raise ValueError(f"option {self.name!r}: bad default: {exc}") from None

    def parse(self, value: Any) -> Any:
        """The value parsed to its type and validated; ValueError says what is wrong."""
        try:
            parsed = _PARSERS[self.type](value)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        if self.choices and parsed not in self.choices:
            raise ValueError(f"expected one of {', '.join(map(str, self.choices))}, got {value!r}")
        if self.min is not None and parsed < self.min:
            raise ValueError(f"{value!r} is below the minimum {self._show(self.min)}")
        if self.max is not None and parsed > self.max:
            raise ValueError(f"{value!r} is above the maximum {self._show(self.max)}")
        if self.check is not None:
            try:
                problem = self.check(parsed)
            except ValueError:
                raise
            except Exception as exc:
                code = getattr(self.check, "__code__", None)
                where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
                raise PluginError(f"option {self.name!r}: its check{where} raised "
                                  f"{type(exc).__name__}: {exc}") from exc
            if problem:
                raise ValueError(str(problem))
        return parsed

    def _show(self, bound: Any) -> str:
        """A bound as a user writes it."""
        if self.type == "duration":
            return format_duration(bound)
        if self.type == "size":
            return format_size(bound)
        return repr(bound)


@dataclass(frozen=True)
class PolicySpec:
    """A policy as a plugin offers it.

    ``factory(options)`` builds the object whose ``@hookimpl`` methods act for one
    run; ``options`` is the dict of every declared option, defaults filled in.
    ``api_version`` is the plugin API version the policy was written for
    (:data:`PLUGIN_API_VERSION`); write the number itself (``api_version=1``), so
    that a slabpolicy with another contract refuses the policy instead of running
    it wrongly.

    ``kernel`` names the kernel behaviour the policy models, with its version
    range and commit ("Linux 5.3-5.8, fb2f2b0adb98 ..."), or "none" for a design
    no kernel ran: a string, or a function of the parsed options for a policy
    whose options pick the era.  It is written to every result document
    (``policy.kernel``); :meth:`kernel_for` fills in a plugin that leaves it out.
    """

    name: str
    version: str
    description: str
    factory: Callable[[dict[str, Any]], object]
    options: tuple[Option, ...] = field(default=())
    api_version: int = PLUGIN_API_VERSION
    kernel: str | Callable[[dict[str, Any]], str] = ""

    def __post_init__(self) -> None:
        if isinstance(self.api_version, bool) or not isinstance(self.api_version, int):
            raise TypeError(f"policy {self.name!r}: api_version must be an integer, "
                            f"got {self.api_version!r}")
        object.__setattr__(self, "options", tuple(self.options))
        names = [o.name for o in self.options]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"policy {self.name!r}: option {name!r} declared twice")

    def kernel_for(self, options: dict[str, Any]) -> str:
        """The kernel behaviour this policy models with ``options`` (never empty)."""
        kernel = self.kernel(options) if callable(self.kernel) else self.kernel
        return kernel or "not stated by the plugin"

    def parse_options(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Check ``raw`` against the declared options.

        Returns the full options dict and a list of ``(option name, message)``
        problems (unknown names get a did-you-mean).
        """
        known = {o.name: o for o in self.options}
        parsed = {o.name: o.default for o in self.options}
        problems: list[tuple[str, str]] = []
        for key, value in raw.items():
            opt = known.get(key)
            if opt is None:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else (
                    f"; {self.name} takes {', '.join(known)}" if known else
                    f"; {self.name} takes no options")
                problems.append((str(key), f"unknown option {key!r} of policy {self.name!r}{hint}"))
                continue
            try:
                parsed[key] = opt.parse(value)
            except ValueError as exc:
                problems.append((key, str(exc)))
        return parsed, problems
