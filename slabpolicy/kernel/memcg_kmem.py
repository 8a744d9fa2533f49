"""What mainline kernels did to a dead memcg's kmem caches, 3.8 to 5.8.

The policies that model a mainline era (``leave-in-place`` with its ``era``
option, ``reparent``) are built from these steps; each names the kernel
function it models and the versions that had it.  docs/model.md says which
era runs which steps in which order.

* :func:`kmemcg_cache_deactivate`: "disable empty slabs caching" on a dead
  cache: ``s->cpu_partial = 0; s->min_partial = 0``.  From 4.0
  (d6e0b7fa1186, "slub: make dead caches discard free slabs immediately") to
  4.10 it is the ``deactivate`` branch of ``__kmem_cache_shrink(s, true)``;
  from 4.11 (01fb58bcba63) to 5.8 it is ``__kmemcg_cache_deactivate()``.
  The same commit made SLUB's empty-slab tests ``nr_partial >= min_partial``,
  so that 0 keeps no empty slab: the model's ``discard_empty``.
* :func:`kick_all_cpus_sync`: 4.0 to 4.6 make the new ``cpu_partial`` visible
  to the lockless ``put_cpu_partial()`` with an IPI to every cpu; 4.7
  (81ae6d03952c) waits for a sched-RCU grace period instead (the offline
  work yields ``sim.synchronize_rcu()``).
* :func:`queue_cache_destroy`: a dead cache that has lost its last slab is
  destroyed by a work item, never on the free path that emptied it: 3.8-3.19
  ``mem_cgroup_destroy_cache()`` -> ``schedule_work()``; 4.0-5.2 the cache
  goes with its memcg in ``memcg_destroy_kmem_caches()`` from
  ``css_free()``, an RCU callback after the last reference; 5.3-5.8
  ``kmemcg_queue_cache_shutdown()`` -> ``call_rcu()`` -> work ->
  ``shutdown_cache()`` (f0a3a24b532d, fb2f2b0adb98).
* :func:`reparent_kmem_cache`: 5.3-5.8 ``memcg_deactivate_kmem_caches(memcg,
  parent)`` (fb2f2b0adb98, Roman Gushchin): ``s->memcg_params.memcg =
  parent``, ``css_put(memcg)``, ``css_get(parent)``, the cache spliced onto
  the parent's ``kmem_caches`` list.  The accounting checker recounts the cache
  at its next check (``Allocator.changed_caches``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slabpolicy.kernel.engine import Simulation
    from slabpolicy.kernel.memcg import MemCgroup
    from slabpolicy.kernel.slub import Allocator, KmemCache


def kmemcg_cache_deactivate(s: KmemCache) -> None:
    """``s->cpu_partial = 0; s->min_partial = 0`` with the ``>=`` tests of 4.0: from
    now on an empty slab of ``s`` is discarded at once, wherever it empties."""
    s.cpu_partial = 0
    s.min_partial = 0
    s.discard_empty = True


def kick_all_cpus_sync(slub: Allocator) -> None:
    """kick_all_cpus_sync() (4.0-4.6): smp_call_function(do_nothing, NULL, 1), an
    IPI to every other cpu, waited for (cost step ``kick_all_cpus``)."""
    slub.now += slub.costs["kick_all_cpus"]


def queue_cache_destroy(sim: Simulation, s: KmemCache, delay_ns: int) -> None:
    """Destroy the empty dead cache ``s`` from a work item ``delay_ns`` from now
    (0: schedule_work(); a grace period: call_rcu() then a work item).

    The destroy's cost (``cache_destroy``) is charged to the kworker, not to the
    free that emptied the cache.  The work destroys nothing if the cache has
    been destroyed meanwhile or holds a slab again.
    """
    if s.policy_data.get("destroy_queued"):
        return
    s.policy_data["destroy_queued"] = True

    def work() -> None:
        s.policy_data["destroy_queued"] = False
        sim.destroy_cache_if_empty(s)
    sim.schedule(delay_ns, work)


def reparent_kmem_cache(sim: Simulation, s: KmemCache, memcg: MemCgroup,
                        parent: MemCgroup) -> None:
    """memcg_deactivate_kmem_caches(memcg, parent)'s loop body, 5.3-5.8: the cache
    charges ``parent`` from now on and pins ``parent``, not ``memcg``.

    The kernel leaves the pages' charge in the dying memcg's counter, which is
    freed with it, and uncharges the parent when the pages go; the model moves
    the charge of the cache's pages up to ``parent`` at once (as objcg's
    re-parenting does), so that no released memcg stays charged.
    """
    slub = sim.slub
    slub.now += slub.costs["list_op"]          # WRITE_ONCE + list_splice_init
    sim.move_charge(memcg, parent, s.existing_slabs() * s.pages)
    s.memcg = parent
    slub.changed_caches.add(s)                 # its pages count under parent now
    sim.memcgs.get(parent)                     # css_get_many(&parent->css, n)
    sim.memcgs.put(memcg, slub.now)            # css_put(&memcg->css)
