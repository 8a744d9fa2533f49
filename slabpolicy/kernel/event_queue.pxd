# Cython declarations for event_queue.py, used only when the core is compiled (setup.py):
# EventQueue becomes a C type, so that the engine's loop reads its containers and calls
# its push methods without a dictionary lookup or a Python call.  Times stay Python ints
# (a time may be far past any C integer), so every comparison and shift is Python's.
# A field added to __slots__ in event_queue.py is added here too
# (tests/test_compiled_declarations.py checks that the two agree).
cdef class EventQueue:
    cdef public list heap, buckets
    cdef public dict far
    cdef public object horizon, shift, seq

    cpdef push(self, t, kind, a=*, b=*, c=*)
    cpdef push_event(self, tuple event)
    cpdef push_near(self, tuple event)
    cpdef push_far(self, tuple event)
    cpdef refill(self)
