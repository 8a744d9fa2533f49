"""The cost model: named steps, each a number of simulated nanoseconds.

An operation's latency is the sum of the steps it took plus every lock wait
(MODEL.md section 5).  Each default cites the published figure it comes from
(MODEL.md section 7) or says why there is none.  Cycle figures are converted at
the 4 GHz of the machine they were measured on and rounded to whole
nanoseconds, because simulated time is an integer.

A workload overrides any step under ``costs:`` (``alloc_fast: 6ns``); an unknown
step name is a validation error.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class CostStep:
    name: str
    ns: int
    source: str


_STEPS = (
    CostStep("alloc_fast", 5,
             "SLUB fast path alloc+free pair 42 cycles / 10.5 ns, half of it "
             "(Brouer, i7-4790K 4 GHz, slab bulk patches 2015-2016)"),
    CostStep("free_fast", 5,
             "the other half of the same 10.5 ns pair"),
    CostStep("alloc_slow", 12,
             "kmalloc(8), 10k allocations in a row: 46 cycles, refills included "
             "(Lameter slab_test, Jan 2015)"),
    CostStep("free_slow", 15,
             "kfree(8), 10k frees in a row: 61 cycles (Lameter slab_test, Jan 2015)"),
    CostStep("cmpxchg", 2,
             "this_cpu_cmpxchg about 9 cycles (Brouer); charged per cmpxchg_double "
             "on the slow paths"),
    CostStep("lock", 16,
             "spin_lock_irqsave + restore, uncontended: 62 cycles / 15.6 ns "
             "(Brouer, linux-mm, Jan 2017); list_lock is always taken irqsave"),
    CostStep("list_op", 2,
             "assumed: a list_add/list_del under list_lock touches two cache lines; "
             "no published figure"),
    CostStep("page_alloc", 26,
             "order-0 page alloc+free 211 cycles / 52.8 ns (Brouer, Jan 2017), "
             "half charged at allocation"),
    CostStep("page_free", 26,
             "the other half of the same 52.8 ns pair"),
    CostStep("page_order", 20,
             "assumed, added per order above 0 (splitting/merging buddies); "
             "no published figure"),
    CostStep("slab_init_object", 1,
             "assumed: writing one free pointer while building a new slab's freelist"),
    CostStep("memcg_charge", 20,
             "assumed: page_counter_charge/uncharge walking a short hierarchy; "
             "no published figure"),
    CostStep("objcg_charge", 1,
             "objcg per-object charging: SLUB 1 object 87 -> 90 cycles "
             "(Gushchin, slab controller v7, 2020)"),
    CostStep("object_scan", 2,
             "assumed: reading one object's state during a scan; no published figure"),
    CostStep("flush_cpu", 1000,
             "assumed: one IPI round trip of flush_all() per cpu; no published figure"),
    CostStep("kick_all_cpus", 1000,
             "assumed: kick_all_cpus_sync() (Linux 4.0-4.6) IPIs every other cpu at once "
             "and waits for all, so one IPI round trip, the flush_cpu figure; "
             "no published figure"),
    CostStep("cache_create", 10000,
             "assumed: kmem_cache_dup() (name, kmem_cache_cpu, nodes); no published figure"),
    CostStep("cache_destroy", 10000,
             "assumed: kmem_cache_destroy(); no published figure"),
    CostStep("rcu_grace_period", 9_750_000,
             "synchronize_rcu() mean 9.75 ms, 32 cpus, HZ=1000 (rcu list, 2025-2026)"),
    # reclaim and RCU frees (kernel/reclaim.py, kernel/list_lru.py, kernel/rcu.py)
    CostStep("shrinker_call", 100,
             "assumed: one do_shrink_slab() call, count_objects() and the nr_deferred "
             "bookkeeping of mm/vmscan.c; no published figure"),
    CostStep("lru_isolate", 10,
             "assumed: dentry_lru_isolate()/inode_lru_isolate() of one object "
             "(trylock of d_lock, checks, move to the dispose list); no published figure"),
    CostStep("object_evict", 150,
             "assumed: __dentry_kill()/evict() of one unused object before it is freed "
             "(unhash, release the name or the inode's mapping); no published figure"),
    CostStep("call_rcu", 20,
             "assumed: call_rcu() enqueueing one callback on this cpu's segmented list; "
             "no published figure"),
    CostStep("rcu_callback", 5,
             "assumed: rcu_do_batch() invoking one callback, besides what the callback "
             "does; no published figure"),
    CostStep("kfree_rcu_drain", 20_000_000,
             "KFREE_DRAIN_JIFFIES = HZ / 50 at HZ=1000: kfree_rcu() batches a cpu's "
             "objects for 20 ms before one grace period frees them (kernel/rcu/tree.c, "
             "Linux 5.5, kfree_rcu() batching)"),
)

#: Every step, by name, in a read-only mapping (the defaults; never mutated).
DEFAULT_STEPS: MappingProxyType[str, CostStep] = MappingProxyType({s.name: s for s in _STEPS})


def default_costs() -> dict[str, int]:
    """A fresh ``{step: ns}`` dict of the defaults, for a workload to override."""
    return {name: step.ns for name, step in DEFAULT_STEPS.items()}
