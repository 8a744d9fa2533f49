"""Replay a trace through the engine: recorded allocations and frees at their
recorded times, on their recorded cpus, charged to their recorded memcgs.

* An allocation is charged to the memcg of the allocating task: the task map
  (the recorder's ``/proc/*/cgroup`` snapshot, or a ``tasks:`` file), then
  ``cgroup_attach_task`` and ``sched_process_fork`` (a child starts in its
  parent's cgroup) as they come.  An allocation in hardirq or softirq context
  or on the idle task charges no one, as ``current_obj_cgroup()`` (6.x) gives
  no objcg outside task context; one the trace marks ``accounted=false`` comes
  from the root cache, uncharged.  Kernels before ``accounted=`` do not say:
  an allocation by a task in a memcg other than the root is taken as accounted.
* A free, whatever its context (RCU callbacks free in softirq), goes to the
  object's own cache and memcg, found by its pointer.
* ``cgroup_mkdir`` creates the memcg (and any parent not seen yet),
  ``cgroup_rmdir`` takes it offline (``Simulation.memcg_offline()``): the
  policy's offline work runs as for a generated workload.
* A free with no allocation in the window is counted (``unpaired_frees``), so
  is an allocation never freed (``never_freed``) and an address allocated
  again while live (its free was not traced: ``reallocated_without_free``; the
  old object is freed then).  None of them is an error.
* A ``slabpolicy-kmem`` trace marker, written by ``slabpolicy record`` with
  the kernel's own reading of a memcg's kmem counter, is kept with the
  model's prediction at that instant, for ``slabpolicy replay-check``.

Only the live objects are held (pointer -> cache, slab, objcg): memory grows
with the live set, not with the trace.
"""
from __future__ import annotations

from slabpolicy.traces.parser import ALLOC, ATTACH, FORK, FREE, LOST, MARK, MKDIR, RMDIR
from slabpolicy.traces.compiled import CompiledTrace
from slabpolicy.traces.source import TraceSource

MARKER = "slabpolicy-kmem"


def _marker_fields(text: str) -> dict[str, str]:
    """``slabpolicy-kmem path=/job kmem_bytes=123 when=rmdir`` -> its fields."""
    return dict(part.split("=", 1) for part in text.split()[1:] if "=" in part)


