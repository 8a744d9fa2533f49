"""memcg-aware list_lru (mm/list_lru.c): the unused objects of a cache, per memcg and node.

Unused dentries and inodes are not freed: dput() of the last reference puts the
dentry on its superblock's ``s_dentry_lru`` (d_lru_add() -> list_lru_add()),
and a shrinker frees it later, oldest first, when memory is short.  Since Linux
4.0 the list is memcg-aware ("list_lru: introduce per-memcg lists", Vladimir
Davydov): one ``list_lru_one`` per memcg and per node, the memcg being the one
the object's slab page is charged to (list_lru_from_kmem()), all of one node's
lists under that node's ``nlru->lock`` (lock class ``list_lru_lock`` here).

At offline, memcg_offline_kmem() hands the memcg's kmemcg_id to the parent and
memcg_drain_all_list_lrus() splices every list of the dying memcg onto the
parent's (2788cf0c401c, "memcg: reparent list_lrus and free kmemcg_id on css
offline", Linux 4.0): the objects stay in the dead memcg's slabs, and so keep
its caches and the memcg itself alive, but the parent's reclaim now finds them
(list_splice_init() puts them at the head: they are the first its shrinker
scans).  An object that becomes unused after its memcg went offline goes to the
nearest online ancestor's list for the same reason.  Linux 4.19 added the
shrinker bitmap (memcg_set_shrinker_bit() in list_lru_add() and in the drain),
so memcg reclaim only calls shrinkers of memcgs with objects on their lists;
that is what :meth:`ListLru.memcgs_with_items` gives the reclaim loop.  Before
4.0 the lists were per superblock only (``memcg_aware=False``): memcg reclaim
never reached them, only global reclaim did.

An object is an :class:`LruItem`; a list is a :class:`ListLruOne`, the kernel's
``struct list_lru_one``: a doubly linked list through its items (the object's
``list_head``, here the item's ``prev`` and ``next``), head = oldest, and its
``nr_items``.  Add at the tail, delete and walking from the head are O(1) per
object, as in the kernel, with no hashing (a dict used as an ordered set cost a
tenth of an object's going unused on memory-pressure).  An item also holds the
list it is on, so that taking it off needs no lookup of its (memcg, node) key
(the kernel finds it from the object's page: list_lru_from_kmem()).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from slabpolicy.kernel.fast_int import time_add
from slabpolicy.kernel.memcg import ONLINE, MemCgroup
from slabpolicy.kernel.policy_ops import PolicyOperations

try:
    import cython
except ImportError:     # Cython is not a runtime dependency: the .py runs as it is
    from slabpolicy import _cython_stub as cython

if TYPE_CHECKING:
    from slabpolicy.kernel.slub import Allocator, KmemCache, Slab


def charged_memcg(item: LruItem) -> MemCgroup:
    """The memcg an object's memory is charged to now: its objcg's (re-parented at
    offline, 5.9+) or its slab page's cache's (mem_cgroup_from_obj())."""
    objcg = item.objcg          # C types on the compiled core (list_lru.pxd): their
    if objcg is not None:       # memcg a C field, not an attribute lookup
        return objcg.memcg
    cache = item.slab.cache
    return cache.memcg


@cython.freelist(1024)
@cython.cclass
class LruItem:
    """One unused object: where it lives, which list holds it and its neighbours
    there, since when (made by :func:`lru_item`).

    Compiled, the class keeps up to 1,024 freed items and reuses them
    (``cython.freelist``; ``cython.cclass`` because Cython takes that decorator only
    on a class it sees as an extension type in the ``.py``): each object that goes
    unused makes one item, and an item dies at its expiry, so allocations and frees
    alternate.  At 12.8 s of memory-pressure under scan-and-move 54% of the 38,465
    items came from the list, sparing the allocator's malloc, free and zeroing: 3.5 M
    instructions fewer (callgrind; the rest are the live items' net growth).  Their
    memory is a few hundred KiB at most, kept for the next run in the process."""

    __slots__ = ("cache", "slab", "objcg", "node", "lru", "prev", "next", "since", "freed")


class ListLruOne:
    """``struct list_lru_one`` (include/linux/list_lru.h, 4.0+): one memcg's unused
    objects on one node, oldest first, linked through the items, and their count."""

    __slots__ = ("head", "tail", "nr_items")

    def __init__(self) -> None:
        self.head: LruItem | None = None
        self.tail: LruItem | None = None
        self.nr_items = 0

    def add_tail(self, item: LruItem) -> None:
        """list_add_tail(&item, &l->list); l->nr_items++ (list_lru_add())."""
        tail = self.tail
        item.prev = tail
        item.next = None
        if tail is None:
            self.head = item
        else:
            tail.next = item
        self.tail = item
        item.lru = self
        self.nr_items += 1

    def remove(self, item: LruItem) -> None:
        """list_del_init(&item); l->nr_items-- (list_lru_del(), list_lru_isolate())."""
        prev = item.prev
        nxt = item.next
        if prev is None:
            self.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.prev = prev
        item.prev = item.next = None
        item.lru = None
        self.nr_items -= 1

    def splice_init(self, dst: ListLruOne) -> None:
        """list_splice_init(&self->list, &dst->list): this list's items go to the head
        of ``dst`` (before its own), and this list is left empty."""
        if self.head is None:
            return
        item = self.head
        while item is not None:
            item.lru = dst
            item = item.next
        if dst.head is None:
            dst.tail = self.tail
        else:
            self.tail.next = dst.head
            dst.head.prev = self.tail
        dst.head = self.head
        dst.nr_items += self.nr_items
        self.head = self.tail = None
        self.nr_items = 0

    def items(self) -> list[LruItem]:
        """The items, oldest first."""
        out = []
        item = self.head
        while item is not None:
            out.append(item)
            item = item.next
        return out

    def __len__(self) -> int:
        return self.nr_items

    def __iter__(self):
        return iter(self.items())


def lru_item(cache: KmemCache, slab: Slab, objcg, since: int | None) -> LruItem:
    """The item of an object going unused at ``since`` (None: not yet; the engine makes
    it at the allocation, as the object's handle until it is freed), on no list yet.

    Made as ``LruItem.__new__`` and field stores, which the compiled core makes a C
    allocation and C stores; calling the class would parse its arguments as a Python
    call's (a tenth of an object's going unused, on memory-pressure)."""
    item = LruItem.__new__(LruItem)
    item.cache = cache          # the cache it was allocated from (kmem_cache_free(s, x))
    item.slab = slab            # the object handle
    item.objcg = objcg          # its object cgroup, if the cache is accounted (5.9+)
    item.node = slab.node       # page_to_nid(): the list_lru_node it goes on
    item.lru = None             # the list it is on, None when off every list
    item.prev = None            # its neighbours there (list_head)
    item.next = None
    item.since = since          # when it became unused
    item.freed = False
    return item


class ListLru:
    """One ``struct list_lru`` (a superblock's s_dentry_lru or s_inode_lru)."""

    def __init__(self, name: str, slub: Allocator, memcg_aware: bool = True) -> None:
        self.name = name
        self.slub = slub
        self.memcg_aware = memcg_aware
        #: memcg -> its list_lru_one of each node (the kernel's
        #: lru->node[nid].memcg_lrus->lru[memcg_idx]); a memcg key, not a (memcg, node)
        #: one, spares a tuple and its hash per list_lru_add()
        self.lists: dict[MemCgroup, list[ListLruOne]] = {}
        #: the same lists by memcg id (None: none), as the kernel finds them: an array
        #: indexed by the memcg's kmemcg_id (memcg_cache_id()); list_lru_add() looks its
        #: memcg's lists up here, an index instead of a dictionary's hash and probe
        self.lists_by_id: list[list[ListLruOne] | None] = []
        self.locks = [slub.locks.new_lock("list_lru_lock", f"{name} node {n}")
                      for n in range(slub.machine.nodes)]
        self.nr_items = 0

    def list_one(self, memcg: MemCgroup, node: int) -> ListLruOne | None:
        """list_lru_from_memcg_idx(): ``memcg``'s list of ``node``, None if it has none."""
        lists = self.lists.get(memcg)
        return lists[node] if lists is not None else None

    def memcg_lists(self, memcg: MemCgroup) -> list[ListLruOne]:
        """``memcg``'s list of each node, made empty on first use (the kernel allocates
        them when the memcg gets its kmemcg_id: memcg_update_all_list_lrus(), 4.0)."""
        lists = self.lists.get(memcg)
        if lists is None:
            lists = self.lists[memcg] = [ListLruOne() for _ in self.locks]
            by_id = self.lists_by_id
            if memcg.id >= len(by_id):
                by_id.extend([None] * (memcg.id + 1 - len(by_id)))
            by_id[memcg.id] = lists
        return lists

    def owner(self, memcg: MemCgroup) -> MemCgroup:
        """The memcg whose list takes an object charged to ``memcg``: the nearest online
        ancestor (an offline memcg's kmemcg_id is its parent's), or the root before 4.0."""
        if not self.memcg_aware:
            return memcg.lineage[-1]
        return memcg if memcg.state == ONLINE else PolicyOperations.online_ancestor(memcg)

    def add(self, item: LruItem, memcg: MemCgroup) -> None:
        """list_lru_add(): under the node's lock, at the tail of the list of the memcg
        that takes objects charged to ``memcg``."""
        node = item.node
        slub = self.slub
        lock = self.locks[node]
        slub.lock(lock)               # may wait for other operations: look up after it
        owner = memcg if memcg.state == ONLINE and self.memcg_aware else self.owner(memcg)
        by_id = self.lists_by_id
        mid = owner.id
        lists = by_id[mid] if mid < len(by_id) else None
        if lists is None:
            lists = self.memcg_lists(owner)
        lst = lists[node]
        slub.now = time_add(slub.now, slub.c_list_op)
        lst.add_tail(item)
        slub.unlock(lock)
        self.nr_items += 1

    def delete(self, item: LruItem) -> bool:
        """list_lru_del(): take the item off its list under the node's lock; False if a
        shrinker isolated it while this waited for the lock."""
        lock = self.locks[item.node]
        slub = self.slub
        slub.lock(lock)
        lst = item.lru
        removed = lst is not None
        if removed:
            slub.now = time_add(slub.now, slub.c_list_op)
            lst.remove(item)
            self.nr_items -= 1
        slub.unlock(lock)
        return removed

    def count_one(self, memcg: MemCgroup, node: int) -> int:
        """list_lru_shrink_count(): the objects on ``memcg``'s list of ``node`` (no lock)."""
        lst = self.list_one(memcg, node)
        return len(lst) if lst else 0

    def walk_one(self, memcg: MemCgroup, node: int, nr_to_walk: int) -> list[LruItem]:
        """list_lru_walk_one() with an isolate callback that always says LRU_REMOVED:
        the first ``nr_to_walk`` objects from the head (the oldest), taken off the list
        under the node's lock, each costing ``lru_isolate``.  Returns them (the dispose
        list)."""
        if nr_to_walk <= 0 or not self.list_one(memcg, node):
            return []
        slub = self.slub
        lock = self.locks[node]
        slub.lock(lock)               # may wait for other operations: look up after it
        lst = self.list_one(memcg, node)
        isolated = []
        isolate = slub.costs["lru_isolate"]
        while lst is not None and lst.head is not None and len(isolated) < nr_to_walk:
            item = lst.head
            lst.remove(item)
            isolated.append(item)
            slub.now += isolate
        slub.unlock(lock)
        self.nr_items -= len(isolated)
        return isolated

    def drain(self, memcg: MemCgroup, parent: MemCgroup) -> int:
        """memcg_drain_all_list_lrus(): splice each of ``memcg``'s lists onto the head of
        ``parent``'s, node by node under the node's lock.  Returns the objects moved."""
        moved = 0
        slub = self.slub
        srcs = self.lists.pop(memcg, None)
        if srcs is None:
            return 0
        self.lists_by_id[memcg.id] = None
        for node, src in enumerate(srcs):
            if not src:
                continue
            lock = self.locks[node]
            slub.lock(lock)
            slub.now += slub.c_list_op
            moved += len(src)
            src.splice_init(self.memcg_lists(parent)[node])
            slub.unlock(lock)
        return moved

    def memcgs_with_items(self) -> set[MemCgroup]:
        """The memcgs with a non-empty list on some node (their shrinker bit is set)."""
        return {m for m, lists in self.lists.items() if any(lists)}
