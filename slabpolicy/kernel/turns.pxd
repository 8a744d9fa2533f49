# Cython declarations for turns.py, used only when the core is compiled (setup.py):
# Turns becomes a C type, so that the engine's loop reads ``turns.loop`` (every event)
# and calls resume() for a TURN event as a C function, and the lock paths call
# must_wait() without a dictionary lookup; a Continuation is a C type too, whose run()
# a subclass overrides (kernel/rcu.py's BatchTurn) and resume() calls through the C
# method table.  A field added to __slots__ in turns.py is added
# here too (tests/test_compiled_declarations.py checks that).
cimport cython
from slabpolicy.kernel.event_queue cimport EventQueue

cdef class Continuation:
    cpdef run(self, t)

cdef class Turns:
    cdef public EventQueue queue
    cdef public object loop, main, loop_fn, stopped, running

    cpdef bint must_wait(self, t)
    cpdef defer(self, t, Continuation c)
    @cython.locals(c=Continuation)
    cpdef resume(self, g, t)
