"""Policy options on the command line: ``--policy 'NAME:key=value,...'`` and ``--option key=value``.

A policy given with options is written ``NAME:key=value[,key=value...]``, where
NAME is an installed policy or a label of the workload's ``policies:``; that
text, in canonical form (keys sorted), is also the run's label, so results,
tables and compare's worker processes find the same run again from it.
``--option key=value`` adds the option to every ``--policy`` of the command.
A value is read as a YAML scalar, as in a workload file: ``true``, ``3``,
``0.5``, ``5ms``.
"""
from __future__ import annotations

from typing import Any

import yaml

from slabpolicy.errors import SlabpolicyError


def split_policy_arg(text: str) -> tuple[str, dict[str, Any]]:
    """``'NAME:k=v,k2=v2'`` -> ``('NAME', {'k': v, 'k2': v2})``; plain ``'NAME'`` -> no options."""
    name, sep, rest = text.partition(":")
    if not sep:
        return text, {}
    options = _parse_pairs(f"--policy {text}", rest.split(",") if rest else [])
    if not name:
        raise SlabpolicyError(f"--policy {text}: expected NAME:key=value[,key=value...]")
    return name, options


def with_options(policies: list[str], options: list[str]) -> list[str]:
    """The ``--policy`` arguments with every ``--option key=value`` added to each, as
    canonical ``NAME:key=value,...`` texts; a key given both ways keeps ``--policy``'s."""
    if not options:
        return list(policies)
    if not policies:
        raise SlabpolicyError("--option needs --policy: name the policies the options are for")
    extra = _parse_pairs("--option", options)
    result = []
    for text in policies:
        name, given = split_policy_arg(text)
        result.append(policy_arg(name, {**extra, **given}))
    return result


def policy_arg(name: str, options: dict[str, Any]) -> str:
    """The canonical ``NAME:key=value,...`` text (keys sorted) of a policy with options."""
    if not options:
        return name
    return f"{name}:" + ",".join(f"{k}={_show(v)}" for k, v in sorted(options.items()))


def _parse_pairs(where: str, pairs: list[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SlabpolicyError(f"{where}: expected key=value, got {pair!r}")
        try:
            parsed[key] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed[key] = value
    return parsed


def _show(value: Any) -> str:
    """A value as it would be written back on the command line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
