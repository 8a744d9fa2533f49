# Cython declarations for event_queue.py, used only when the core is compiled (setup.py):
# EventQueue becomes a C type whose events are ordered by two binary heaps of C structs
# (the module docstring says how and why), and the engine's loop calls push() and
# pop_due(), the lock paths head_before(), as C functions.
#
# C integers only where the value provably fits: an entry's time is an event's time
# only where time_as_int64() (fast_int.pxd: PyLong_AsLongLongAndOverflow()'s contract)
# says it fits an int64 (the others go to `outside`, Python ints); a seq counts the
# events one run queues, and no run queues 2**63 (centuries at a billion a second);
# positions, counts and slots index a C array of at most the queued events.  Times
# stay Python ints everywhere else.
# A field added to __slots__ in event_queue.py is added here too
# (tests/test_compiled_declarations.py checks that the two agree).
cimport cython
from cpython.long cimport PyLong_FromLongLong
from libc.stdint cimport int64_t
from libc.stdlib cimport free, realloc
from slabpolicy.kernel.fast_int cimport time_as_int64

cdef struct Entry:
    int64_t t           # the event's time
    int64_t seq         # its place among the events of the same time
    Py_ssize_t slot     # where the event tuple is: EventQueue.events[slot]

ctypedef Entry *EntryArray

# one C heap: entries[0:n], room for `size`
cdef struct Heap:
    EntryArray entries
    Py_ssize_t n, size

ctypedef Heap *HeapPtr

@cython.final
cdef class EventQueue:
    # the pure-Python core's calendar (unused compiled), and the held events
    cdef public list heap, buckets, held
    cdef public dict far
    cdef public object horizon, shift, seq
    # the compiled core's heaps: of push(), of push_later(), and of push_turn()
    cdef Heap main, later, turns
    cdef list events                    # the queued events by slot (None: free): event
                                        # tuples, and the continuations of `turns`
    cdef Py_ssize_t *free_slots         # the free slots of `events`, a stack ...
    cdef Py_ssize_t nfree               # ... this deep
    cdef Py_ssize_t free_size           # ... with room for this many (the slots there are)
    cdef int64_t count                  # the next event's seq
    cdef list outside                   # (t, seq, event) of times past an int64, a heap
    cdef bint outside_first             # outside's head is below every C-heap time
    # pop_due()'s last `end`, and it as time_as_int64() gave it (the
    # value where the overflow is 0): an int is immutable, so the same object has
    # the same value, converted once
    cdef object end
    cdef int64_t end_t
    cdef int end_overflow
    # the time of the event pop_due() took last, as its C heap entry had it, where it
    # came from a C heap (`popped_fits`; from `outside` it does not fit an int64): the
    # engine's loop computes the times an allocation queues from it in C (engine.pxd)
    cdef int64_t popped_t
    cdef bint popped_fits

    cpdef push(self, t, kind, a=*, b=*, c=*)
    cpdef push_later(self, t, kind, a=*, b=*, c=*)
    cdef push_at(self, int64_t t, kind, a, b, c)
    @cython.locals(overflow=cython.int, tc=int64_t)
    cpdef push_turn(self, t, c)
    @cython.locals(overflow=cython.int, h=HeapPtr)
    cpdef object pop_due(self, end)
    @cython.locals(h=HeapPtr)
    cpdef object head_time(self)
    # except -1: a bint is never -1, so a caller tests the result for -1 instead of
    # calling PyErr_Occurred() after every call (Turns.must_wait() in turns.pxd likewise)
    @cython.locals(overflow=cython.int, tv=int64_t, h=HeapPtr)
    cpdef bint head_before(self, t) except -1

    @cython.locals(h=HeapPtr)
    cdef HeapPtr _c_first(self)
    cdef tuple _event_of(self, HeapPtr h, Entry entry, object queued)
    @cython.locals(i=Py_ssize_t)
    cdef _queued_in(self, HeapPtr h, list events)
    @cython.locals(overflow=cython.int, t=int64_t, slot=Py_ssize_t)
    cdef _insert(self, tuple event, int64_t seq, HeapPtr h)
    @cython.locals(slot=Py_ssize_t)
    cdef inline _insert_c(self, object event, int64_t t, int64_t seq, HeapPtr h)
    @cython.locals(slot=Py_ssize_t)
    cdef object _pop_c(self, HeapPtr h)
    cdef tuple _pop_outside(self)
    @cython.locals(free_slots=cython.p_void)
    cdef _grow_free_slots(self, Py_ssize_t size)

cdef bint _before(Entry x, Entry y) noexcept
@cython.locals(entries=cython.p_void)
cdef _heap_grow(HeapPtr h, Py_ssize_t size)
@cython.locals(entries=EntryArray, pos=Py_ssize_t, parent=Py_ssize_t)
cdef _heap_insert(HeapPtr h, int64_t t, int64_t seq, Py_ssize_t slot)
@cython.locals(entries=EntryArray, slot=Py_ssize_t, n=Py_ssize_t, last=Entry, pos=Py_ssize_t,
               child=Py_ssize_t, parent=Py_ssize_t)
cdef Py_ssize_t _heap_pop(HeapPtr h) noexcept
