"""objcg's two eras told apart: Linux 5.9 (bf4f059954dc, 10befea91b61) and 5.14+ (6.x).

One cpu, 4 KiB pages.  dentry: 192-byte slots, obj_full_size = 200 bytes, 21
objects per order-0 slab; big: 4096-byte slots, obj_full_size = 4104 bytes (a
charge of 2 pages), 8 objects per order-3 slab.
"""
from __future__ import annotations

import pytest

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.api.testing import Kit
from slabpolicy.runs.policy_args import split_policy_arg
from slabpolicy.kernel.costs import DEFAULT_STEPS
from slabpolicy.kernel.memcg_stock import MEMCG_CHARGE_BATCH, MEMCG_CHARGE_BATCH_6_1
from slabpolicy.kernel.objcg import kmalloc_size

C = {name: step.ns for name, step in DEFAULT_STEPS.items()}
PAGE = 4096
OBJ = 200
KINDS = {"dentry": (192, 192), "big": (4096, 4096)}


def setup(era: str, kind: str = "dentry", cpus: int = 1):
    k = Kit(cpus=cpus, kinds=KINDS, policy="objcg", options={"era": era})
    cg = k.memcg("a")
    cache = k.cache(cg, kind)
    return k, cg, cache, k.objcg(cg)


def held(k, objcg):
    """(pages charged through the objcg, bytes in cpu 0's stock, the stock caches the
    objcg, bytes parked in objcg->nr_charged_bytes)."""
    stock = k.slub.objcgs.stocks[0]
    return objcg.pages, stock.nr_bytes, stock.cached is objcg, objcg.nr_charged_bytes


@pytest.mark.parametrize("era, after_free", [
    # 5.9 refill_obj_stock(): 3992 + 200 = 4192 > PAGE_SIZE -> drain_obj_stock():
    # one page uncharged, 96 bytes parked in the objcg, the stock empty and uncached
    ("5.9", (1, 0, False, 96)),
    # 5.14+: only the whole page is uncharged; the 96 bytes stay in the stock
    ("6.x", (1, 96, True, 0)),
])
def test_5_9_objcg_drains_its_stock_past_a_page(era, after_free):
    """21 dentries charge two pages: the first leaves 3896 bytes in the stock, 19
    more use them down to 96, the 21st charges a second page (96 + 3896 = 3992).
    The first free brings the stock past a page."""
    k, cg, cache, objcg = setup(era)
    objs = k.alloc(cache, n=21, cpu=0, objcg=objcg)
    assert held(k, objcg) == (2, 3992, True, 0)
    k.free(cache, objs[0], cpu=0, objcg=objcg)
    assert held(k, objcg) == after_free
    assert cg.usage == 1 and objcg.live_bytes == 20 * OBJ
    k.assert_accounting()
    # the next free refills the stock: 5.9 takes the parked bytes back first
    k.free(cache, objs[1], cpu=0, objcg=objcg)
    assert held(k, objcg) == (1, 96 + OBJ, True, 0)
    k.assert_accounting()


@pytest.mark.parametrize("era, after", [
    # 5.9: the second charge's remainder (4088) on top of 4088 drains the stock:
    # 8176 = one page uncharged at once + 4080 bytes parked
    ("5.9", (3, 0, False, 4080)),
    # 6.x: obj_cgroup_charge() refills with allow_uncharge = false: 8176 bytes stay
    ("6.x", (4, 8176, True, 0)),
])
def test_5_9_drains_on_the_charge_path_too(era, after):
    """Two 4 KiB objects: each charges 2 pages for 4104 bytes and refills the stock
    with the remaining 4088."""
    k, cg, cache, objcg = setup(era, "big")
    k.alloc(cache, cpu=0, objcg=objcg)
    assert held(k, objcg) == (2, PAGE - 8, True, 0)
    k.alloc(cache, cpu=0, objcg=objcg)
    assert held(k, objcg) == after
    assert cg.usage == after[0]
    k.assert_accounting()


