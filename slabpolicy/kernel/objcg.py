"""Object cgroups: per-object kmem charging, as Linux does since 5.9.

A cache marked ``account`` (SLAB_ACCOUNT with the slab controller) is shared by
every memcg, and each object is charged to its memcg's object cgroup in bytes:
``obj_full_size(s) = s->size + sizeof(struct obj_cgroup *)``.  Bytes go through
a per-cpu stock (``struct obj_stock``): an allocation is charged from the stock
when it holds enough bytes of the same objcg (consume_obj_stock()); otherwise
whole pages are charged to the memcg's page counter and the rest of the last
page goes into the stock (obj_cgroup_charge()).  A free gives its bytes back to
the stock, which uncharges whole pages when it holds more than a page
(refill_obj_stock()); a stock switching to another objcg drains the old one's
bytes (drain_obj_stock()): whole pages uncharged, the remainder parked in
``objcg->nr_charged_bytes``.

At offline the memcg's object cgroups are re-parented in O(1)
(memcg_reparent_objcgs()): they point at the parent from then on, so later
frees uncharge the parent.  The model also moves the pages they had charged to
the dying memcg up to the parent (the kernel leaves them in the freed memcg's
counter), so that the checker's rule "no released memcg is charged" holds.

The byte bookkeeping is exact, so the checker can ask:
``pages charged through objcgs * PAGE_SIZE == bytes of live objects + bytes in
the stocks + bytes parked in the objcgs``.
"""
from __future__ import annotations

from slabpolicy.kernel.memcg import MemCgroup, MemcgTree

#: sizeof(struct obj_cgroup *): the per-object pointer charged with every object
OBJ_POINTER_BYTES = 8


class ObjCgroup:
    """struct obj_cgroup: what an accounted object points to."""

    __slots__ = ("id", "memcg", "nr_charged_bytes", "live_bytes", "pages")

    def __init__(self, id: int, memcg: MemCgroup) -> None:
        self.id = id
        self.memcg = memcg            # the memcg it charges now (the parent's after offline)
        self.nr_charged_bytes = 0     # bytes parked by drain_obj_stock()
        self.live_bytes = 0           # bytes of live objects charged through it
        self.pages = 0                # pages charged through it, not yet uncharged


class ObjStock:
    """The per-cpu ``struct obj_stock``: one cached objcg and its pre-charged bytes."""

    __slots__ = ("cached", "nr_bytes")

    def __init__(self) -> None:
        self.cached: ObjCgroup | None = None
        self.nr_bytes = 0


class ObjcgAccounting:
    """Every objcg and per-cpu stock of a run; charges advance the allocator's op clock."""

    def __init__(self, alloc, memcgs: MemcgTree, cpus: int, page_size: int) -> None:
        self.alloc = alloc
        self.memcgs = memcgs
        self.page_size = page_size
        self.stocks = [ObjStock() for _ in range(cpus)]
        self.by_memcg: dict[int, ObjCgroup] = {}          # memcg->objcg
        self.lists: dict[int, list[ObjCgroup]] = {}       # memcg->objcg_list
        self.all: list[ObjCgroup] = []
        self.pages = 0                # pages charged through every objcg
        self.c_obj = alloc.costs["objcg_charge"]

    def objcg_of(self, memcg: MemCgroup) -> ObjCgroup:
        """memcg->objcg, allocated when first needed (memcg_online_kmem())."""
        objcg = self.by_memcg.get(memcg.id)
        if objcg is None:
            objcg = self.by_memcg[memcg.id] = ObjCgroup(len(self.all), memcg)
            self.all.append(objcg)
            self.lists.setdefault(memcg.id, []).append(objcg)
        return objcg

    def _charge_pages(self, objcg: ObjCgroup, pages: int) -> None:
        """obj_cgroup_charge_pages(): the page counter of the objcg's memcg."""
        alloc = self.alloc
        alloc.now += alloc.memcg_stock.charge(objcg.memcg, alloc.cur_cpu, pages)
        self.memcgs.charge(objcg.memcg, pages)
        objcg.pages += pages
        self.pages += pages

    def _uncharge_pages(self, objcg: ObjCgroup, pages: int) -> None:
        """obj_cgroup_uncharge_pages()."""
        alloc = self.alloc
        alloc.now += alloc.memcg_stock.uncharge(objcg.memcg, alloc.cur_cpu, pages)
        self.memcgs.uncharge(objcg.memcg, pages)
        objcg.pages -= pages
        self.pages -= pages

    def charge(self, objcg: ObjCgroup, cpu: int, size: int) -> None:
        """obj_cgroup_charge() of one object of ``size`` bytes on ``cpu``."""
        self.alloc.now += self.c_obj
        objcg.live_bytes += size
        stock = self.stocks[cpu]
        if stock.cached is objcg and stock.nr_bytes >= size:     # consume_obj_stock()
            stock.nr_bytes -= size
            return
        pages, nr_bytes = divmod(size, self.page_size)
        if nr_bytes:
            pages += 1
        self._charge_pages(objcg, pages)
        if nr_bytes:
            self.refill(objcg, cpu, self.page_size - nr_bytes, allow_uncharge=False)

    def uncharge(self, objcg: ObjCgroup, cpu: int, size: int) -> None:
        """obj_cgroup_uncharge(): the object's bytes go back to this cpu's stock."""
        self.alloc.now += self.c_obj
        objcg.live_bytes -= size
        self.refill(objcg, cpu, size, allow_uncharge=True)

    def refill(self, objcg: ObjCgroup, cpu: int, nr_bytes: int, allow_uncharge: bool) -> None:
        """refill_obj_stock(): add bytes to the stock; more than a page is uncharged."""
        stock = self.stocks[cpu]
        if stock.cached is not objcg:
            self.drain(stock)
            stock.nr_bytes, objcg.nr_charged_bytes = objcg.nr_charged_bytes, 0
            stock.cached = objcg
            allow_uncharge = True
        stock.nr_bytes += nr_bytes
        if allow_uncharge and stock.nr_bytes > self.page_size:
            pages, stock.nr_bytes = divmod(stock.nr_bytes, self.page_size)
            self._uncharge_pages(objcg, pages)

    def drain(self, stock: ObjStock) -> None:
        """drain_obj_stock(): whole pages uncharged, the rest parked in the objcg."""
        old = stock.cached
        if old is not None and stock.nr_bytes:
            pages, nr_bytes = divmod(stock.nr_bytes, self.page_size)
            if pages:
                self._uncharge_pages(old, pages)
            old.nr_charged_bytes += nr_bytes
            stock.nr_bytes = 0
        stock.cached = None

    def reparent(self, memcg: MemCgroup, parent: MemCgroup) -> None:
        """memcg_reparent_objcgs(): the memcg's objcgs charge ``parent`` from now on."""
        moved = 0
        objcgs = self.lists.pop(memcg.id, [])
        for objcg in objcgs:
            objcg.memcg = parent
            moved += objcg.pages
        self.lists.setdefault(parent.id, []).extend(objcgs)
        self.by_memcg.pop(memcg.id, None)
        if moved:
            self.memcgs.uncharge_until(memcg, parent, moved)

    def unaccounted_bytes(self) -> int:
        """Charged pages' bytes minus what is accounted for (0 when the books balance)."""
        held = sum(o.live_bytes + o.nr_charged_bytes for o in self.all)
        held += sum(s.nr_bytes for s in self.stocks)
        return self.pages * self.page_size - held
