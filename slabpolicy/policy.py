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

from .units import UnitError, parse_duration, parse_size

#: The version of the hook contract; a plugin may check it.
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
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "bool": _parse_bool, "int": _parse_int, "float": _parse_float, "str": _parse_str,
    "duration": parse_duration, "size": parse_size,
}


@dataclass(frozen=True)
class Option:
    """One policy option: ``type`` is bool, int, float, str, duration (ns) or size
    (bytes); ``choices`` restricts the value; ``default`` is used when absent."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple = ()

    def __post_init__(self) -> None:
        if self.type not in _PARSERS:
            raise ValueError(f"option {self.name!r}: unknown type {self.type!r}; "
                             f"use one of {', '.join(_PARSERS)}")

    def parse(self, value: Any) -> Any:
        try:
            parsed = _PARSERS[self.type](value)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        if self.choices and parsed not in self.choices:
            raise ValueError(f"expected one of {', '.join(map(str, self.choices))}, got {value!r}")
        return parsed


@dataclass(frozen=True)
class PolicySpec:
    """A policy as a plugin offers it.

    ``factory(options)`` builds the object whose ``@hookimpl`` methods act for one
    run; ``options`` is the dict of every declared option, defaults filled in.
    """

    name: str
    version: str
    description: str
    factory: Callable[[dict[str, Any]], object]
    options: tuple[Option, ...] = field(default=())

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
