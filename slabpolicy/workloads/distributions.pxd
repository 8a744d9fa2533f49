# Cython declarations for distributions.py, used only when the core is compiled
# (setup.py): the samplers become C types whose draw() is a cpdef method, so that the
# engine's loop (engine.pxd types a stream's samplers as Sampler) and a mixture draw
# a lifetime with a C call, and their arithmetic is C doubles with draws.pxd's log and
# rounding, which give Python's values.  A cpdef method stays a Python method: calling
# a sampler, or its draw(), from Python gives the same value.
#
# C numbers only where the value is one already: 1.0 / mean is a Python float (a C
# double, the same IEEE arithmetic), a mixture's bounds are Python floats, a draw of
# random() is one.  The lifetimes themselves stay Python ints (a clamped one may be
# MAX_LIFETIME_NS), and the parameters handed back to random's methods stay the Python
# objects they are.  The fields are exactly __slots__ (tests/test_compiled_declarations.py).
cimport cython
from slabpolicy.workloads cimport draws

cdef class Sampler:
    cpdef object draw(self)

cdef class CallableSampler(Sampler):
    cdef public object fn

cdef class ExponentialSampler(Sampler):
    cdef public object rnd
    cdef public double lambd

    @cython.locals(u=cython.double)
    cpdef object draw(self)

cdef class ClampedSampler(Sampler):
    cpdef object variate(self)

cdef class LogNormalSampler(ClampedSampler):
    cdef public object rnd, mu, sigma

    @cython.locals(magic=cython.double, u1=cython.double, u2=cython.double,
                   z=cython.double, zz=cython.double)
    cpdef object variate(self)

cdef class ParetoSampler(ClampedSampler):
    cdef public object pareto, scale, alpha

cdef class FixedSampler(Sampler):
    cdef public object value

cdef class ForeverSampler(Sampler):
    pass

cdef class MixtureSampler(Sampler):
    cdef public object rand
    cdef public list bounds, samplers

    @cython.locals(u=cython.double, bound=cython.double, i=Py_ssize_t, pick=Sampler)
    cpdef object draw(self)
