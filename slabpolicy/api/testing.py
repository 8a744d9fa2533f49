"""A test kit: a small allocator and memcg tree in a few lines, for scenario tests.

Used by slabpolicy's own tests and meant for plugin authors::

    from slabpolicy.api.testing import Kit

    kit = Kit(cpus=2, policy="leave-in-place")
    cg = kit.memcg("a")
    dentry = kit.cache(cg, "dentry")
    objs = kit.alloc(dentry, n=21, cpu=0)        # one full order-0 slab
    kit.offline(cg)
    kit.free(dentry, objs)
    kit.assert_accounting()

Operations are spaced ``step_ns`` apart in simulated time, so that they do not
queue behind each other unless a test asks for it (``at=``).  The accounting
checker runs in strict mode: a violation raises at once.
"""
from __future__ import annotations

from typing import Any, Iterable

from slabpolicy.kernel.engine import Simulation
from slabpolicy.kernel.list_lru import LruItem, lru_item
from slabpolicy.errors import SlabpolicyError
from slabpolicy.kernel.memcg import MemCgroup
from slabpolicy.kernel.objcg import ObjCgroup
from slabpolicy.api.plugin_manager import (build_policy, make_plugin_manager, policy_registry,
                                          register_run_plugin)
from slabpolicy.kernel.slub import PARTIAL, KmemCache, Slab
from slabpolicy.kernel.costs import default_costs
from slabpolicy.kernel.geometry import DEFAULT_ERA, REMOTE_NODE_DEFRAG_RATIO
from slabpolicy.workloads.spec import CacheKind, Machine, Workload
from slabpolicy.workloads.units import UnitError, parse_duration

#: cache kinds a kit knows by default: name -> (object size, slot size)
DEFAULT_KINDS = {"dentry": (192, 192), "inode_cache": (616, 624), "kmalloc-64": (64, 64)}


