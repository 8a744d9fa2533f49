"""Quantities as people write them: durations, sizes and rates.

* :func:`parse_duration` -> integer nanoseconds (``5ms``, ``1.5s``, ``250us``,
  ``250µs``, ``100ns``, ``2min``, ``1h``; a bare ``0`` is allowed, any other bare
  number is an error because the unit is ambiguous).
* :func:`parse_size` -> integer bytes (``64KiB``, ``1MiB``, ``2GiB``, ``1TiB``,
  decimal ``KB``/``MB``/``GB``/``TB``, ``B``; a bare integer is bytes).
* :func:`parse_rate` -> events per second as a float (``2000/s``, ``5/ms``,
  ``10/min``, ``3/h``, ``100/us``; a bare number is an error).

Unit names are matched case-insensitively (``5MS`` is 5 ms, ``64kib`` is 64 KiB).
Values must not be negative; range checks beyond that are the caller's job.
Every parser raises :class:`UnitError` (a :class:`ValueError`) whose message
names the input and the units accepted, for example::

    bad duration '5mz': use a number with ns, us, ms, s, min or h (e.g. 5ms)

:func:`format_duration` and :func:`format_size` render values for humans; their
output parses back with the parsers above (to within the printed precision).
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = [
    "UnitError",
    "parse_duration",
    "parse_size",
    "parse_rate",
    "format_duration",
    "format_size",
    "format_rate",
    "DURATION_UNITS",
    "SIZE_UNITS",
    "NS_PER_S",
]


class UnitError(ValueError):
    """A quantity could not be parsed; the message names the accepted units."""


NS_PER_S = 1_000_000_000

#: Duration unit (lower case) -> nanoseconds.
DURATION_UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # MICRO SIGN
    "\u03bcs": 1_000,  # GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": NS_PER_S,
    "min": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
}

#: Size unit (lower case) -> bytes.
SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
}

_DURATION_HELP = "use a number with ns, us, ms, s, min or h (e.g. 5ms)"
_SIZE_HELP = "use a whole number of bytes or a number with B, KiB, MiB, GiB, TiB, KB, MB, GB or TB (e.g. 64KiB)"
_RATE_HELP = "use a number per ns, us, ms, s, min or h (e.g. 2000/s)"

# A non-negative decimal number (underscores allowed between digits, as in
# Python and YAML), optionally followed by a unit.
_NUMBER = r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?"
_QUANTITY_RE = re.compile(rf"^\s*({_NUMBER})\s*([^\W\d_]*)\s*$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*/\s*([^\W\d_]+)\s*$")


def _show(value: object) -> str:
    """How a rejected input is quoted in a message (a long one cut to 40 characters)."""
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    if isinstance(value, int) and not -10**40 < value < 10**40:
        value = str(value)
    if isinstance(value, str):
        if len(value) > 40:
            value = value[:40] + "..."
        return repr(value) if ("'" not in value) else '"' + value + '"'
    return f"'{value}'"


#: Longest number text and largest exponent read: past them a number is refused
#: before it is built (``1e999999999`` as a Fraction would take minutes and
#: gigabytes; Python refuses integers of over 4300 digits).  Every value the
#: model can represent is written well within them.
MAX_NUMBER_CHARS = 100
MAX_EXPONENT = 400


def _number(text: str) -> Fraction:
    """The exact value of a decimal number; ValueError if past the limits above."""
    text = text.replace("_", "")
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"more than {MAX_NUMBER_CHARS} characters")
    mantissa, e, exponent = text.lower().partition("e")
    if e and abs(int(exponent)) > MAX_EXPONENT:
        raise ValueError(f"exponent past {MAX_EXPONENT}")
    return Fraction(text)


def _why(exc: Exception, help_text: str) -> str:
    """Why a number was refused: past a limit of :func:`_number`, or not a number."""
    text = str(exc)
    if text.startswith(("more than", "exponent past")):
        return f"the number is out of range ({text})"
    return help_text


def _split(value: object, kind: str, help_text: str) -> tuple[Fraction, str]:
    """(number, unit) of a quantity; unit is '' for a bare number."""
    if isinstance(value, bool):
        raise UnitError(f"bad {kind} {_show(value)}: {help_text}")
    if isinstance(value, int):
        number, unit = Fraction(value), ""
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UnitError(f"bad {kind} {_show(value)}: {help_text}")
        number, unit = Fraction(value), ""
    elif isinstance(value, str):
        m = _QUANTITY_RE.match(value)
        if not m:
            raise UnitError(f"bad {kind} {_show(value)}: {help_text}")
        try:
            number = _number(m.group(1))
        except (ValueError, ZeroDivisionError) as exc:
            raise UnitError(f"bad {kind} {_show(value)}: {_why(exc, help_text)}") from None
        unit = m.group(2)
    else:
        raise UnitError(f"bad {kind} {_show(value)}: {help_text}")
    if number < 0:
        raise UnitError(f"bad {kind} {_show(value)}: must not be negative")
    return number, unit


def parse_duration(value: object) -> int:
    """Nanoseconds (rounded to the nearest integer) of ``5ms``, ``1.5s`` ...

    A bare number is rejected (except 0): is ``5`` seconds or nanoseconds?
    """
    number, unit = _split(value, "duration", _DURATION_HELP)
    if not unit:
        if number == 0:
            return 0
        raise UnitError(f"bad duration {_show(value)}: a unit is required; {_DURATION_HELP}")
    scale = DURATION_UNITS.get(unit.lower())
    if scale is None:
        raise UnitError(f"bad duration {_show(value)}: {_DURATION_HELP}")
    return round(number * scale)


def parse_size(value: object) -> int:
    """Bytes of ``64KiB``, ``1MiB``, ``4KB`` (decimal), ``192B`` or a bare ``192``."""
    number, unit = _split(value, "size", _SIZE_HELP)
    if not unit:
        scale = 1
    else:
        scale = SIZE_UNITS.get(unit.lower())
        if scale is None:
            raise UnitError(f"bad size {_show(value)}: {_SIZE_HELP}")
    total = number * scale
    if total.denominator != 1:
        raise UnitError(f"bad size {_show(value)}: not a whole number of bytes; {_SIZE_HELP}")
    return int(total)


def parse_rate(value: object) -> float:
    """Events per second of ``2000/s``, ``5/ms``, ``10/min`` ... (bare numbers rejected)."""
    if isinstance(value, str):
        m = _RATE_RE.match(value)
        if m:
            scale = DURATION_UNITS.get(m.group(2).lower())
            if scale is not None:
                try:
                    number = _number(m.group(1))
                except (ValueError, ZeroDivisionError) as exc:
                    raise UnitError(f"bad rate {_show(value)}: {_why(exc, _RATE_HELP)}") from None
                if number < 0:
                    raise UnitError(f"bad rate {_show(value)}: must not be negative")
                return float(number * NS_PER_S / scale)
        else:
            bare = _QUANTITY_RE.match(value)
            if bare and not bare.group(2):
                raise UnitError(f"bad rate {_show(value)}: a time unit is required; {_RATE_HELP}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        raise UnitError(f"bad rate {_show(value)}: a time unit is required; {_RATE_HELP}")
    raise UnitError(f"bad rate {_show(value)}: {_RATE_HELP}")


def _trim(x: float, decimals: int) -> str:
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


_DURATION_STEPS = (("h", 3600 * NS_PER_S), ("min", 60 * NS_PER_S), ("s", NS_PER_S),
                   ("ms", 1_000_000), ("us", 1_000), ("ns", 1))


def format_duration(ns: int | float) -> str:
    """``1500000`` -> ``'1.5ms'``; at most 3 decimals in the largest fitting unit."""
    if isinstance(ns, float) and not math.isfinite(ns):
        return "forever" if ns > 0 else str(ns)
    if ns == 0:
        return "0s"
    return _scaled(ns, _DURATION_STEPS, 3)


_SIZE_STEPS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1))


def format_size(nbytes: int | float) -> str:
    """``4096`` -> ``'4KiB'``, ``1536`` -> ``'1.5KiB'``, ``100`` -> ``'100B'``."""
    return _scaled(nbytes, _SIZE_STEPS, 2)


def _scaled(x: int | float, steps: tuple[tuple[str, int], ...], decimals: int) -> str:
    """``x`` in the largest of ``steps`` (largest first, the last of scale 1) that it
    reaches, with at most ``decimals`` decimals; a value that rounds up to the next
    step is written in it (999.9996ms must not print as 1000ms)."""
    sign = "-" if x < 0 else ""
    x = abs(x)
    for i, (name, scale) in enumerate(steps):
        if x >= scale or i == len(steps) - 1:
            text = _trim(x / scale, decimals)
            if i > 0:
                bigger_name, bigger = steps[i - 1]
                if float(text) * scale >= bigger:
                    text, name = _trim(x / bigger, decimals), bigger_name
            return f"{sign}{text}{name}"
    raise AssertionError("unreachable")


def format_rate(per_s: float) -> str:
    """``2000.0`` -> ``'2000/s'``; small rates per minute or hour."""
    if per_s == 0 or per_s >= 1:
        return f"{_trim(per_s, 3)}/s"
    if per_s * 60 >= 1:
        return f"{_trim(per_s * 60, 3)}/min"
    return f"{_trim(per_s * 3600, 3)}/h"
