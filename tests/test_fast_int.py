"""fast_int.as_int64(): PyLong_AsLongLongAndOverflow()'s value and overflow flag for
every size of int, on whichever core runs (the compiled core reads one- and
two-digit ints directly: the digit boundaries and the int64 bounds are the cases);
fast_int.time_add(): Python's addition, which the compiled core makes in C for
two-digit ints."""
import pytest

from slabpolicy.kernel.fast_int import as_int64, time_add

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)


def _expected(t: int) -> tuple[int, int]:
    if t > INT64_MAX:
        return -1, 1
    if t < INT64_MIN:
        return -1, -1
    return t, 0


EDGES = [0, 1, 5, (1 << 15) - 1, 1 << 15, (1 << 30) - 1, 1 << 30, (1 << 30) + 7,
         (1 << 45) + 3, (1 << 60) - 1, 1 << 60, (1 << 62) + 1, INT64_MAX, INT64_MAX + 1,
         1 << 100, 9_600_000_000, 123_456_789_012]


@pytest.mark.parametrize("t", EDGES + [-t for t in EDGES] + [INT64_MIN, INT64_MIN - 1])
def test_an_int_reads_as_python_says(t):
    assert as_int64(t) == _expected(t)


def test_a_bool_and_an_int_subclass_read_as_their_value():
    class Ns(int):
        pass
    assert as_int64(True) == (1, 0)
    assert as_int64(Ns(3 << 40)) == (3 << 40, 0)
    assert as_int64(Ns(1 << 70)) == (-1, 1)


def test_no_integer_raises():
    with pytest.raises(TypeError):
        as_int64(1.5)


SUMMANDS = [0, 1, 7, (1 << 30) - 1, 1 << 30, (1 << 30) + 5, (1 << 60) - 1, 1 << 60,
            (1 << 59) + 3, 9_600_000_000, INT64_MAX, 1 << 100]


@pytest.mark.parametrize("t", SUMMANDS + [-t for t in SUMMANDS[1:]])
@pytest.mark.parametrize("d", [0, 2, 150, (1 << 30) - 1, 1 << 30, (1 << 59) + 1, -3,
                               -(1 << 30), -(1 << 60)])
def test_time_add_is_python_addition(t, d):
    """Across the digit boundaries (the compiled core makes two-digit sums itself) and
    past them: the same int, of the same exact type, normalized (it compares and
    hashes as Python's own sum)."""
    got = time_add(t, d)
    assert got == t + d and type(got) is int and hash(got) == hash(t + d)
    assert got.bit_length() == (t + d).bit_length()


def test_time_add_of_other_numbers_is_theirs():
    class Ns(int):
        def __add__(self, other):
            return "Ns.__add__"
    assert time_add(Ns(5), 1 << 40) == "Ns.__add__"
    assert time_add(True, 1 << 40) == (1 << 40) + 1
    assert time_add(1 << 40, 0.5) == (1 << 40) + 0.5
    with pytest.raises(TypeError):
        time_add(1 << 40, None)
