# The compiled core's log, exp, trunc, round_half_even and uniform (draws.py says what
# they are and why): C functions that compute what CPython 3.11 computes in C for
# math.log(x), math.exp(x), int(x) and round(x) of a float x, with the same C functions
# (libm's log, exp and round, CPython's PyLong_FromDouble), and rng.random().  Their bodies are here, not in draws.py, because on
# the pure-Python core those names are Python's functions themselves.  `cpdef`: the
# engine and the samplers call them as inline C, and Python (the tests) can call them.
# Cython also binds those Python wrappers as globals of every module that cimports
# this one (engine, distributions): none of them may have a global of these names.
from libc.math cimport INFINITY, fabs
from libc.math cimport exp as libm_exp
from libc.math cimport log as libm_log
from libc.math cimport round as libm_round
from cpython.long cimport PyLong_FromDouble
from cpython.object cimport PyObject

cdef extern from "Python.h":
    # a built-in function or bound built-in method (Include/cpython/methodobject.h)
    bint PyCFunction_Check(object op)
    int PyCFunction_GET_FLAGS(object op)
    void *PyCFunction_GET_FUNCTION(object op)
    PyObject *PyCFunction_GET_SELF(object op)
    int METH_NOARGS

# a METH_NOARGS function: fn(self, NULL), a new reference or NULL with an exception set
ctypedef object (*noargs_function)(PyObject *, PyObject *)


cpdef inline double log(double x) except? -1.0:
    # Modules/mathmodule.c, m_log(): log(x) for a positive finite x; 0, a negative
    # number, an infinity and NaN are math.log's own cases (ValueError or itself)
    if 0.0 < x < INFINITY:
        return libm_log(x)
    from math import log as math_log
    return math_log(x)


cpdef inline double exp(double x) except? -1.0:
    # Modules/mathmodule.c, math_1(x, exp, 1): exp(x) where x and exp(x) are finite
    # (an underflow to 0 or a subnormal is a result there too); an infinity, NaN and
    # an overflow (OverflowError) are math.exp's own cases
    cdef double r
    if -INFINITY < x < INFINITY:
        r = libm_exp(x)
        if r < INFINITY:
            return r
    from math import exp as math_exp
    return math_exp(x)


cpdef inline object trunc(double x):
    # Objects/floatobject.c, float___trunc___impl(): int(x) of a float
    return PyLong_FromDouble(x)


cpdef inline object round_half_even(double x):
    # Objects/floatobject.c, float___round___impl() with ndigits None: round(x) of a float
    cdef double rounded = libm_round(x)
    if fabs(x - rounded) == 0.5:
        rounded = 2.0 * libm_round(x / 2.0)     # half-way: round to even
    return PyLong_FromDouble(rounded)


cpdef inline double uniform(object rnd) except? -1.0:
    # Objects/methodobject.c, cfunction_vectorcall_NOARGS(): rng.random(), a bound
    # METH_NOARGS built-in, is its C function called with its self and NULL; the
    # float it returns is a C double (Cython's conversion, as of any `u = rnd()`)
    if PyCFunction_Check(rnd) and PyCFunction_GET_FLAGS(rnd) == METH_NOARGS:
        return (<noargs_function>PyCFunction_GET_FUNCTION(rnd))(PyCFunction_GET_SELF(rnd),
                                                                NULL)
    return rnd()
