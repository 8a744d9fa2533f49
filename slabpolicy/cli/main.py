"""The ``slabpolicy`` program: the Typer app, and what happens when slabpolicy itself fails.

A problem the user can fix is a :class:`~slabpolicy.errors.SlabpolicyError`,
printed by the commands as one line per problem.  Anything else escaping a
command is a bug in slabpolicy: :func:`main` prints a short message saying so
and where to report it, and exits 70 (EX_SOFTWARE, sysexits.h); the traceback
(plain, without the local variables a rich panel would dump) only with
``--debug`` before the command or ``SLABPOLICY_DEBUG=1``.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Sequence

from slabpolicy.cli.app import app

DEBUG_FLAG = "--debug"
DEBUG_ENV = "SLABPOLICY_DEBUG"
#: Exit status of an internal error (EX_SOFTWARE).
EXIT_INTERNAL = 70
REPORT_TO = ("the slabpolicy issue tracker (with the command line, the workload and "
             "`slabpolicy --debug ...`'s traceback)")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line ``argv`` (default: sys.argv[1:]); never a traceback unless asked."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    if args[:1] == [DEBUG_FLAG]:
        debug, args = True, args[1:]
    try:
        app(args=args, prog_name="slabpolicy")
    except Exception as exc:          # SystemExit (every normal end) goes through
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        else:
            print(f"slabpolicy: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(f"This is a bug in slabpolicy, not in your input; please report it to "
                  f"{REPORT_TO}. Run again with {DEBUG_FLAG} before the command (or "
                  f"{DEBUG_ENV}=1) to see the traceback.", file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
