"""The progress line of a single ``slabpolicy run`` on a terminal.

Twice a second (from the run's monitor thread, :mod:`slabpolicy.runs.monitor`)
one line on stderr is redrawn: simulated time done, events, events per second
and the time left at that pace.  Nothing is drawn when stderr is not a terminal,
so piped output and the tests see none of it.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional

from slabpolicy.runs.monitor import Progress
from slabpolicy.workloads.units import format_duration

_drawn = {"line": False}


def describe(p: Progress) -> str:
    """``simulated 3.2s of 10s (32%), 1.2M events, 400k events/s, about 5s left``."""
    left = p.left_s
    return (f"simulated {format_duration(p.now_ns)} of {format_duration(p.end_ns)} "
            f"({p.fraction:.0%}), {p.events:,} events, {p.rate:,.0f} events/s"
            + (f", about {format_duration(int(left * 1e9))} left" if left is not None else ""))


def run_progress() -> Optional[Callable[[Progress], None]]:
    """A callback drawing the progress line, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def draw(p: Progress) -> None:
        sys.stderr.write("\r\x1b[K" + describe(p))
        sys.stderr.flush()
        _drawn["line"] = True

    return draw


def end_progress_line() -> None:
    """Clear the progress line, if one was drawn."""
    if _drawn["line"]:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()
        _drawn["line"] = False
