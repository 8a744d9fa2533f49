"""The cost model: every step cites its source, and the steps that depend on state
the model knows (which cpu wrote a slab last, what the memcg stock holds, the cpu
count) are charged where that state says so.

Geometry: ``dentry`` (192-byte slots) on a 2-cpu, 4 KiB-page kit is an order-0
slab of 21 objects.
"""
from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from slabpolicy.api.testing import Kit
from slabpolicy.cli import app
from slabpolicy.kernel.costs import DEFAULT_STEPS, RCU_WAKE_FROM_GP_CPUS, rcu_grace_period
from slabpolicy.kernel.memcg_stock import MEMCG_CHARGE_BATCH

C = {name: step.ns for name, step in DEFAULT_STEPS.items()}
PER_SLAB = 21
#: a source names who published the measurement, in parentheses, or says there is none
CITES = re.compile(r"\([A-Z0-9][^)]*\)|no published (figure|measurement)")


def test_every_cost_step_has_a_source_that_cites_a_measurement_or_says_there_is_none():
    for name, step in DEFAULT_STEPS.items():
        assert step.source.strip(), f"cost step {name} has no source"
        assert CITES.search(step.source), f"cost step {name}: {step.source!r} cites nothing"
        assert step.ns >= 0


def test_slabpolicy_costs_prints_every_step_with_its_value_and_source():
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(app, ["costs", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["step"], r["ns"], r["source"]) for r in rows] == \
        [(s.name, s.ns, s.source) for s in DEFAULT_STEPS.values()]
    table = runner.invoke(app, ["costs"])
    assert table.exit_code == 0
    for step in DEFAULT_STEPS.values():
        assert re.search(rf"^{step.name} +{step.ns} ", table.stdout, flags=re.M), step.name
    bad = runner.invoke(app, ["costs", "--format", "yaml"])
    assert bad.exit_code == 2


def test_a_free_into_a_slab_another_cpu_wrote_last_pays_a_line_transfer():
    k = Kit(cpus=2)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=PER_SLAB + 1, cpu=0)     # slab A full, written by cpu 0
    a = objs[0]
    assert a.last_cpu == 0 and dentry.cpu[0].slab is not a
    k.free(dentry, objs[0], cpu=1)    # first free into full A: onto cpu 1's partial list
    k.free(dentry, objs[1], cpu=1)    # A is frozen on cpu 1's partial list: FREE_FROZEN
    # remote: free_slow + cmpxchg + line_transfer + put_cpu_partial's cmpxchg;
    # then the line is on cpu 1: free_slow + cmpxchg
    assert sorted(k.slub.h_free_slow.counts) == [
        C["free_slow"] + C["cmpxchg"],
        C["free_slow"] + 2 * C["cmpxchg"] + C["line_transfer"]]
    assert a.last_cpu == 1


def test_page_charges_go_through_the_per_cpu_stock_after_the_first_batch():
    """new_slab() of a memcg cache: the first charge on a cpu refills the stock from the
    page counters (memcg_charge), the next MEMCG_CHARGE_BATCH - 1 pages come from it."""
    k = Kit(cpus=2)
    cg = k.memcg("a")
    dentry = k.cache(cg, "dentry")
    page = C["page_alloc"] + PER_SLAB * C["slab_init_object"]
    k.alloc(dentry, n=PER_SLAB + 1, cpu=0)    # slab A, then slab B when A is full
    first = C["alloc_slow"] + page + C["memcg_charge"]
    # B: get_freelist() finds A full (cmpxchg), then a new slab charged from the stock
    second = C["alloc_slow"] + C["cmpxchg"] + page + C["memcg_charge_stock"]
    assert k.slub.h_alloc_slow.counts == {first: 1, second: 1}
    assert k.slub.memcg_stock.nr_pages[0] == MEMCG_CHARGE_BATCH - 2
    k.alloc(dentry, n=1, cpu=1)               # cpu 1's stock is empty: the counters
    assert k.slub.h_alloc_slow.counts == {first: 2, second: 1}


def test_synchronize_rcu_waits_the_grace_period_measured_for_the_cpu_count():
    costs = dict(C)
    assert rcu_grace_period(costs, RCU_WAKE_FROM_GP_CPUS) == C["rcu_grace_period"] == 4_000_000
    assert rcu_grace_period(costs, RCU_WAKE_FROM_GP_CPUS + 1) == C["rcu_grace_period_many"]
    assert Kit(cpus=2).sim.synchronize_rcu() == C["rcu_grace_period"]
    assert Kit(cpus=32).sim.synchronize_rcu() == C["rcu_grace_period_many"] == 10_000_000
