"""Object cgroups: per-object kmem charging, as Linux does since 5.14 (the 6.x kernels).

A cache marked ``account`` (SLAB_ACCOUNT with the slab controller) is shared by
every memcg, and each object is charged to its memcg's object cgroup in bytes:
``obj_full_size(s) = s->size + sizeof(struct obj_cgroup *)``.  Bytes go through
a per-cpu stock (``struct obj_stock``): an allocation is charged from the stock
when it holds enough bytes of the same objcg (consume_obj_stock()); otherwise
whole pages are charged to the memcg's page counter and the rest of the last
page goes into the stock (obj_cgroup_charge()).  A free gives its bytes back to
the stock, which uncharges whole pages when it holds more than a page
(refill_obj_stock(), 5387c90490f7, 5.14); a stock switching to another objcg
drains the old one's bytes (drain_obj_stock()): whole pages uncharged, the
remainder parked in ``objcg->nr_charged_bytes``.  Page charges go through the
per-cpu memcg stock (try_charge(), :mod:`slabpolicy.kernel.memcg_stock`) and
page uncharges back into it (obj_cgroup_uncharge_pages() -> refill_stock()).

Every slab of an accounted cache carries the ``obj_cgroups`` vector, one
``struct obj_cgroup *`` per object (``slab->obj_exts`` since 6.10, a
``struct slabobj_ext`` of 8 bytes without memory allocation profiling),
kcalloc()'ed when the slab is created (account_slab(), 2e9bd4831599, 5.12) or,
for a slab made before its cache was accounted, at its first charged object
(memcg_slab_post_alloc_hook()), and kfree()'d with the slab.  It is a kmalloc
allocation without __GFP_ACCOUNT: slab memory that no memcg is charged for.
The model keeps its bytes, rounded up to the kmalloc size class, and counts
the pages of the kmalloc slabs that hold them as full pages of vectors
(``vector_pages``) in the run's slab pages.

At offline the memcg's object cgroups are re-parented in O(1)
(memcg_reparent_objcgs()): they point at the parent from then on, so later
frees uncharge the parent.  The model also moves the pages they had charged to
the dying memcg up to the parent (the kernel leaves them in the freed memcg's
counter), so that the checker's rule "no released memcg is charged" holds.
The memcg's objcg is killed then; when its last reference goes (its last
object freed, and no per-cpu stock caching it) obj_cgroup_release() uncharges
its parked bytes, whole pages by then, and takes it off its memcg's list under
the objcg lock.

What Linux 5.9 did differently is :mod:`slabpolicy.kernel.objcg_eras`.

The byte bookkeeping is exact, so the checker can ask:
``pages charged through objcgs * PAGE_SIZE == bytes of live objects + bytes in
the stocks + bytes parked in the objcgs``.
"""
from __future__ import annotations

from slabpolicy.kernel.fast_int import time_add
from slabpolicy.kernel.memcg import (MemCgroup, MemcgTree, page_counter_charge,
                                     page_counter_uncharge)

#: sizeof(struct obj_cgroup *): the per-object pointer charged with every object
OBJ_POINTER_BYTES = 8