def test_5_9_page_uncharges_go_to_the_counters_6x_to_the_per_cpu_stock():
    """The free that uncharges a page: 5.9's __memcg_kmem_uncharge() is
    page_counter_uncharge() (memcg_charge); 6.x refills the per-cpu memcg stock
    (memcg_charge_stock).  The object costs differ by the vmstat update."""
    latency = {}
    for era in ("5.9", "6.x"):
        k, cg, cache, objcg = setup(era)
        objs = k.alloc(cache, n=21, cpu=0, objcg=objcg)
        k.free(cache, objs[0], cpu=0, objcg=objcg)
        assert k.slub.h_free_fast_rec.count == 1
        latency[era] = k.slub.h_free_fast_rec.max
    assert latency["5.9"] == (C["objcg_charge_5_9"] + C["objcg_vmstat"] + C["memcg_charge"]
                              + C["free_fast"])
    assert latency["6.x"] == C["objcg_charge"] + C["memcg_charge_stock"] + C["free_fast"]


@pytest.mark.parametrize("era, batch", [("5.9", MEMCG_CHARGE_BATCH),
                                        ("6.x", MEMCG_CHARGE_BATCH_6_1)])
def test_page_charges_refill_the_era_s_memcg_stock_batch(era, batch):
    """try_charge(): the first page charged on a cpu charges a batch to the counters
    and keeps the rest in the stock: 32 pages in 5.9, 64 from 6.1."""
    k, cg, cache, objcg = setup(era)
    k.alloc(cache, cpu=0, objcg=objcg)
    assert k.slub.memcg_stock.nr_pages[0] == batch - 1


def test_an_accounted_object_costs_the_vmstat_update_in_5_9():
    for era, per_object in (("5.9", C["objcg_charge_5_9"] + C["objcg_vmstat"]),
                            ("6.x", C["objcg_charge"])):
        k, cg, cache, objcg = setup(era)
        k.alloc(cache, n=2, cpu=0, objcg=objcg)     # the second from the stock
        assert k.slub.h_alloc_fast_rec.counts == {C["alloc_fast"] + per_object: 1}


def test_kmalloc_size_classes():
    assert [kmalloc_size(n, PAGE) for n in (1, 8, 9, 64, 65, 96, 97, 168, 193, 4096, 8192,
                                            8193)] == \
        [8, 8, 16, 64, 96, 96, 128, 192, 256, 4096, 8192, 3 * PAGE]


@pytest.mark.parametrize("era, vector_at_creation", [("5.9", 0), ("6.x", 192)])
def test_the_obj_cgroups_vector_is_kmalloced_per_slab_and_counted_in_slab_pages(
        era, vector_at_creation):
    """A dentry slab's vector is 21 x 8 = 168 bytes, kmalloc-192.  The root allocates
    first from the accounted cache: 6.x allocates the vector with the slab
    (account_slab(), 2e9bd4831599); 5.9 at the slab's first accounted object
    (memcg_slab_post_alloc_hook()).  It goes with the slab."""
    k, cg, cache, objcg = setup(era)
    objcgs = k.slub.objcgs
    [root_obj] = k.alloc(cache, cpu=0)
    assert objcgs.vector_bytes == vector_at_creation
    [obj] = k.alloc(cache, cpu=0, objcg=objcg)
    assert obj is root_obj and objcgs.vector_bytes == 192 and objcgs.vector_pages == 1
    k.sim._sample(k.t)
    assert k.sim.series["slab_pages"][-1] == k.slub.total_pages + 1 == 2
    assert k.slub.peak_pages == 2
    k.free(cache, obj, cpu=0, objcg=objcg)
    k.free(cache, root_obj, cpu=0)
    k.flush(cache)
    k.slub.kmem_cache_shrink(cache)
    assert k.slub.total_pages == 0
    assert (objcgs.vector_bytes, objcgs.vector_pages) == (0, 0)
    k.assert_accounting()


@pytest.mark.parametrize("era, lock, other", [("5.9", "css_set_lock", "objcg_lock"),
                                              ("6.x", "objcg_lock", "css_set_lock")])
