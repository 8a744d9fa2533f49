"""The plugin contract: every hook slabpolicy calls, and what it means.

This file is the reference; ``docs/plugins.md`` is the authoring guide (every
hook's signature, the allocator operations and their costs, options, the test
kit, a worked example).  Hooks carry the ``slabpolicy_`` prefix; implement them
with ``@slabpolicy.hookimpl``.  An implementation may take any subset of a hook's
arguments, by name; one taking an argument the hook does not pass, a
``slabpolicy_*`` function that is not a hook, or a hook function without
``@hookimpl`` is refused when the plugin loads, with its name and line.

Two kinds of plugin implement them:

* a **policy** answers "what happens to a dead memcg's caches".  A plugin module
  offers policies through :func:`slabpolicy_policies`; for a run, the chosen
  policy's ``factory(options)`` builds one object whose ``@hookimpl`` methods are
  registered for that run only.  One policy per run.
* an **observer** (extra metrics, tracing) implements hooks as module-level
  functions; it sees every run.

When hooks fire.  The core calls hooks only at rare events: cache selection
(once per memcg and cache kind), memcg offline, a slow-path free into a dead
cache, a dead cache losing its last slab, a periodic tick, sampling, run start
and end.  Never on the alloc or free fast path, and never per allocation.

What a policy may touch.  A policy changes allocator state only through the
policy-level operations of ``sim`` (:class:`slabpolicy.kernel.policy_ops.PolicyOperations`:
``move_slab``, ``move_slabs``, ``move_partial_slabs``, ``move_charge``,
``destroy_cache_if_empty``) and its timers (``schedule``, ``schedule_every``),
the operations of ``sim.slub`` (:class:`slabpolicy.kernel.slub.Allocator`: ``flush_all``,
``kmem_cache_shrink``, ``add_partial``, ``remove_partial``, ``inc_slabs_node``,
``dec_slabs_node``, ``set_slab_cache``, ``discard_slab``, ``free_slab``,
``kmem_cache_destroy``, ``lock``/``unlock``, ...) and of ``sim.memcgs``
(:class:`slabpolicy.kernel.memcg.MemcgTree`: ``charge``, ``uncharge``,
``uncharge_until``, ``get``/``put``), and waits only through
``sim.synchronize_rcu()`` and ``sim.schedule()``.  Each operation charges its
modelled cost to the op clock ``sim.slub.now``, takes its modelled locks, and is
seen by the accounting checker.

The argument ``sim`` is the :class:`slabpolicy.kernel.engine.Simulation` being run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

import pluggy

if TYPE_CHECKING:
    from slabpolicy.analysis.metrics import Metric
    from slabpolicy.kernel.engine import Simulation
    from slabpolicy.kernel.memcg import MemCgroup
    from slabpolicy.api.policy import PolicySpec
    from slabpolicy.kernel.slub import KmemCache, Slab
    from slabpolicy.workloads.spec import CacheKind

PROJECT = "slabpolicy"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def slabpolicy_policies() -> list[PolicySpec]:
    """Return the policies this plugin offers (called when plugins are listed or a
    run looks a policy up; results of all plugins are concatenated).

    Each :class:`slabpolicy.api.policy.PolicySpec` names the policy, its version, a
    one-line description, its options (with types, defaults and help) and the
    factory that builds the policy object for one run.  Two plugins offering the
    same name is an error; so is a policy whose ``api_version`` is not this
    slabpolicy's :data:`slabpolicy.api.policy.PLUGIN_API_VERSION`.
    """


@hookspec(firstresult=True)
def slabpolicy_memcg_cache(sim: Simulation, memcg: MemCgroup, kind: CacheKind,
                           root_cache: KmemCache) -> KmemCache | None:
    """Choose the cache ``memcg`` allocates ``kind`` objects from.

    Called once per memcg and cache kind: when the memcg first allocates from the
    kind (lazy creation) or when it comes online (eager creation), never per
    allocation.  ``root_cache`` is the kind's global cache.  Return the cache to
    use: a new per-memcg copy (``sim.slub.kmem_cache_dup(root_cache, memcg)``, which
    the core does when no plugin answers) or a shared one (``root_cache``, as objcg
    does).  The first non-None result wins.
    """


@hookspec
def slabpolicy_memcg_offline(sim: Simulation, memcg: MemCgroup) -> Generator[int, None, None] | None:
    """``memcg`` has just gone offline (rmdir; mem_cgroup_pre_destroy()/css_offline()).

    Its caches are already marked dead (``cache.dead``; listed in
    ``memcg.caches``) and it makes no new allocation.  The policy does its
    offline work here, on the op clock of the cpu that ran rmdir; the time it
    takes is the run's offline latency.  To wait (an RCU grace period), make the
    implementation a generator and ``yield sim.synchronize_rcu()`` (or any number
    of nanoseconds): the work resumes after that much simulated time while the
    cpus go on with other work.  The memcg is released once it is offline and
    nothing refers to it (``sim.memcgs.get``/``put``; each undestroyed cache of it
    holds a reference).  Return value: None, or the generator.  Work for later
    (after a delay, on a kworker on cpu 0) is ``sim.schedule(delay_ns, fn)``; it is
    not part of the offline latency.
    """


@hookspec(firstresult=True)
def slabpolicy_dead_cache_free(sim: Simulation, cache: KmemCache, slab: Slab,
                               cpu: int) -> bool | None:
    """A free into dead ``cache`` that missed the fast path (__slab_free()).

    ``cache`` is the cache the object was allocated from (kmem_cache_free(s, x));
    ``slab`` is the object's slab, whose ``slab.cache`` may differ if a policy moved
    it; ``cpu`` is the freeing cpu.  The op clock is running.  Return True if the
    policy did the free itself (through allocator operations: ``slab.inuse`` must
    drop by one); None to let the core run the normal __slab_free() on
    ``slab.cache``.  First non-None result wins.  Not called at all when no plugin
    implements it.
    """


@hookspec
def slabpolicy_dead_cache_empty(sim: Simulation, cache: KmemCache) -> None:
    """The last slab counted in dead ``cache`` has just left it: freed by the core's
    discard_slab(), or moved away by ``sim.move_slab()``/``move_slabs()``/``move_partial_slabs()``.

    A policy that leaves dead caches in place destroys the cache here
    (``sim.destroy_cache_if_empty(cache)``), which drops its memcg reference.
    It fires wherever the last slab goes: on a free, or inside an operation the
    policy itself called (``kmem_cache_shrink()``, ``flush_all()``, a move), so
    check ``cache.destroyed`` after such a call.
    """


@hookspec
def slabpolicy_tick(sim: Simulation, now_ns: int) -> None:
    """Periodic work, every ``tick_interval`` of the workload (a kworker on cpu 0).

    Only scheduled when some plugin implements it.  A policy that needs an
    interval of its own arms its own timer instead (``sim.schedule_every()``).
    """


@hookspec
def slabpolicy_sample(sim: Simulation, now_ns: int, sample: dict[str, Any]) -> None:
    """A memory sample is being taken at ``now_ns`` (every ``sample_interval``).

    ``sample`` holds the core's figures (slab_pages, dead_cache_pages, dead_caches,
    dying_memcgs, live_objects, utilization); an observer may add numeric figures
    of its own, which then appear in the result's ``series``.  Must not change
    allocator state.
    """


@hookspec
def slabpolicy_run_start(sim: Simulation) -> None:
    """The run is about to start: caches and the root memcg exist, time is 0."""


@hookspec
def slabpolicy_run_end(sim: Simulation, result: dict[str, Any]) -> None:
    """The run has ended; ``result`` is the result document, which an observer may
    extend under a key of its own (never change the core's figures)."""


@hookspec
def slabpolicy_metrics() -> list[Metric]:
    """Describe the figures this plugin adds to result documents (in
    :func:`slabpolicy_run_end`), for the metric catalogue (``slabpolicy metrics``).

    Return a list of :class:`slabpolicy.analysis.metrics.Metric`: the dotted path
    (a ``<name>`` segment for a family), the unit, what it means and its bounds.
    A module-level function, called when the catalogue is listed, never during
    a run; results of all plugins are concatenated.
    """