def kmalloc_size(size: int, page_size: int) -> int:
    """The bytes kmalloc(size) takes in SLUB (x86-64): its size class, the powers of two
    from 8 and the 96 and 192 byte caches, up to KMALLOC_MAX_CACHE_SIZE (two pages);
    above it, whole pages from the page allocator (kmalloc_large())."""
    if size > 2 * page_size:
        return -(-size // page_size) * page_size
    if 64 < size <= 96:
        return 96
    if 128 < size <= 192:
        return 192
    return max(8, 1 << (size - 1).bit_length())


class ObjCgroup:
    """struct obj_cgroup: what an accounted object points to."""

    __slots__ = ("id", "memcg", "nr_charged_bytes", "live_bytes", "pages", "killed")

    def __init__(self, id: int, memcg: MemCgroup) -> None:
        self.id = id
        self.memcg = memcg            # the memcg it charges now (the parent's after offline)
        self.nr_charged_bytes = 0     # bytes parked by drain_obj_stock()
        self.live_bytes = 0           # bytes of live objects charged through it
        self.pages = 0                # pages charged through it, not yet uncharged
        #: percpu_ref_kill()ed at its memcg's offline: released when its objects and
        #: the stocks caching it are gone (the references it still has)
        self.killed = False


class ObjStock:
    """The per-cpu ``struct obj_stock``: one cached objcg and its pre-charged bytes."""

    __slots__ = ("cached", "nr_bytes")

    def __init__(self) -> None:
        self.cached: ObjCgroup | None = None
        self.nr_bytes = 0


class ObjcgAccounting:
    """Every objcg, per-cpu stock and obj_cgroups vector of a run, as 5.14+ keeps
    them; charges advance the allocator's op clock."""

    #: the kernel era this class models (objcg's option ``era``)
    era = "6.x"

    def __init__(self, alloc, memcgs: MemcgTree, cpus: int, page_size: int) -> None:
        self.alloc = alloc
        self.memcgs = memcgs
        self.page_size = page_size
        self.stocks = [ObjStock() for _ in range(cpus)]
        self.by_memcg: dict[int, ObjCgroup] = {}          # memcg->objcg
        self.lists: dict[int, list[ObjCgroup]] = {}       # memcg->objcg_list
        self.all: list[ObjCgroup] = []
        self.pages = 0                # pages charged through every objcg
        #: the kmalloc bytes of every slab's obj_cgroups vector (each in its ``Slab.vector``)
        self.vector_bytes = 0
        #: the pages of the kmalloc slabs holding the vectors, packed full
        self.vector_pages = 0
        self.c_obj = self.object_cost(alloc.costs)
        #: the allocator's per-cpu memcg stock, which page charges and uncharges go through
        self.memcg_stock = alloc.memcg_stock
        #: the lock of the objcg lists (objcg_lock; 5.9's css_set_lock): set with the era
        self.lock = None

    @staticmethod
    def object_cost(costs: dict[str, int]) -> int:
        """What charging or uncharging one object costs (its vmstat update included)."""
        return costs["objcg_charge"]

    def objcg_of(self, memcg: MemCgroup) -> ObjCgroup:
        """memcg->objcg, allocated when first needed (memcg_online_kmem())."""
        objcg = self.by_memcg.get(memcg.id)
        if objcg is None:
            objcg = self.by_memcg[memcg.id] = ObjCgroup(len(self.all), memcg)
            self.all.append(objcg)
            self.lists.setdefault(memcg.id, []).append(objcg)
        return objcg

    # The charge path (charge(), uncharge() and the steps they take on ``cpu``, the
    # allocator's current cpu) is handed the allocator's clock ``now`` and returns it
    # advanced by what it cost, which the allocator stores: the clock is a local
    # variable along the path instead of an attribute of the allocator written at
    # every step.  Inside the path, each step is handed ``now`` (the clock when the
    # path started) and ``spent`` (what the path has cost so far), and returns
    # ``spent`` plus what the step cost; the path adds it to the clock once, at its
    # end (the clock is a large integer, and every addition to it makes a new one).
    # Where the path leaves it for code that reads or moves the allocator's clock
    # (obj_cgroup_release() takes the objcg lock), drain() stores the clock
    # (``now + spent``) first and reads back what the release cost.

    def _uncharge_pages(self, objcg: ObjCgroup, cpu: int, pages: int, spent: int) -> int:
        """obj_cgroup_uncharge_pages(): back into the per-cpu memcg stock (refill_stock())
        of ``cpu``; returns ``spent`` plus what it cost."""
        spent += self.uncharge_cost(objcg, cpu, pages)
        page_counter_uncharge(objcg.memcg, pages)
        objcg.pages -= pages
        self.pages -= pages
        return spent

    def uncharge_cost(self, objcg: ObjCgroup, cpu: int, pages: int) -> int:
        """What a page uncharge costs: refill_stock() on ``cpu``."""
        return self.memcg_stock.uncharge(objcg.memcg, cpu, pages)

    def charge(self, objcg: ObjCgroup, cpu: int, size: int, now: int) -> int:
        """obj_cgroup_charge() of one object of ``size`` bytes on ``cpu`` (the allocator's
        current cpu) at ``now``: from the stock (consume_obj_stock()), else whole pages
        (obj_cgroup_charge_pages(), written out here: nearly every charge of a run
        comes this way, as a cpu's stock seldom holds the objcg of the next
        allocation) and the rest of the last page into the stock.  Returns the clock
        after it."""
        objcg.live_bytes += size
        nbytes = size             # compiled, a C copy: objcg.pxd says why ``size`` is not
        stock = self.stocks[cpu]
        if stock.cached is objcg and stock.nr_bytes >= nbytes:   # consume_obj_stock()
            stock.nr_bytes -= nbytes
            return time_add(now, self.c_obj)
        page_size = self.page_size
        pages = -(-nbytes // page_size)                          # obj_cgroup_charge_pages()
        memcg = objcg.memcg
        spent = self.c_obj + self.memcg_stock.charge(memcg, cpu, pages)
        page_counter_charge(memcg, pages)
        objcg.pages += pages
        self.pages += pages
        if pages * page_size != nbytes:
            spent = self.refill(objcg, cpu, pages * page_size - nbytes, False, now, spent)
        return time_add(now, spent)

    def uncharge(self, objcg: ObjCgroup, cpu: int, size: int, now: int) -> int:
        """obj_cgroup_uncharge() at ``now``: the object's bytes go back to this cpu's
        stock.  Returns the clock after it."""
        objcg.live_bytes -= size
        return time_add(now, self.refill(objcg, cpu, size, True, now, self.c_obj))

    def refill(self, objcg: ObjCgroup, cpu: int, nr_bytes: int, allow_uncharge: bool,
               now: int, spent: int) -> int:
        """refill_obj_stock(): add bytes to the stock; more than a page is uncharged.
        Returns ``spent`` plus what it cost."""
        stock = self.stocks[cpu]
        if stock.cached is not objcg:
            spent = self.drain(stock, cpu, now, spent)
            stock.nr_bytes = objcg.nr_charged_bytes
            objcg.nr_charged_bytes = 0
            stock.cached = objcg
            allow_uncharge = True
        stocked = stock.nr_bytes + nr_bytes
        if allow_uncharge and stocked > self.page_size:
            pages, stock.nr_bytes = divmod(stocked, self.page_size)
            return self._uncharge_pages(objcg, cpu, pages, spent)
        stock.nr_bytes = stocked
        return spent

    def drain(self, stock: ObjStock, cpu: int, now: int, spent: int) -> int:
        """drain_obj_stock() of ``cpu``'s stock: whole pages uncharged, the rest parked
        in the objcg.  Returns ``spent`` plus what it cost."""
        old = stock.cached
        if old is None:
            return spent
        if stock.nr_bytes:
            pages, nr_bytes = divmod(stock.nr_bytes, self.page_size)
            if pages:
                spent = self._uncharge_pages(old, cpu, pages, spent)
            old.nr_charged_bytes += nr_bytes
            stock.nr_bytes = 0
        stock.cached = None
        if old.killed and not old.live_bytes:     # obj_cgroup_put(old): the last reference
            alloc = self.alloc
            alloc.now = now + spent               # release takes the lock at this time
            self.release_if_unused(old)
            spent = alloc.now - now
        return spent

    # -- the obj_cgroups vector ----------------------------------------------------------

    def slab_created(self, slab) -> None:
        """account_slab() of an accounted cache's new slab: its vector, from 5.12 on."""
        self.alloc_vector(slab)

    def post_alloc(self, slab) -> None:
        """memcg_slab_post_alloc_hook(): a slab without a vector gets one now."""
        if not slab.vector:
            self.alloc_vector(slab)

    def alloc_vector(self, slab) -> None:
        """kcalloc_node(objects, sizeof(struct obj_cgroup *)): one kmalloc."""
        alloc = self.alloc
        nbytes = kmalloc_size(slab.objects * OBJ_POINTER_BYTES, self.page_size)
        slab.vector = nbytes
        self.vector_bytes += nbytes
        self.vector_pages = -(-self.vector_bytes // self.page_size)
        alloc.now += alloc.c_alloc_fast
        held = alloc.total_pages + self.vector_pages
        if held > alloc.peak_pages:
            alloc.peak_pages = held

    def free_vector(self, slab) -> None:
        """memcg_free_slab_cgroups() of a slab that has a vector: it goes with its slab
        (kfree())."""
        self.vector_bytes -= slab.vector
        slab.vector = 0
        self.vector_pages = -(-self.vector_bytes // self.page_size)
        self.alloc.now += self.alloc.c_free_fast

    # -- offline ---------------------------------------------------------------------------

    def reparent(self, memcg: MemCgroup, parent: MemCgroup) -> None:
        """memcg_reparent_objcgs(): under the era's lock, the memcg's active objcg and
        those it inherited charge ``parent`` from now on, one list step each
        (list_for_each_entry() over memcg->objcg_list); then percpu_ref_kill() of the
        active one, released at once if nothing refers to it any more."""
        alloc = self.alloc
        alloc.lock(self.lock)
        moved = 0
        objcgs = self.lists.pop(memcg.id, [])
        active = self.by_memcg.pop(memcg.id, None)
        alloc.now += alloc.c_list_op * (len(objcgs) + (active is None))  # memcg->objcg exists
        for objcg in objcgs:
            objcg.memcg = parent
            moved += objcg.pages
        self.lists.setdefault(parent.id, []).extend(objcgs)
        if moved:
            self.memcgs.uncharge_until(memcg, parent, moved)
        alloc.unlock(self.lock)
        if active is not None:
            active.killed = True
            if not active.live_bytes:
                self.release_if_unused(active)

    #: obj_cgroup_release() uncharges the parked pages under the lock (5.9) or before it
    #: (0764db9b49c9)
    release_uncharges_under_lock = False

    def release_if_unused(self, objcg: ObjCgroup) -> None:
        """obj_cgroup_release(), when a killed objcg's last reference goes: no live
        object and no stock caches it.  Its parked bytes are whole pages by then
        (the kernel WARNs otherwise): they are uncharged, and it leaves its memcg's
        objcg_list under the lock."""
        if any(stock.cached is objcg for stock in self.stocks):
            return
        alloc = self.alloc
        pages, objcg.nr_charged_bytes = divmod(objcg.nr_charged_bytes, self.page_size)
        objcg.killed = False                  # released: never again
        if pages and not self.release_uncharges_under_lock:
            alloc.now += self._uncharge_pages(objcg, alloc.cur_cpu, pages, 0)
        alloc.lock(self.lock)
        if pages and self.release_uncharges_under_lock:
            alloc.now += self._uncharge_pages(objcg, alloc.cur_cpu, pages, 0)
        alloc.now += alloc.c_list_op          # list_del(&objcg->list)
        self.lists[objcg.memcg.id].remove(objcg)
        alloc.unlock(self.lock)

    def unaccounted_bytes(self) -> int:
        """Charged pages' bytes minus what is accounted for (0 when the books balance)."""
        held = 0
        for objcg in self.all:
            held += objcg.live_bytes + objcg.nr_charged_bytes
        for stock in self.stocks:
            held += stock.nr_bytes
        pages = self.pages          # a Python int, compiled too: see objcg.pxd
        return pages * self.page_size - held