def test_reparenting_takes_the_era_s_lock_one_list_step_per_objcg(era, lock, other):
    """memcg_reparent_objcgs(): 5.9 under spin_lock_irq(&css_set_lock), 6.x under
    objcg_lock; one step for the active objcg and one per objcg inherited from a
    child that went offline before."""
    k = Kit(cpus=1, kinds=KINDS, policy="objcg", options={"era": era})
    parent = k.memcg("parent")
    child = k.memcg("child", parent)
    cache = k.cache(child, "dentry")
    k.alloc(cache, cpu=0, objcg=k.objcg(parent))
    k.alloc(cache, cpu=0, objcg=k.objcg(child))
    k.offline(child)
    k.offline(parent)
    stats = k.sim.locks.stats()
    assert stats[lock]["acquisitions"] == 2 and other not in stats
    assert sorted(k.sim.h_offline.counts) == [C["lock"] + C["list_op"],
                                              C["lock"] + 2 * C["list_op"]]
    assert k.memcgs.nr_dying == 0
    k.assert_accounting()


def test_the_result_names_the_era_s_kernel():
    spec = policy_registry(make_plugin_manager())["objcg"].spec
    assert "bf4f059954dc" in spec.kernel_for({"era": "5.9"})
    assert "10befea91b61" in spec.kernel_for({"era": "5.9"})
    assert "5387c90490f7" in spec.kernel_for({"era": "6.x"})
    assert spec.parse_options({})[0] == {"era": "6.x"}


def test_the_era_is_written_as_on_the_command_line():
    """``--policy objcg:era=5.9``: YAML reads 5.9 as a number; a str option takes its
    text.  A value that is no era is refused with the choices."""
    spec = policy_registry(make_plugin_manager())["objcg"].spec
    name, options = split_policy_arg("objcg:era=5.9")
    assert spec.parse_options(options) == ({"era": "5.9"}, [])
    parsed, problems = spec.parse_options({"era": 5.1})
    assert problems and "5.9, 6.x" in str(problems)


@pytest.mark.parametrize("era, lock, obj_charge", [
    ("5.9", "css_set_lock", C["objcg_charge_5_9"] + C["objcg_vmstat"]),
    ("6.x", "objcg_lock", C["objcg_charge"])])
def test_an_offline_objcg_is_released_under_the_lock_when_its_last_reference_goes(
        era, lock, obj_charge):
    """obj_cgroup_release(): a killed objcg's references are its live objects and the
    stocks caching it.  The child allocates on both cpus and goes offline (one
    acquisition); its two objects are freed, but both stocks still cache it; another
    memcg's allocation on cpu 0 drains one stock (one page uncharged), on cpu 1 the
    other: the last reference goes, and the objcg leaves the parent's list under the
    lock (a second acquisition), in the middle of that allocation's charge: it costs
    the allocation the lock (its line last written by cpu 0) and the list step on
    top of what cpu 0's paid (the object's charge, a page charged to the counters,
    the drained page uncharged to them, the fast path)."""
    k = Kit(cpus=2, kinds=KINDS, policy="objcg", options={"era": era})
    parent = k.memcg("parent")
    child = k.memcg("child", parent)
    cache = k.cache(child, "dentry")
    objcg = k.objcg(child)
    objs = [k.alloc(cache, cpu=cpu, objcg=objcg)[0] for cpu in (0, 1)]
    k.offline(child)

    def state():
        return (k.sim.locks.stats()[lock]["acquisitions"], objcg.pages, parent.usage,
                objcg in k.slub.objcgs.lists[parent.id])

    assert state() == (1, 2, 2, True)
    k.free(cache, objs[0], cpu=0, objcg=objcg)
    k.free(cache, objs[1], cpu=1, objcg=objcg)
    assert state() == (1, 2, 2, True)
    other = k.objcg(k.memcg("other"))
    k.alloc(cache, cpu=0, objcg=other)
    assert state() == (1, 1, 1, True)
    k.alloc(cache, cpu=1, objcg=other)
    assert state() == (2, 0, 0, False)
    paid = obj_charge + 2 * C["memcg_charge"] + C["alloc_fast"]
    assert k.slub.h_alloc_fast_rec.counts == {
        paid: 1, paid + C["lock_bounce"] + C["list_op"]: 1}
    k.assert_accounting()
    k.offline(parent)     # one list step, its own objcg: the child's is gone; the lock's
    assert k.sim.h_offline.counts == {C["lock"] + C["list_op"]: 1,      # line on cpu 1
                                      C["lock_bounce"] + C["list_op"]: 1}