class Replay:
    """The replay of one trace in one simulation, and what it counted."""

    def __init__(self, sim, source: TraceSource) -> None:
        self.sim = sim
        self.source = source
        self.counts = dict.fromkeys(("events", "allocs", "frees", "unpaired_frees",
                                     "reallocated_without_free", "irq_allocs", "unaccounted_allocs",
                                     "filtered", "lost_events", "stale_task_cgroup",
                                     "unparsed_lines"), 0)
        self.readings: list[dict] = []     # slabpolicy-kmem markers with the prediction
        self.rmdirs: list[dict] = []       # the model's counters around each rmdir
        self.never_freed = 0
        self.live_by_cache: dict[str, int] = {}    # objects live at the end, per cache
        self.memcgs = {"/": sim.memcgs.root}
        self.tasks = dict(source.tasks)

    # -- cgroups -------------------------------------------------------------------------

    def memcg(self, path: str, t: int):
        """The memcg at ``path``, created (with its missing parents) if not seen yet."""
        memcg = self.memcgs.get(path)
        if memcg is None:
            parent = self.memcg(path.rsplit("/", 1)[0] or "/", t)
            memcg = self.sim.memcgs.create(path, parent, "trace", t)
            self.memcgs[path] = memcg
        return memcg

    def task_memcg(self, pid: int, t: int):
        memcg = self.memcg(self.tasks.get(pid, "/"), t)
        if memcg.state != "online":        # a task map older than the cgroup's rmdir
            self.counts["stale_task_cgroup"] += 1
            while memcg.state != "online":
                memcg = memcg.parent
        return memcg

    def _wanted(self, path: str) -> bool:
        cgroups = self.source.cgroups
        return not cgroups or any(path == c or c == "/" or path.startswith(c + "/")
                                  for c in cgroups)

    def rmdir(self, path: str, t: int, cpu: int) -> None:
        memcg = self.memcgs.pop(path, None)
        if memcg is None or memcg.state != "online":
            return
        page = self.sim.workload.machine.page_size
        before = memcg.usage * page
        self.sim.memcg_offline(memcg, t, cpu)
        self.rmdirs.append({"path": path, "t_ns": t, "usage_bytes": before,
                            "parent": memcg.parent.name,
                            "parent_usage_after_bytes": memcg.parent.usage * page})

    def _reading(self, text: str, t: int) -> None:
        f = _marker_fields(text)
        path = f.get("path")
        if path is None or "kmem_bytes" not in f:
            return
        memcg = self.memcgs.get(path)
        self.readings.append({"path": path, "t_ns": t, "when": f.get("when", ""),
                              "measured_bytes": int(f["kmem_bytes"]),
                              "predicted_bytes": None if memcg is None else
                              memcg.usage * self.sim.workload.machine.page_size})

    # -- the run -------------------------------------------------------------------------

    def run(self) -> None:
        sim = self.sim
        src = self.source
        slub = sim.slub
        head_time = sim._queue.head_time    # the engine's next event's time
        run_events = sim.run_events
        slab_alloc = slub.slab_alloc
        slab_free = slub.slab_free
        root_caches = slub.root_caches
        objcg_of = slub.objcgs.objcg_of
        memcg_cache = sim.memcg_cache
        compiled = CompiledTrace(src.path)
        strings = compiled.strings
        index = {c.name: i for i, c in enumerate(sim.workload.caches)}
        # cache index by string number; the extra None answers the number -1 (no cache)
        cache_of = [index.get(text) for text in strings] + [None]
        root = sim.memcgs.root
        ncpus = sim.workload.machine.cpus
        accounted_only = src.accounted_only
        filter_cgroups = bool(src.cgroups)
        start = src.first_ns + src.start_ns
        end = sim.end_ns
        live: dict[int, tuple] = {}
        skipped: set[int] = set()           # live objects the filters left out
        counts = self.counts
        task_memcg = self.task_memcg
        n_events = n_alloc = n_free = n_unpaired = 0
        for t, ptr, pid, a, b, cpu, kind, irq, acc in compiled.records():
            t -= start
            if t < 0:
                continue
            if t > end:
                break
            head = head_time()
            if head is not None and head <= t:
                run_events(until=t)
            n_events += 1
            if kind == ALLOC:
                i = cache_of[a]
                if i is None or not ptr or (accounted_only and acc != 1):
                    if ptr:
                        skipped.add(ptr)
                    continue
                cpu %= ncpus
                old = live.pop(ptr, None)
                if old is not None:         # live twice: its free was not traced
                    counts["reallocated_without_free"] += 1
                    cache, slab, objcg = old
                    slab_free(cache if objcg is None else slab.cache, slab, cpu, t, objcg)
                if irq:
                    memcg = root
                    counts["irq_allocs"] += 1
                else:
                    memcg = task_memcg(pid, t)
                if filter_cgroups and not self._wanted(memcg.name if memcg is not root else "/"):
                    skipped.add(ptr)
                    continue
                if memcg is root or acc == 0:
                    cache = root_caches[i]
                    objcg = None
                    counts["unaccounted_allocs"] += memcg is not root
                else:
                    cache = memcg_cache(memcg, i)
                    objcg = objcg_of(memcg) if cache.account else None
                live[ptr] = (cache, slab_alloc(cache, cpu, t, objcg), objcg)
                n_alloc += 1
            elif kind == FREE:
                rec = live.pop(ptr, None)
                if rec is None:
                    if ptr in skipped:
                        skipped.discard(ptr)
                        counts["filtered"] += 1
                    elif ptr:
                        n_unpaired += 1
                    continue
                cache, slab, objcg = rec
                if objcg is None:
                    slab_free(cache, slab, cpu % ncpus, t)
                else:
                    slab_free(slab.cache, slab, cpu % ncpus, t, objcg)
                n_free += 1
            else:
                self._other(kind, ptr - 1, strings[a] if a >= 0 else None, pid, b,
                            t, cpu % ncpus)
        run_events()
        counts.update(events=n_events, allocs=n_alloc, frees=n_free, unpaired_frees=n_unpaired,
                      unparsed_lines=compiled.unparsed)
        self.never_freed = len(live)
        for cache, _, _ in live.values():
            name = cache.kind.name
            self.live_by_cache[name] = self.live_by_cache.get(name, 0) + 1

    def _other(self, kind: int, root: int, text: str | None, pid: int, target: int, t: int,
               cpu: int) -> None:
        """A cgroup, fork, marker or lost-events record (``root`` -1: not printed)."""
        ours = self.source.hierarchy is None or root < 0 or root == self.source.hierarchy
        if kind == ATTACH:
            if ours:
                self.tasks[target] = text
        elif kind == FORK:
            parent = self.tasks.get(pid)
            if parent is not None:
                self.tasks[target] = parent
        elif kind == MKDIR:
            if ours:
                self.memcg(text, t)
        elif kind == RMDIR:
            if ours:
                self.rmdir(text, t, cpu)
        elif kind == MARK:
            if text.startswith(MARKER):
                self._reading(text, t)
        elif kind == LOST:
            self.counts["lost_events"] += target

    def summary(self) -> dict:
        """The ``trace`` section of a result document."""
        page = self.sim.workload.machine.page_size
        memcgs = {path: m.usage * page for path, m in sorted(self.memcgs.items())}
        slub = self.sim.slub
        pages: dict[str, int] = {}
        for cache in slub.caches:
            pages[cache.kind.name] = pages.get(cache.kind.name, 0) + \
                cache.existing_slabs() * cache.pages
        return {"file": self.source.path, **self.counts, "never_freed": self.never_freed,
                "rmdirs": self.rmdirs, "readings": self.readings,
                "memcg_usage_bytes_at_end": memcgs,
                "cache_pages_at_end": dict(sorted(pages.items())),
                "cache_live_objects_at_end": dict(sorted(self.live_by_cache.items()))}


def replay(sim, source: TraceSource) -> None:
    """Run ``sim`` on the events of ``source`` (the engine's run loop for a trace)."""
    sim.replay = Replay(sim, source)
    sim.replay.run()
