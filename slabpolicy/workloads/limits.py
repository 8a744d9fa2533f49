"""What the model can represent: the limits every workload value is checked against.

The checker of :mod:`slabpolicy.workloads.spec` applies these by *kind of field*
(integer, size, duration, rate, plain number), not field by field, so a field
added later gets its kind's limit without anyone remembering to add one.  A
value past a limit is a clean ``FILE:LINE: field: message`` naming the limit,
never an overflow, a hang or a memory blow-up deep inside the engine.

The reader limits (file size, YAML nodes with aliases expanded) apply before
anything is built from the file: a billion-laughs alias bomb or a 600k-line file
is refused after reading at most ``MAX_FILE_BYTES`` bytes.
"""
from __future__ import annotations

from slabpolicy.workloads.units import NS_PER_S

#: Largest workload file read (bytes).  Real workloads are a few KiB; pure-Python
#: YAML parses 256 KiB in about a second, 1 MiB in about four.
MAX_FILE_BYTES = 256 << 10
#: Largest YAML node tree, every alias counted as the nodes it expands to
#: (what building the values would allocate).  Real workloads have a few hundred.
MAX_YAML_NODES = 100_000

#: Every integer (counts, seeds, orders...): the simulator's clock and counters are
#: int64 in spirit (2**63 - 1), and results are stored as JSON numbers.
MAX_INT = (1 << 63) - 1
#: Every duration, in ns: 2**63 - 1 ns, about 292 years (an int64 of ns, as the
#: kernel's ktime_t).  Also the heavy-tailed samplers' cap (MAX_LIFETIME_NS).
MAX_DURATION_NS = (1 << 63) - 1
MAX_DURATION_TEXT = "2**63-1 ns, about 292 years"
#: Every size, in bytes: 1 TiB.
MAX_SIZE = 1 << 40
#: Every rate: at most one event per simulated ns ...
MAX_RATE_PER_S = float(NS_PER_S)
#: ... and at least one per MAX_DURATION_NS, so the mean gap between two events
#: is a representable duration (below it an exponential draw overflows or divides
#: by zero).
MIN_RATE_PER_S = NS_PER_S / MAX_DURATION_NS
#: Every plain number (mixture weights, sigma, alpha): at most 1e12, so sums of a
#: few of them and their squares stay finite floats ...
MAX_NUMBER = 1e12
#: ... and a positive one at least 1e-12.
MIN_POSITIVE_NUMBER = 1e-12
#: machine.page_size: 256 KiB, the largest Linux page size (CONFIG_PAGE_SIZE_256KB of
#: hexagon and powerpc 44x; arm64 stops at 64 KiB).
MAX_PAGE_SIZE = 256 << 10
#: machine.cpus: CONFIG_NR_CPUS's largest value on x86-64 (MAXSMP, arch/x86/Kconfig).
MAX_CPUS = 8192
