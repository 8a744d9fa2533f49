"""The cost model: named steps, each a number of simulated nanoseconds.

An operation's latency is the sum of the steps it took plus every lock wait
(docs/model.md section 6).  Each default cites the published measurement of the same
operation it comes from, or says that there is none.  Cycle figures are
converted at the clock of the machine they were measured on and rounded to
whole nanoseconds, because simulated time is an integer.  Some steps depend on
state the model knows: a free into a slab whose struct page another cpu wrote
last pays ``line_transfer``, a lock last taken on another cpu ``lock_bounce``,
a page charge that the per-cpu memcg stock covers ``memcg_charge_stock``, and
synchronize_rcu() its figure for the machine's cpu count.  No step is random.

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
             "the other half of the same 10.5 ns alloc+free pair (Brouer, 2015-2016)"),
    CostStep("alloc_slow", 12,
             "kmalloc(8), 10k allocations in a row: 46 cycles, refills included "
             "(Lameter slab_test, Jan 2015)"),
    CostStep("free_slow", 15,
             "kfree(8), 10k frees in a row: 61 cycles (Lameter slab_test, Jan 2015)"),
    CostStep("cmpxchg", 5,
             "cmpxchg_double_slab() on the slab's struct page, its line in this cpu's "
             "cache: a LOCK-prefixed read-modify-write, 18 cycles for LOCK xchg "
             "(Lameter, 'cpuops: Use cmpxchg for xchg to avoid lock semantics', 2010); "
             "no published figure for cmpxchg16b itself"),
    CostStep("line_transfer", 41,
             "a cache line modified in another core's cache (same socket): L2-to-L2 "
             "modified intervention 40.3-42.3 ns, Intel Memory Latency Checker on a "
             "Xeon E5-2660 v4 (McCalpin, Intel developer forum 'Core-to-Core "
             "Communication Latency in Skylake/Kaby Lake', 2016); charged when a free's "
             "cmpxchg_double touches a struct page last written by another cpu"),
    CostStep("lock", 16,
             "spin_lock_irqsave + restore, uncontended: 62 cycles / 15.6 ns "
             "(Brouer, linux-mm, Jan 2017); list_lock is always taken irqsave"),
    CostStep("lock_bounce", 57,
             "the same with the lock word modified in another cpu's cache (lock_stat's "
             "acq-bounce): 15.6 ns plus one modified-line intervention of 41 ns, the "
             "two figures above; no published measurement of the sum"),
    CostStep("list_op", 2,
             "assumed: a list_add/list_del under list_lock touches two cache lines; "
             "no published figure"),
    CostStep("page_alloc", 26,
             "order-0 page alloc+free 211 cycles / 52.8 ns (Brouer, Jan 2017), "
             "half charged at allocation"),
    CostStep("page_free", 26,
             "the other half of the same 52.8 ns pair (Brouer, Jan 2017)"),
    CostStep("page_order", 20,
             "assumed, added per order above 0 (splitting/merging buddies); "
             "no published figure"),
    CostStep("slab_init_object", 1,
             "assumed: writing one free pointer while building a new slab's freelist; "
             "no published figure"),
    CostStep("memcg_charge", 53,
             "a memcg page counter charge or uncharge without the per-cpu stock: the "
             "cgroup v1 4 KiB-object accounting overhead (one page charged per "
             "allocation) 15.532 s less the 32-byte one 4.932 s over 10^8 "
             "kmem_cache_alloc+free pairs = 106 ns a pair (Waiman Long, '[PATCH v6 0/4] "
             "mm/memcg: Reduce kmemcache memory accounting overhead', May 2021, "
             "Cascade Lake, turbo off)"),
    CostStep("memcg_charge_stock", 16,
             "the same through the per-cpu stock (consume_stock()/refill_stock()): the "
             "cgroup v2 4 KiB-object overhead 8.199 s less 4.932 s = 33 ns a pair "
             "(Waiman Long, same post, May 2021)"),
    CostStep("objcg_charge", 25,
             "obj_cgroup_charge()/uncharge() of one object from a warm obj_stock: the "
             "32-byte accounting overhead 4.932 s over 10^8 alloc+free pairs = 49 ns a "
             "pair, 85 ns before the series (Waiman Long, same post, May 2021); a cold stock adds "
             "a page charge (memcg_charge_stock or memcg_charge)"),
    CostStep("objcg_charge_5_9", 31,
             "the same as Linux 5.9-5.13 does it (irqs off around the stock, no vmstat "
             "cache), the per-object vmstat update left out (objcg_vmstat): the 32-byte "
             "accounting overhead before the series, 8.504 s, less the 2.209 s its "
             "vmstat patch removed = 6.295 s over 10^8 alloc+free pairs = 63 ns a pair "
             "(Waiman Long, same post, May 2021, on linux-next-20210419, whose object "
             "stock is 5.9's but for page uncharges)"),
    CostStep("objcg_vmstat", 11,
             "mod_objcg_state() of one object without the per-cpu vmstat cache (5.9-5.13: "
             "mod_memcg_lruvec_state() at every accounted alloc and free): 'mm/memcg: "
             "Cache vmstat data in percpu memcg_stock_pcp' (68ac5b3c8db2, 5.14) took the "
             "32-byte accounting overhead from 8.504 s to 6.295 s over 10^8 alloc+free "
             "pairs, 22 ns a pair, one update at each end (Waiman Long, same post, May "
             "2021); the cached update that remains is part of objcg_charge"),
    CostStep("object_scan", 82,
             "reading one object of a dead cache, cold since its memcg went offline: a "
             "miss to local DRAM, 40 cycles + 67 ns at 2.67 GHz (7-cpu.com, Xeon X5650 "
             "Westmere-EP)"),
    CostStep("object_scan_hot", 4,
             "reading one object of a dead cache whose lines are still in L2: 10 cycles "
             "at 2.67 GHz (7-cpu.com, Xeon X5650 Westmere-EP, L2 data cache latency; the "
             "same machine as object_scan)"),
    CostStep("flush_cpu", 1000,
             "assumed: one IPI round trip of flush_all() per cpu; no published figure"),
    CostStep("cache_create", 10000,
             "assumed: kmem_cache_dup() (name, kmem_cache_cpu, nodes); no published figure"),
    CostStep("cache_destroy", 10000,
             "assumed: kmem_cache_destroy(); no published figure"),
    CostStep("kick_all_cpus", 1000,
             "assumed: kick_all_cpus_sync() (Linux 4.0-4.6) IPIs every other cpu at once "
             "and waits for all, so one IPI round trip, the flush_cpu figure; "
             "no published figure"),
    CostStep("rcu_grace_period", 4_000_000,
             "synchronize_rcu() on up to 16 cpus (woken from the grace-period kthread): "
             "mean 4.0 ms over 100 calls, HZ=1000 (Joel Fernandes, 'rcu: Reduce "
             "synchronize_rcu() latency by reporting GP kthread's CPU QS early', 2025); "
             "synchronize_sched() is the same grace period on a non-preemptible kernel; "
             "no published figure at other HZ"),
    CostStep("rcu_grace_period_many", 10_000_000,
             "synchronize_rcu() on more than 16 cpus: mean 10.1 ms over 100 calls, 32 "
             "cpus, HZ=1000 (Joel Fernandes, same commit, 2025; ~9.5 ms on 36 cpus in 'rcu: "
             "Fix synchronize_rcu latency by removing CPU threshold for wake_from_gp')"),
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
             "Linux 5.5, kfree_rcu() batching); a kernel constant, no published "
             "measurement"),
)

#: synchronize_rcu() wakes its waiter from the grace-period kthread on machines of
#: up to this many cpus (rcu_normal_wake_from_gp), and takes an FQS round longer above
RCU_WAKE_FROM_GP_CPUS = 16


def rcu_grace_period(costs: dict[str, int], cpus: int) -> int:
    """The grace period synchronize_rcu() waits on a machine of ``cpus`` cpus."""
    if cpus <= RCU_WAKE_FROM_GP_CPUS:
        return costs["rcu_grace_period"]
    return costs["rcu_grace_period_many"]


#: Every step, by name, in a read-only mapping (the defaults; never mutated).
DEFAULT_STEPS: MappingProxyType[str, CostStep] = MappingProxyType({s.name: s for s in _STEPS})


def default_costs() -> dict[str, int]:
    """A fresh ``{step: ns}`` dict of the defaults, for a workload to override."""
    return {name: step.ns for name, step in DEFAULT_STEPS.items()}
