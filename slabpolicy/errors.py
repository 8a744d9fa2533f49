"""One exception hierarchy for the whole package.

Everything a user can fix themselves (a bad workload field, an unknown policy, a
plugin that misbehaves, an accounting violation under ``--strict``) is a
:class:`SlabpolicyError`; the CLI prints ``str(error)`` (one line per problem) and
exits non-zero, without a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class SlabpolicyError(Exception):
    """Base class: ``str(e)`` is what the user sees, one line per problem."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is and what is wrong."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class WorkloadError(SlabpolicyError):
    """A workload file (or a ``--set`` override) is wrong; holds every problem found."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PluginError(SlabpolicyError):
    """A plugin failed to load, broke the hook contract, or raised during a run."""

    exit_code = 1


class AccountingError(SlabpolicyError):
    """The accounting checker found a violation and ``--strict`` was given."""

    exit_code = 3
