"""lazy-reparent in kit scenarios: nothing moves before the grace period, the partial
slabs move on the first timer run after it, and the cache and memcg go with the
last slab.  dentry: 21 objects per order-0 slab on the kit's 2-cpu machine."""
from __future__ import annotations

import pytest

from slabpolicy import SlabpolicyError
from slabpolicy.api.testing import Kit

PER_SLAB = 21
MS = 1_000_000


def test_partial_slabs_move_to_the_parent_after_the_grace_period():
    k = Kit(policy="lazy-reparent", options={"grace": "50ms", "interval": "20ms"})
    parent = k.memcg("p")
    cg = k.memcg("c", parent)
    dentry = k.cache(cg, "dentry")
    objs = k.alloc(dentry, n=2 * PER_SLAB + 5, cpu=0)    # two full slabs, a cpu slab of 5
    k.free(dentry, objs[:PER_SLAB], cpu=1)                # the first slab empties
    k.offline(cg, at=10 * MS)
    assert not dentry.destroyed and cg.usage == 3
    k.advance(40 * MS)                                    # 50 ms: runs at 20, 40 ms
    assert k.policy.slabs_moved == 0 and dentry.nr_slabs == 3
    k.advance(20 * MS)                                    # the run at 60 ms: past the grace
    parent_dentry = parent.caches[dentry.index]
    # flush_all(): the empty slab, on cpu 1's partial list, is discarded by 3.4's
    # unfreeze_partials() before it takes any list_lock (the kit's SLUB era); the
    # cpu slab goes to the node partial list and moves; the full slab, on no list,
    # stays
    assert k.policy.slabs_moved == 1 == parent_dentry.nr_slabs
    assert dentry.nr_slabs == 1
    assert (cg.usage, parent.usage) == (1, 2)
    k.free(dentry, objs[PER_SLAB:2 * PER_SLAB], cpu=1)    # the full slab empties, frozen on cpu 1
    k.advance(20 * MS)              # the next run's flush_all() discards it, empty, as above
    assert dentry.destroyed and cg.state == "released"
    assert parent.usage == 1 and k.policy.slabs_moved == 1
    k.assert_accounting()


def test_a_bad_interval_is_refused(slab_kit):
    with pytest.raises(SlabpolicyError, match="is below the minimum 1ms"):
        slab_kit("lazy-reparent", options={"interval": "10us"})
