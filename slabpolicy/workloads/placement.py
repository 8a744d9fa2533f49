"""Which cpus a cgroup's tasks run on: the workload's ``cpus`` and ``migration``.

A container's tasks run on a few cpus, not on all of them at random: the
scheduler keeps a task on the cpu it last ran on (wake-affine, cache-hot) and
load balancing moves one now and then.  Which cpus a cgroup allocates on
decides how many cpu slabs and cpu partial lists each of its caches holds,
which a per-memcg cache pays for and a shared (objcg) cache does not.

Each cgroup gets its own list of cpus when it arrives:

* ``cpus: N``: N consecutive cpus, the cgroups placed round-robin across the
  machine in order of arrival (the first on 0..N-1, the next on N..2N-1, ...),
  so that they spread as a balanced machine spreads them;
* ``cpus: [a, b]``: those cpus, for every cgroup of the group (a pinned cpuset);
* ``cpus: all``: every cpu, each allocation on one drawn at random (the root
  cgroup's tasks, kworkers and daemons, by default).

Each allocation runs on one of the cgroup's cpus, drawn at random.  At rate
``migration`` one task moves: one cpu of the list is replaced by a cpu not in
it.  Frees by another cpu (``remote_free``) pick any other cpu, as before.
"""
from __future__ import annotations

from typing import Callable

from slabpolicy.workloads.spec import ALL_CPUS


class Placement:
    """Hands out cpu lists to arriving cgroups, round-robin across ``ncpus``."""

    def __init__(self, ncpus: int) -> None:
        self.ncpus = ncpus
        self._next = 0          # the first cpu of the next counted placement

    def place(self, cpus: int | tuple[int, ...] | str) -> list[int]:
        """The cpus of a new cgroup of a group whose ``cpus`` setting is ``cpus``."""
        if cpus == ALL_CPUS:
            return list(range(self.ncpus))
        if isinstance(cpus, tuple):
            return list(cpus)
        start = self._next
        self._next = (start + cpus) % self.ncpus
        return [(start + i) % self.ncpus for i in range(cpus)]

    def migrate(self, cpus: list[int], rnd: Callable[[], float]) -> None:
        """One task moves: a cpu of ``cpus`` (in place) becomes one it did not use."""
        if len(cpus) >= self.ncpus:
            return
        moved = int(rnd() * len(cpus))              # which task moves ...
        others = [c for c in range(self.ncpus) if c not in cpus]
        cpus[moved] = others[int(rnd() * len(others))]   # ... to which cpu
