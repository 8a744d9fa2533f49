"""A crash is a crash: violations a real kernel would oops on are told from drift.

Crash-class (the run's ``crashed`` = {t_ns, what, where}): a slab freed while
still on a list (use-after-free), a double destroy, dec_slabs_node(NULL), a frozen
slab on a node partial list.  Drift (counted, the run goes on): counters and
charges that disagree with what exists, leaked slabs, such as the orphaned frozen
page of the seed patch's no-lock free path.  dentry slabs hold 21 objects.
"""
from __future__ import annotations

from slabpolicy.analysis.report import comparison_table, render
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.api.testing import Kit
from slabpolicy.kernel.slub import CPU_SLAB, NOWHERE
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.workloads.spec import load_workload

PER_SLAB = 21


def chaining(variant: str = "as-posted") -> Kit:
    return Kit(cpus=2, policy="chaining", options={"variant": variant}, strict=False)


def test_a_slab_freed_on_the_parents_partial_list_is_a_crash_at_free_slab():
    """As posted, the empty-slab path of a chained cache skips remove_partial(): the
    page is freed while the parent's partial list still links it."""
    k = chaining()
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=5, cpu=0)
    k.offline(cg)
    assert k.sim.checker.crashed is None
    k.free(s, objs, cpu=1)
    crashed = k.sim.checker.crashed
    assert crashed["where"] == "__free_slab()"
    assert crashed["what"] == f"slab {objs[0].id} freed while still on dentry node 0 partial"
    assert k.t <= crashed["t_ns"] <= k.slub.now     # during the free that emptied it


def test_drift_alone_is_no_crash():
    """The chained discard_slab() uncharges no memcg: the parent stays charged for a
    page that is gone.  Wrong figures, counted; no crash (corrected variant: none)."""
    k = chaining()
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    objs = k.alloc(s, n=PER_SLAB + 1, cpu=0)
    k.free(s, objs[PER_SLAB:], cpu=0)
    k.offline(cg)
    checker = k.sim.checker
    checker.check(k.t)
    assert checker.crashed is None and checker.crashes == 0


def test_the_no_lock_free_path_orphans_a_frozen_page_of_the_parent():
    """__slab_free() of a chained cache, as posted: the first free into a full page
    freezes it without a lock (``!kmem_cache_debug(s) && !prior``); when the page
    already belongs to the parent (page->slab != s) nothing puts it on a cpu partial
    list or a node list.  It stays frozen on no cpu: frees into it take the frozen
    fast case, and when it empties nobody discards it.  A leak, not a crash."""
    k = chaining()
    cg = k.memcg("a")
    s = k.cache(cg, "dentry")
    root = k.slub.root_caches[s.index]
    objs = k.alloc(s, n=PER_SLAB, cpu=0)
    k.free(s, objs[-1], cpu=0)                    # 20 of 21 in use: a partial slab
    page = objs[0]
    k.offline(cg)
    assert page.cache is root and k.on_partial(page)
    # the root allocates on cpu 1: it takes the moved page and fills it
    mine = k.alloc(root, n=1, cpu=1)
    assert mine == [page] and page.where == CPU_SLAB and page.inuse == PER_SLAB
    k.alloc(root, n=1, cpu=1)                     # full: off cpu 1, onto no list
    assert (page.frozen, page.where) == (False, NOWHERE)
    k.free(s, objs[0], cpu=0)                     # a chained free into the full page
    assert page.frozen and page.where == NOWHERE and page.cpu == -1
    assert k.sim.checker.crashed is None
    k.free(s, objs[1:-1], cpu=0)
    k.free(root, mine, cpu=0)
    assert page.inuse == 0 and page.frozen and not page.freed   # never discarded
    k.sim.checker.check(k.t)
    assert f"dentry: slab {page.id} is frozen on nowhere, not on a cpu: orphaned, never " \
           f"unfrozen or discarded" in k.sim.checker.messages()
    assert k.sim.checker.crashed is None


def test_a_comparison_over_chaining_as_posted_shows_crashed_at():
    """Two seeds of the default containers for 3 s: chaining as posted crashes in
    both; its row says when the first crash came instead of giving numbers, and
    leave-in-place, which does not crash, is compared with nothing."""
    workload = load_workload("experiments/default.yaml", ["duration=3s"])
    runs = resolve_policies(workload, ["leave-in-place", "chaining-as-posted"],
                            policy_registry(make_plugin_manager()))
    results = [run_one(workload, run, seed) for run in runs for seed in (1, 2)]
    assert [r["crashed"] is None for r in results] == [True, True, False, False]
    first = min(results[2:], key=lambda r: r["crashed"]["t_ns"])
    assert first["crashed"]["where"] in ("__free_slab()", "dec_slabs_node()")
    table = comparison_table(results, metrics=["memory.dying_memcgs.final"])
    row = table.row("default-containers", "chaining-as-posted", "memory.dying_memcgs.final")
    assert row.values == [] and row.vs_baseline is None and not row.tested
    assert [seed for seed, _ in row.crashed] == [1, 2]
    text = render(table, "plain")
    line = next(li for li in text.splitlines() if "chaining-as-posted" in li)
    seconds = f"{first['crashed']['t_ns'] / 1e9:.3g}"
    assert f"crashed at {seconds} s (seed {first['seed']}; 2 runs crashed)" in line
    assert render(table, "json").count('"crashed": [') == 1


def test_the_parents_allocate_experiment_orphans_a_frozen_page_and_reuses_moved_slabs():
    """experiments/parents-allocate.yaml, seed 1: the pods fill slabs moved to them,
    and chaining as posted orphans one (page->slab != s) before it crashes; the
    corrected variant's pods allocate from the moved slabs, which leave-in-place
    never moves, and it ends with fewer slab pages."""
    from slabpolicy.kernel.engine import Simulation
    from slabpolicy.api.plugin_manager import register_run_plugin

    workload = load_workload("experiments/parents-allocate.yaml")
    pm = make_plugin_manager()
    (posted,) = resolve_policies(workload, ["chaining-as-posted"], policy_registry(pm))
    register_run_plugin(pm, posted.entry.spec.factory(dict(posted.options)), "policy:posted")
    sim = Simulation(workload, seed=1, hook=pm.hook, policy_label="chaining-as-posted")
    sim.run()
    orphans = [m for m in sim.checker.messages() if "is frozen on nowhere" in m]
    assert orphans and orphans[0].endswith("orphaned, never unfrozen or discarded")
    assert sim.checker.crashed["where"] == "dec_slabs_node()"

    left, corrected = (run_one(workload, run, 1) for run in resolve_policies(
        workload, ["leave-in-place", "chaining-corrected"], policy_registry(make_plugin_manager())))
    assert corrected["crashed"] is None and corrected["accounting"]["violations"] == 0
    stats = corrected["policy_stats"]
    assert stats["moved_slabs"] > 1000 and stats["moved_slabs_reused"] > 0
    assert corrected["memory"]["slab_pages"]["mean"] < left["memory"]["slab_pages"]["mean"]
