# Cython declarations for turns.py, used only when the core is compiled (setup.py):
# Turns becomes a C type, so that the engine's loop reads ``turns.loop`` (every event)
# and calls resume() for a TURN event as a C function, and the lock paths call
# must_wait() without a dictionary lookup; a Continuation is a C type too, whose run()
# a subclass overrides (kernel/rcu.py's BatchTurn) and resume() and run_turn() (the
# loop's call of a continuation the queue gives as itself) call through the C method
# table.  A field added to __slots__ in turns.py is added
# here too (tests/test_compiled_declarations.py checks that).
cimport cython
from slabpolicy.kernel.event_queue cimport EventQueue

cdef class Continuation:
    cdef public object at
    cpdef run(self, t)

# `stopped` counts the operations stopped at once (each has a queued event or waits
# for one that has): far below 2**63.  A C integer: a stop and its turn each changed
# it as a Python int (a call of the addition, and above 256 a new int).  Final (nothing subclasses it): its cpdef methods are called
# without the lookup of an override.
@cython.final
cdef class Turns:
    cdef public EventQueue queue
    cdef public object loop, main, loop_fn, running
    cdef public Py_ssize_t stopped

    # except -1: the lock path tests the result for -1 rather than calling
    # PyErr_Occurred() after every call
    cpdef bint must_wait(self, t) except -1
    cpdef defer(self, t, Continuation c)
    cpdef run_turn(self, Continuation c)
    @cython.locals(c=Continuation)
    cpdef resume(self, g, t)
