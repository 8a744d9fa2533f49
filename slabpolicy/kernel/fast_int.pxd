# Cython declarations for fast_int.py, used only when the core is compiled (setup.py):
# time_as_int64(), PyLong_AsLongLongAndOverflow()'s contract with a direct read of an
# exact int of one or two digits (fast_int.py says why).  An inline C function: each
# module that cimports it (event_queue, locks, histogram) has its own copy, called
# without a Python call.  Two CPython 3.11 digits are at most 2 * PyLong_SHIFT = 60
# bits (30-bit digits; 30 bits with 15-bit digits), so the value read fits an int64.
cimport cython
from libc.stdint cimport int64_t

cdef extern from *:
    """
    static CYTHON_INLINE int64_t slabpolicy_time_as_int64(PyObject *o, int *overflow) {
    #if PY_VERSION_HEX < 0x030C0000 && !defined(PYPY_VERSION) && !defined(Py_LIMITED_API)
        if (PyLong_CheckExact(o)) {
            const digit *d = ((PyLongObject *)o)->ob_digit;
            switch (Py_SIZE(o)) {
                case 0: *overflow = 0; return 0;
                case 1: *overflow = 0; return (int64_t)d[0];
                case -1: *overflow = 0; return -(int64_t)d[0];
                case 2: *overflow = 0; return ((int64_t)d[1] << PyLong_SHIFT) | (int64_t)d[0];
                case -2: *overflow = 0; return -(((int64_t)d[1] << PyLong_SHIFT) | (int64_t)d[0]);
            }
        }
    #elif PY_VERSION_HEX >= 0x030C0000 && !defined(PYPY_VERSION) && !defined(Py_LIMITED_API)
        if (PyLong_CheckExact(o) && PyUnstable_Long_IsCompact((PyLongObject *)o)) {
            *overflow = 0;
            return (int64_t)PyUnstable_Long_CompactValue((PyLongObject *)o);
        }
    #endif
        return (int64_t)PyLong_AsLongLongAndOverflow(o, overflow);
    }
    """
    int64_t slabpolicy_time_as_int64(object o, int *overflow) except? -1

# ``t`` as a C int64 and ``overflow[0]`` 0, or -1 and ``overflow[0]`` 1 (above an
# int64) or -1 (below one); -1 with an exception for an object that is no integer
cdef inline int64_t time_as_int64(object t, int *overflow) except? -1:
    return slabpolicy_time_as_int64(t, overflow)

# -- time_lt(): a comparison of two times (the allocator's lock and cpu paths) --------
# ``a < b``, the bool Python's comparison gives: compared in C where both are exact
# ints of at most two digits (every simulated time but BUSY on CPython 3.11, as
# time_add() reads them), else by PyObject_RichCompareBool() (a time past 2**60,
# BUSY; another Python).  Written in C so that the C compiler inlines the test into
# each caller and calls out only for the rest: about 30 instructions a comparison,
# where PyObject_RichCompare() of two ints costs about 52 (and a Cython inline
# function holding both paths, which the C compiler left a call, about 49;
# callgrind, memory-pressure / scan-and-move at 12.8 s).  Used where the compiled core compares times on every
# operation: a cpu's free time with an arrival (Allocator.begin()/slab_alloc()/
# slab_free()), a lock's release with an acquisition's arrival (Lock.take()).
cdef extern from *:
    """
    static CYTHON_INLINE int slabpolicy_time_lt(PyObject *a, PyObject *b) {
    #if PY_VERSION_HEX < 0x030C0000 && !defined(PYPY_VERSION) && !defined(Py_LIMITED_API)
        if (PyLong_CheckExact(a) && PyLong_CheckExact(b)
                && (size_t)(Py_SIZE(a) + 2) <= 4 && (size_t)(Py_SIZE(b) + 2) <= 4) {
            int overflow;
            return slabpolicy_time_as_int64(a, &overflow) < slabpolicy_time_as_int64(b, &overflow);
        }
    #endif
        return PyObject_RichCompareBool(a, b, Py_LT);
    }
    """
    int time_lt "slabpolicy_time_lt" (object a, object b) except -1

@cython.locals(overflow=cython.int, value=int64_t)
cpdef tuple as_int64(t)

# time_add(): ``t + d`` as PyNumber_Add() gives it, the sum made in C where both are
# exact ints of at most two 30-bit digits (3.11): each under 2**60 in magnitude, so
# their sum is under 2**61 and fits an int64.  A sum of two digits (2**30 up to
# 2**60: a time past a simulated second) is made as _PyLong_New(2) and its two digits,
# the int x_add() or PyLong_FromLongLong() would make (normalized: the high digit is
# not 0), without their loops; any other sum by PyLong_FromLongLong().  The core's
# modules call it through time_add(), a C call: inlined into each caller instead, it
# cost about a million instructions more on memory-pressure at 9.6 s (its code in
# every caller), not less.
cdef extern from *:
    """
    static CYTHON_INLINE PyObject *slabpolicy_time_add(PyObject *t, PyObject *d) {
    #if PY_VERSION_HEX < 0x030C0000 && !defined(PYPY_VERSION) && !defined(Py_LIMITED_API)
        if (PyLong_CheckExact(t) && PyLong_CheckExact(d)
                && (size_t)(Py_SIZE(t) + 2) <= 4 && (size_t)(Py_SIZE(d) + 2) <= 4) {
            int overflow;
            int64_t v = slabpolicy_time_as_int64(t, &overflow)
                        + slabpolicy_time_as_int64(d, &overflow);
            if (PyLong_SHIFT == 30 && v >= ((int64_t)1 << 30) && v < ((int64_t)1 << 60)) {
                PyLongObject *r = _PyLong_New(2);
                if (r != NULL) {
                    r->ob_digit[0] = (digit)(v & PyLong_MASK);
                    r->ob_digit[1] = (digit)(v >> PyLong_SHIFT);
                }
                return (PyObject *)r;
            }
            return PyLong_FromLongLong(v);
        }
    #endif
        return PyNumber_Add(t, d);
    }
    """
    object slabpolicy_time_add(object t, object d)

cpdef object time_add(object t, object d)
