"""Python's own arithmetic on a random draw, at C speed on the compiled core.

A lifetime or the time to a stream's next allocation is a float drawn from
``random.Random`` turned into integer nanoseconds with Python's ``math.log``,
``int()`` and ``round()``.  Every draw of a run goes through these three, so
they are named once here:

* ``log(x)``: ``math.log(x)`` of a float;
* ``exp(x)``: ``math.exp(x)`` of a float (a lognormal draw's last step);
* ``trunc(x)``: ``int(x)`` of a float (towards zero);
* ``round_half_even(x)``: ``round(x)`` of a float (halves to even);
* ``uniform(rnd)``: ``rnd()``, a draw of ``random.Random.random`` (a float).

On the pure-Python core they *are* ``math.log``, ``int`` and ``round``.  On the
compiled core they are the C functions of ``draws.pxd``, which compute what
CPython 3.11 computes in C for these calls, with the same C functions, but
without a Python call, an argument tuple or a float object in between:

* ``math.log`` of a float is ``m_log()`` of Modules/mathmodule.c: libm's
  ``log(x)`` for a positive finite ``x`` (the only case where the compiled
  ``log`` does not call ``math.log`` itself);
* ``math.exp`` of a float is ``math_1(x, exp, 1)`` of Modules/mathmodule.c:
  libm's ``exp(x)`` where ``x`` and the result are finite (the only case where
  the compiled ``exp`` does not call ``math.exp`` itself: an infinity, NaN and an
  overflow, which raises OverflowError, are ``math.exp``'s);
* ``int()`` of a float is ``float___trunc___impl()`` of Objects/floatobject.c:
  ``PyLong_FromDouble(x)`` (a C cast where ``x`` fits a C long, else exact);
* ``round()`` of a float is ``float___round___impl()`` without ndigits: libm's
  ``round(x)``, corrected to ``2.0 * round(x / 2.0)`` where ``x`` is exactly
  half-way, then ``PyLong_FromDouble``;
* ``rnd()`` of a bound built-in method without arguments (``rng.random``:
  ``_random_Random_random()`` of Modules/_randommodule.c) is its C function
  called with its ``self``, as CPython's ``cfunction_vectorcall_NOARGS()`` calls
  it, without the generic call's dispatch and recursion check (a sixth of a
  draw's instructions); any other callable is called.  The same function on the
  same generator: the same stream.

So a draw is the same number on both cores, to the last bit (the tests of
tests/test_draws.py compare them with Python's own on halves, huge values,
infinities and arbitrary floats, on whichever core runs).  Their arguments are
floats: an ``int`` argument would be converted to a float on the compiled core.

Cython is a build dependency only: without it this module runs as Python.
"""
from __future__ import annotations

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

__all__ = ["log", "exp", "trunc", "round_half_even", "uniform"]

if not cython.compiled:
    # Python's own functions; the compiled core has draws.pxd's instead (Cython
    # drops this block when it compiles the module)
    from math import exp, log
    trunc = int
    round_half_even = round

    def uniform(rnd):
        """``rnd()`` (the pure core's callers call ``rnd()`` themselves)."""
        return rnd()