def _duration(value: int | str, what: str) -> int:
    """Nanoseconds from an int or a duration string ("10ms"), for the kit's arguments."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return parse_duration(value)
    except UnitError as exc:
        raise SlabpolicyError(f"kit: {what}: {exc}") from None


class Kit:
    """A Simulation without a workload: the test drives every alloc, free and rmdir."""

    def __init__(self, *, cpus: int = 2, nodes: int = 1, page_size: int = 4096,
                 kinds: dict[str, tuple[int, int]] | None = None, store_user: Iterable[str] = (),
                 rcu: dict[str, str] | None = None, memory: int | None = None,
                 policy: str = "leave-in-place", options: dict[str, Any] | None = None,
                 costs: dict[str, int] | None = None, strict: bool = True,
                 step_ns: int = 1_000, plugins: tuple[str, ...] = (),
                 tick_interval: int | str = "1s", slub: str = DEFAULT_ERA,
                 remote_node_defrag_ratio: int = REMOTE_NODE_DEFRAG_RATIO) -> None:
        store_user = set(store_user)
        kinds = kinds or DEFAULT_KINDS
        rcu = rcu or {}
        table = default_costs()
        table.update(costs or {})
        machine = Machine(cpus=cpus, nodes=nodes, page_size=page_size, slub_max_order=3,
                          slub_min_objects=0, slub_min_order=0, memory=memory, slub=slub,
                          remote_node_defrag_ratio=remote_node_defrag_ratio)
        self.workload = Workload(
            name="kit", description="", path="<kit>", sha256="", seed=0,
            duration_ns=1 << 62, sample_interval_ns=1 << 62,
            tick_interval_ns=_duration(tick_interval, "tick_interval"),
            machine=machine,
            caches=tuple(CacheKind(name, obj, slot, name in store_user, rcu.get(name, "none"))
                         for name, (obj, slot) in kinds.items()),
            cache_creation="lazy", groups=(), policies=(), plugins=tuple(plugins), costs=table)
        pm = make_plugin_manager(tuple(plugins))
        entry = policy_registry(pm).get(policy)
        if entry is None:
            raise SlabpolicyError(f"kit: no policy {policy!r} installed")
        parsed, problems = entry.spec.parse_options(options or {})
        if problems:
            raise SlabpolicyError(f"kit: bad options for {policy}: {problems}")
        self.policy = build_policy(entry, parsed, policy)
        register_run_plugin(pm, self.policy, f"policy:{policy}")
        self.sim = Simulation(self.workload, seed=0, hook=pm.hook, policy_label=policy,
                              strict=strict, trace_locks=True)
        self.slub = self.sim.slub
        self.memcgs = self.sim.memcgs
        self.root = self.memcgs.root
        self.step_ns = step_ns
        self.t = 0
        self._kind_index = {k.name: i for i, k in enumerate(self.workload.caches)}
        pm.hook.slabpolicy_run_start(sim=self.sim)
        self.sim.start_ticks()

    # -- building --------------------------------------------------------------------

    def memcg(self, name: str, parent: MemCgroup | None = None) -> MemCgroup:
        """mkdir: a new online memcg under ``parent`` (default: the root)."""
        return self.memcgs.create(name, parent or self.root, "kit", self._tick())

    def cache(self, memcg: MemCgroup, kind: str) -> KmemCache:
        """The cache ``memcg`` allocates ``kind`` from (the policy chooses, once)."""
        return self.sim.memcg_cache(memcg, self._kind_index[kind])

    # -- acting ----------------------------------------------------------------------

    def _tick(self, at: int | None = None) -> int:
        self.t = self.t + self.step_ns if at is None else at
        return self.t

    def objcg(self, memcg: MemCgroup) -> ObjCgroup | None:
        """The objcg an allocation by ``memcg`` is charged to, if its caches are
        accounted (the engine does the same for a workload's streams)."""
        return self.slub.objcgs.objcg_of(memcg)

    def alloc(self, cache: KmemCache, n: int = 1, cpu: int = 0, at: int | None = None,
              objcg: ObjCgroup | None = None) -> list[Slab]:
        """``n`` allocations from ``cache`` on ``cpu`` (charged to ``objcg`` if the cache
        is accounted); returns the object handles."""
        return [self.slub.slab_alloc(cache, cpu, self._tick(at), objcg) for _ in range(n)]

    def free(self, cache: KmemCache, objs: Slab | Iterable[Slab], cpu: int = 0,
             at: int | None = None, objcg: ObjCgroup | None = None) -> None:
        """kmem_cache_free(cache, obj) on ``cpu`` for each object handle."""
        for slab in [objs] if isinstance(objs, Slab) else list(objs):
            self.slub.slab_free(cache, slab, cpu, self._tick(at), objcg)

    def queue_free(self, cache: KmemCache, objs: Slab | Iterable[Slab], cpu: int = 0,
                   at: int | None = None, objcg: ObjCgroup | None = None) -> None:
        """Queue kmem_cache_free(cache, obj) of each object as an event at ``at`` (or
        spaced ``step_ns``), run by :meth:`run_until`.  Unlike :meth:`free`, queued
        frees run as a workload's do: in time order, each stopping at a lock until
        its turn, so frees on several cpus contend for locks."""
        for slab in [objs] if isinstance(objs, Slab) else list(objs):
            self.sim.queue_free(cache, slab, cpu, self._tick(at), objcg)

    def offline(self, memcg: MemCgroup, cpu: int = 0, at: int | None = None,
                wait: bool = True) -> None:
        """rmdir, then run the queued events until no work is left: the policy's offline
        work with its RCU waits and whatever it scheduled (``sim.schedule()``), however
        far ahead, and the runs of periodic timers and ticks that fall due meanwhile
        (they do not keep it waiting themselves).  ``wait=False`` only starts the
        offline: what it queued runs at :meth:`run_until` or :meth:`advance`."""
        self.sim.memcg_offline(memcg, self._tick(at), cpu)
        if wait:
            last = self.sim.queued_work_until()
            while last is not None:
                self.run_until(last)
                last = self.sim.queued_work_until()
            self.t = max(self.t, max(self.slub.cpu_free_at))

    def run_until(self, t: int) -> None:
        """Run the queued events due by time ``t`` (resumed offline work, scheduled
        calls); later operations of the test come after ``t``."""
        self.sim.run_events(until=t)
        self.t = max(self.t, t, max(self.slub.cpu_free_at))

    def advance(self, dt: int | str) -> None:
        """Let ``dt`` (ns, or a duration such as ``"10ms"``) of simulated time pass with
        nothing but queued work: ticks, timers and scheduled calls due by then run."""
        self.run_until(self.t + _duration(dt, "advance"))

    def unused(self, cache: KmemCache, objs: Slab | Iterable[Slab], cpu: int = 0,
               at: int | None = None, objcg: ObjCgroup | None = None) -> list[LruItem]:
        """dput() of the last reference of each object: it goes unused on its memcg's
        list_lru (kernel/list_lru.py) instead of being freed; returns the list items."""
        unused = self.sim.reclaim.unused_event
        return [unused(self._tick(at), lru_item(cache, slab, objcg, None), None, cpu)
                for slab in ([objs] if isinstance(objs, Slab) else list(objs))]

    def limit(self, memcg: MemCgroup, high: int | None = None, max: int | None = None) -> None:
        """memory.high / memory.max of ``memcg`` in pages: from now on an allocation
        that leaves it over reclaims (kernel/reclaim.py)."""
        size = self.workload.machine.page_size
        self.sim.reclaim.set_limits(memcg, None if high is None else high * size,
                                    None if max is None else max * size)

    def free_rcu(self, cache: KmemCache, objs: Slab | Iterable[Slab], cpu: int = 0,
                 at: int | None = None, objcg: ObjCgroup | None = None) -> None:
        """The frees of objects of an RCU cache (call_rcu() or kfree_rcu()): they land
        after a grace period, in a batch on ``cpu`` (run them with :meth:`run_until`)."""
        for slab in [objs] if isinstance(objs, Slab) else list(objs):
            self.sim.rcu.free_event(self._tick(at), (cache, slab, objcg), cpu)

    def lru_list(self, kind: str, memcg: MemCgroup, node: int = 0) -> list[LruItem]:
        """The unused objects on ``memcg``'s list of cache kind ``kind``, oldest first."""
        lru = self.sim.reclaim.lrus.get(self._kind_index[kind])
        return list(lru.list_one(memcg, node) or ()) if lru else []

    def flush(self, cache: KmemCache, at: int | None = None) -> None:
        """flush_all(cache): every cpu's cpu slab and cpu partial list back to the nodes."""
        self.slub.now = self._tick(at)
        self.slub.flush_all(cache)
        self.t = max(self.t, self.slub.now)     # later operations come after it

    # -- looking ---------------------------------------------------------------------

    def node_partial(self, cache: KmemCache, node: int = 0) -> list[Slab]:
        """The slabs on ``cache``'s node partial list, head first."""
        return list(cache.node[node].partial)

    def cpu_partial(self, cache: KmemCache, cpu: int = 0) -> list[Slab]:
        """The slabs on ``cpu``'s partial list of ``cache``, head (latest) first."""
        return list(reversed(cache.cpu[cpu].partial))

    def lock_stats(self, lock_class: str = "list_lock") -> dict[str, int]:
        return self.sim.locks.stats().get(lock_class, {"acquisitions": 0, "contentions": 0})

    def assert_accounting(self) -> None:
        """Run the accounting checker now; it raises on the first violation (strict)."""
        self.sim.checker.check(self.t)
        if self.sim.checker.seen:
            raise AssertionError(f"accounting violations: {self.sim.checker.messages()}")

    @staticmethod
    def on_partial(slab: Slab) -> bool:
        return slab.where == PARTIAL
