"""Parsing and formatting of durations, sizes and rates."""
import pytest

from slabpolicy.workloads.units import (
    UnitError,
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize("text, ns", [
    ("5ms", 5_000_000),
    ("1.5s", 1_500_000_000),
    ("250us", 250_000),
    ("250µs", 250_000),          # MICRO SIGN
    ("250μs", 250_000),          # GREEK SMALL LETTER MU
    ("100ns", 100),
    ("2min", 120_000_000_000),
    ("1h", 3_600_000_000_000),
    ("5 ms", 5_000_000),
    ("5MS", 5_000_000),
    (".5s", 500_000_000),
    ("1_000ns", 1000),
    ("1e3ns", 1000),
    ("0.1ns", 0),
    ("1.1s", 1_100_000_000),     # exact, no float error
    ("0", 0),
    ("0s", 0),
    (0, 0),
])
def test_parse_duration_good(text, ns):
    assert parse_duration(text) == ns
    assert isinstance(parse_duration(text), int)


DURATION_HELP = "use a number with ns, us, ms, s, min or h (e.g. 5ms)"


@pytest.mark.parametrize("value, message", [
    ("5mz", f"bad duration '5mz': {DURATION_HELP}"),
    ("5", f"bad duration '5': a unit is required; {DURATION_HELP}"),
    (5, f"bad duration '5': a unit is required; {DURATION_HELP}"),
    (1.5, f"bad duration '1.5': a unit is required; {DURATION_HELP}"),
    ("ms", f"bad duration 'ms': {DURATION_HELP}"),
    ("", f"bad duration '': {DURATION_HELP}"),
    ("5 m s", f"bad duration '5 m s': {DURATION_HELP}"),
    ("-5ms", "bad duration '-5ms': must not be negative"),
    (True, f"bad duration 'true': {DURATION_HELP}"),
    (None, f"bad duration 'None': {DURATION_HELP}"),
    ([5], f"bad duration '[5]': {DURATION_HELP}"),
])
def test_parse_duration_bad(value, message):
    with pytest.raises(UnitError) as info:
        parse_duration(value)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("text, nbytes", [
    ("64KiB", 65536),
    ("4KiB", 4096),
    ("1MiB", 1 << 20),
    ("2GiB", 2 << 30),
    ("1TiB", 1 << 40),
    ("4KB", 4000),
    ("1MB", 1_000_000),
    ("1GB", 10**9),
    ("192B", 192),
    ("192", 192),
    (192, 192),
    ("1.5KiB", 1536),
    ("64kib", 65536),
    (0, 0),
])
def test_parse_size_good(text, nbytes):
    assert parse_size(text) == nbytes
    assert isinstance(parse_size(text), int)


SIZE_HELP = ("use a whole number of bytes or a number with B, KiB, MiB, GiB, TiB, KB, MB, GB or TB "
             "(e.g. 64KiB)")


@pytest.mark.parametrize("value, message", [
    ("4K", f"bad size '4K': {SIZE_HELP}"),
    ("64KB/s", f"bad size '64KB/s': {SIZE_HELP}"),
    ("lots", f"bad size 'lots': {SIZE_HELP}"),
    ("0.3KiB", f"bad size '0.3KiB': not a whole number of bytes; {SIZE_HELP}"),
    (1.5, f"bad size '1.5': not a whole number of bytes; {SIZE_HELP}"),
    ("-1KiB", "bad size '-1KiB': must not be negative"),
    (False, f"bad size 'false': {SIZE_HELP}"),
])
def test_parse_size_bad(value, message):
    with pytest.raises(UnitError) as info:
        parse_size(value)
    assert str(info.value) == message


@pytest.mark.parametrize("text, per_s", [
    ("2000/s", 2000.0),
    ("5/ms", 5000.0),
    ("10/min", 10 / 60),
    ("3/h", 3 / 3600),
    ("100/us", 1e8),
    ("1/ns", 1e9),
    ("0.5 / s", 0.5),
    ("0/s", 0.0),
])
def test_parse_rate_good(text, per_s):
    assert parse_rate(text) == pytest.approx(per_s, rel=1e-15)
    assert isinstance(parse_rate(text), float)


RATE_HELP = "use a number per ns, us, ms, s, min or h (e.g. 2000/s)"


@pytest.mark.parametrize("value, message", [
    ("2000", f"bad rate '2000': a time unit is required; {RATE_HELP}"),
    (2000, f"bad rate '2000': a time unit is required; {RATE_HELP}"),
    ("2000/sec", f"bad rate '2000/sec': {RATE_HELP}"),
    ("2000/", f"bad rate '2000/': {RATE_HELP}"),
    ("fast", f"bad rate 'fast': {RATE_HELP}"),
    ("5ms", f"bad rate '5ms': {RATE_HELP}"),
    ("-1/s", "bad rate '-1/s': must not be negative"),
    (True, f"bad rate 'true': {RATE_HELP}"),
])
def test_parse_rate_bad(value, message):
    with pytest.raises(UnitError) as info:
        parse_rate(value)
    assert str(info.value) == message


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (1, "1ns"), (999, "999ns"), (1000, "1us"), (1_500_000, "1.5ms"),
    (999_999_999, "1s"), (60 * 10**9, "1min"), (90 * 10**9, "1.5min"), (7200 * 10**9, "2h"),
    (-5, "-5ns"), (float("inf"), "forever"),
])
def test_format_duration(ns, text):
    assert format_duration(ns) == text


@pytest.mark.parametrize("ns", [1, 999, 1000, 1_500_000, 5_000_000, 10**9, 60 * 10**9, 3600 * 10**9])
def test_format_duration_round_trips(ns):
    assert parse_duration(format_duration(ns)) == ns


@pytest.mark.parametrize("nbytes, text", [
    (0, "0B"), (100, "100B"), (1024, "1KiB"), (1536, "1.5KiB"), (4096, "4KiB"),
    (1048575, "1MiB"), (1 << 20, "1MiB"), (3 << 30, "3GiB"),
])
def test_format_size(nbytes, text):
    assert format_size(nbytes) == text


def test_format_rate():
    assert format_rate(2000.0) == "2000/s"
    assert format_rate(0.1) == "6/min"
    assert parse_rate(format_rate(0.001)) == pytest.approx(0.001)
