"""The object model a policy sees: the classes, and what a policy may do with each name.

A policy meets these objects as hook arguments (``sim``, ``memcg``, ``cache``,
``slab``) and through them.  For every public name of each class, :data:`SURFACE`
says what a policy may do with it:

* ``read``: read it (a field or a property);
* ``call``: call it (a method: an operation, charging its costs and taking its
  locks, or a query);
* ``set``: read it and set it, on an object of its own policy's choosing (the
  fields that tune a cache: ``cache.min_partial``, ...; a ``policy_data`` dict);

and :data:`INTERNAL` lists the public names that are the core's own: a policy
neither reads nor writes them, and they may change without notice.  A policy
writes no field but the ``set`` ones; the counters it must not write are
compared with what exists by the accounting checker (a memcg's ``usage`` at
every level, the slab counters, the page total), which reports a write to them
as it reports any other broken count.

``docs/plugins.md`` ("The object model") documents every name here, and
``tests/test_api_model.py`` checks that the two agree and that every public
name of these classes is in one list or the other.
"""
from __future__ import annotations

from slabpolicy.kernel.engine import Simulation
from slabpolicy.kernel.locks import Lock, LockRegistry
from slabpolicy.kernel.memcg import MemCgroup, MemcgTree
from slabpolicy.kernel.policy_ops import Timer
from slabpolicy.kernel.slub import Allocator, KmemCache, KmemCacheCpu, KmemCacheNode, Slab, SlabList
from slabpolicy.workloads.spec import CacheKind

__all__ = ["Simulation", "Allocator", "KmemCache", "KmemCacheNode", "KmemCacheCpu", "Slab",
           "SlabList", "CacheKind", "MemCgroup", "MemcgTree", "Lock", "LockRegistry", "Timer",
           "SURFACE", "INTERNAL"]


def _names(read: str = "", call: str = "", set: str = "") -> dict[str, str]:
    return {**{n: "read" for n in read.split()}, **{n: "call" for n in call.split()},
            **{n: "set" for n in set.split()}}


#: class -> {public name: "read" | "call" | "set"}
SURFACE: dict[type, dict[str, str]] = {
    Simulation: _names(
        read="now workload seed slub memcgs locks",
        call="synchronize_rcu schedule schedule_every memcg_cache move_slab move_slabs "
             "move_partial_slabs move_charge destroy_cache_if_empty dead_caches dying_memcgs "
             "online_ancestor queued_work_until"),
    Allocator: _names(
        read="costs caches root_caches dead_caches machine kinds total_pages",
        call="kmem_cache_dup kmem_cache_destroy kmem_cache_shrink flush_all discard_slab "
             "free_slab new_slab lock unlock add_partial remove_partial add_full remove_full "
             "inc_slabs_node dec_slabs_node set_slab_cache deactivate_slab unfreeze_partials "
             "put_cpu_partial slab_free_slowpath discards_empty",
        set="now"),
    KmemCache: _names(
        read="id name kind index memcg root size object_size order pages objects node cpu "
             "dead destroyed nr_slabs stats obj_full_size cpu_partial_slabs",
        call="existing_slabs slab_nr_pages stat",
        set="min_partial cpu_partial discard_empty track_full free_lock account discard flags "
            "parent_slab policy_data remote_node_defrag_ratio"),
    KmemCacheNode: _names(read="node list_lock partial full nr_partial nr_slabs total_objects"),
    KmemCacheCpu: _names(read="slab freelist partial pobjects"),
    Slab: _names(read="id cache node objects cpu freed", set="inuse frozen where"),
    SlabList: _names(read="head tail length name"),
    CacheKind: _names(read="name object_size slot_size store_user"),
    MemCgroup: _names(
        read="id name parent children state usage max_usage refs caches lineage "
             "nr_dying_descendants group online_ns rmdir_ns offline_ns released_ns is_root dying",
        set="policy_data"),
    MemcgTree: _names(read="root by_id nr_dying released",
                      call="charge uncharge charge_until uncharge_until get put"),
    Lock: _names(read="name acquisitions"),
    LockRegistry: _names(call="new_lock stats"),
    Timer: _names(read="interval_ns next_ns runs cancelled", call="cancel"),
}

#: class -> the public names that are the core's own (neither read nor written by a policy)
INTERNAL: dict[type, tuple[str, ...]] = {
    Simulation: tuple(
        "checker end_ns finish h_offline hook memcg_offline policy_label queue_free "
        "rcu_waits replay rng run run_events series start_ticks turns kernel_event rcu "
        "reclaim".split()),
    Allocator: tuple(
        "begin c_alloc_fast c_alloc_slow c_call_rcu c_cmpxchg c_free_fast c_free_slow "
        "c_line_transfer c_list_op c_lock c_lock_bounce c_object_evict c_rcu_callback "
        "cpu_free_at cpu_waiters cur_cpu "
        "changed_caches dead_cache_free dismantle end era existing get_any_partial get_cycles get_partial_node h_alloc_fast_rec h_alloc_slow "
        "h_free_fast_rec h_free_slow locks mark_dead memcg_stock memcgs "
        "n_alloc_fast n_alloc_slow n_free_fast n_free_slow node_of_cpu objcgs "
        "on_dead_cache_empty on_violation peak_pages retired_stats slab_alloc slab_free "
        "turns wait_for_cpu free_pages pressure rcu_free_slab".split()),
    KmemCache: tuple(
        "allocating rcu".split()),
    KmemCacheNode: ("slabs",),
    KmemCacheCpu: (),
    Slab: tuple(
        "last_cpu lru next pobj prev".split()),
    SlabList: ("add", "remove"),
    CacheKind: ("rcu",),
    MemCgroup: ("high", "max"),
    MemcgTree: ("create", "offline", "try_release"),
    Lock: tuple(
        "cls cpu free_at held held_since owner release take trace "
        "waiters".split()),
    LockRegistry: tuple(
        "classes histograms locks trace".split()),
    Timer: ("arm", "fn", "sim"),
}
