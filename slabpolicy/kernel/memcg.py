"""Memory cgroups: the tree, hierarchical kmem page counters, and the life cycle.

Models the parts of mm/memcontrol.c (and the 2012 res_counter it used) that the
dead-cache question touches:

* a tree under ``root``; charging a child charges every ancestor
  (``page_counter_charge()`` / ``res_counter_charge()`` with use_hierarchy);
* ``res_counter_uncharge_until(counter, top, val)``: the seed patch's helper that
  uncharges a counter and its ancestors up to, not including, ``top``;
* online -> offline (rmdir, ``mem_cgroup_css_offline()`` / the seed's
  ``mem_cgroup_pre_destroy()``) -> released once nothing refers to it
  (``mem_cgroup_css_free()``); a memcg that is offline but not yet released is
  *dying*, and every ancestor counts it in ``nr_dying_descendants``.

References are counted as ``css_get``/``css_put`` are: each live kmem cache of a
memcg holds one (the seed's ``mem_cgroup_put(cache->memcg)`` drops it), each
child holds one on its parent until the child is released, and a policy may
take more (an object cgroup, say).
"""
from __future__ import annotations

ONLINE = "online"
OFFLINE = "offline"     # dying: offline, still referenced
RELEASED = "released"


class MemCgroup:
    """One memory cgroup: a node of the tree with a kmem page counter."""

    __slots__ = ("id", "name", "parent", "children", "state", "usage", "max_usage",
                 "refs", "caches", "lineage", "nr_dying_descendants", "group",
                 "online_ns", "rmdir_ns", "offline_ns", "released_ns", "policy_data", "high", "max")

    def __init__(self, id: int, name: str, parent: MemCgroup | None, group: str = ""):
        self.id = id
        self.name = name
        self.parent = parent
        self.children: list[MemCgroup] = []
        self.state = ONLINE
        #: kmem pages charged to this memcg and its descendants (page_counter usage)
        self.usage = 0
        self.max_usage = 0
        #: references held on this memcg besides being online (css refcount)
        self.refs = 0
        #: kmem caches this memcg allocates from, by cache kind index (memcg->kmem_cache[])
        self.caches: dict[int, object] = {}
        #: this memcg and its ancestors, nearest first: the counters a charge touches
        self.lineage: tuple[MemCgroup, ...] = (self,) + (parent.lineage if parent else ())
        self.nr_dying_descendants = 0
        self.group = group
        self.online_ns = 0
        #: when rmdir was asked: its tasks are gone, it allocates no more from then on
        self.rmdir_ns: int | None = None
        self.offline_ns: int | None = None
        self.released_ns: int | None = None
        #: free for the policy plugin (its own per-memcg state)
        self.policy_data: dict = {}
        #: memory.high and memory.max in pages (None: no limit), see kernel/reclaim.py
        self.high: int | None = None
        self.max: int | None = None
        if parent is not None:
            parent.children.append(self)

    @property
    def is_root(self) -> bool:
        return self.parent is None

    @property
    def dying(self) -> bool:
        return self.state == OFFLINE

    def __repr__(self) -> str:
        return f"<memcg {self.name} {self.state} usage={self.usage}>"


def page_counter_charge(memcg: MemCgroup, pages: int) -> None:
    """page_counter_charge(): charge ``memcg`` and every ancestor (``MemcgTree.charge``; a
    function of its own so that the charge paths of objcg call it without a look-up)."""
    for m in memcg.lineage:
        m.usage += pages
        if m.usage > m.max_usage:
            m.max_usage = m.usage


def page_counter_uncharge(memcg: MemCgroup, pages: int) -> None:
    """page_counter_uncharge(): uncharge ``memcg`` and every ancestor (``MemcgTree.uncharge``)."""
    for m in memcg.lineage:
        m.usage -= pages


class MemcgTree:
    """The memcg hierarchy and its counters; owns every state transition."""

    def __init__(self) -> None:
        self.root = MemCgroup(0, "root", None, group="root")
        self.by_id: dict[int, MemCgroup] = {0: self.root}
        #: memcgs offline but not released, as the root's nr_dying_descendants
        self.nr_dying = 0
        self.released: list[MemCgroup] = []
        self._next_id = 1

    def create(self, name: str, parent: MemCgroup, group: str, now: int) -> MemCgroup:
        """mem_cgroup_css_alloc() + online: a new child of ``parent``."""
        if parent.state != ONLINE:
            raise ValueError(f"cannot create {name!r} under {parent.name!r}: parent is {parent.state}")
        memcg = MemCgroup(self._next_id, name, parent, group)
        parent.refs += 1          # a child pins its parent until it is freed (css_get)
        memcg.online_ns = now
        self.by_id[memcg.id] = memcg
        self._next_id += 1
        return memcg

    # -- page counters ---------------------------------------------------------------

    #: page_counter_charge() and page_counter_uncharge() of a memcg and every ancestor
    charge = staticmethod(page_counter_charge)
    uncharge = staticmethod(page_counter_uncharge)

    @staticmethod
    def uncharge_until(memcg: MemCgroup, top: MemCgroup | None, pages: int) -> None:
        """res_counter_uncharge_until(): uncharge ``memcg`` and its ancestors below ``top``.

        ``top`` itself and everything above it stay charged, which is how the seed
        patch hands a dying memcg's kmem charge to its parent.
        """
        for m in memcg.lineage:
            if m is top:
                return
            m.usage -= pages

    @staticmethod
    def charge_until(memcg: MemCgroup, top: MemCgroup | None, pages: int) -> None:
        """Charge ``memcg`` and its ancestors below ``top``: the other half of moving a
        charge between two memcgs whose counters from ``top`` up already hold it."""
        for m in memcg.lineage:
            if m is top:
                return
            m.usage += pages
            if m.usage > m.max_usage:
                m.max_usage = m.usage

    # -- life cycle ------------------------------------------------------------------

    def offline(self, memcg: MemCgroup, now: int) -> None:
        """rmdir: the memcg goes offline and is dying until released."""
        if memcg.state != ONLINE or memcg.is_root:
            raise ValueError(f"cannot offline {memcg.name!r} ({memcg.state})")
        memcg.state = OFFLINE
        memcg.offline_ns = now
        self.nr_dying += 1
        for m in memcg.lineage[1:]:
            m.nr_dying_descendants += 1

    def get(self, memcg: MemCgroup) -> None:
        """css_get(): take a reference (a kmem cache, an object cgroup)."""
        if memcg.state == RELEASED:
            raise ValueError(f"css_get on released memcg {memcg.name!r}")
        memcg.refs += 1

    def put(self, memcg: MemCgroup, now: int) -> None:
        """css_put(): drop a reference; an offline memcg with none left is released."""
        memcg.refs -= 1
        if memcg.refs < 0:
            raise ValueError(f"css_put underflow on memcg {memcg.name!r}")
        self.try_release(memcg, now)

    def try_release(self, memcg: MemCgroup, now: int) -> bool:
        """mem_cgroup_css_free() once offline and unreferenced; True if released."""
        if memcg.state != OFFLINE or memcg.refs:
            return False
        memcg.state = RELEASED
        memcg.released_ns = now
        self.nr_dying -= 1
        for m in memcg.lineage[1:]:
            m.nr_dying_descendants -= 1
        self.released.append(memcg)
        if memcg.parent is not None:
            memcg.parent.children.remove(memcg)
            self.put(memcg.parent, now)
        return True

    def __iter__(self):
        return iter(self.by_id.values())
