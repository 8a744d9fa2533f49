"""The per-cpu memcg charge stock, for what a page charge costs.

try_charge() (mm/memcontrol.c, 2.6.33 on) first tries consume_stock(): each cpu
keeps pages already charged to one memcg's page counter, and a charge they
cover touches no shared counter.  Otherwise it charges a batch
(MEMCG_CHARGE_BATCH, 32 pages; 64 from 6.1) to the page counters, the hierarchy included,
and keeps the rest in the stock, draining what the stock held for another
memcg.  An uncharge goes back to the stock (refill_stock()), which drains to the
counters when it holds pages of another memcg or more than a batch.

The model charges and uncharges its counters exactly, page by page (the
accounting checker compares them with the slabs that exist); this stock only
decides what each charge costs: ``memcg_charge_stock`` when the stock covers
it, ``memcg_charge`` when the page counters are touched.
"""
from __future__ import annotations

#: MEMCG_CHARGE_BATCH (CHARGE_BATCH before 4.x): pages a stock refill charges at once,
#: from 2.6.33 to 6.0
MEMCG_CHARGE_BATCH = 32
#: MEMCG_CHARGE_BATCH from 6.1 on: 1813e51eece0 (Shakeel Butt, "memcg: increase
#: MEMCG_CHARGE_BATCH to 64", 2022)
MEMCG_CHARGE_BATCH_6_1 = 64


class MemcgStock:
    """One ``memcg_stock_pcp`` per cpu: the memcg cached and its pre-charged pages."""

    __slots__ = ("cached", "nr_pages", "c_stock", "c_counter", "batch")

    def __init__(self, cpus: int, costs: dict[str, int]) -> None:
        self.cached: list = [None] * cpus
        self.nr_pages = [0] * cpus
        #: the era's MEMCG_CHARGE_BATCH (objcg's 6.x era sets MEMCG_CHARGE_BATCH_6_1)
        self.batch = MEMCG_CHARGE_BATCH
        self.c_stock = costs["memcg_charge_stock"]
        self.c_counter = costs["memcg_charge"]

    def charge(self, memcg, cpu: int, pages: int) -> int:
        """The cost of charging ``pages`` to ``memcg`` on ``cpu`` (consume_stock(), else
        a batch charged to the page counters that refills the stock)."""
        nr_pages = self.nr_pages
        if self.cached[cpu] is memcg and nr_pages[cpu] >= pages:
            nr_pages[cpu] -= pages
            return self.c_stock
        self.cached[cpu] = memcg
        left = self.batch - pages
        nr_pages[cpu] = left if left > 0 else 0
        return self.c_counter

    def uncharge(self, memcg, cpu: int, pages: int) -> int:
        """The cost of uncharging ``pages`` of ``memcg`` on ``cpu`` (refill_stock(); the
        page counters when the stock is another memcg's or grows past a batch)."""
        nr_pages = self.nr_pages
        if self.cached[cpu] is memcg:
            held = nr_pages[cpu]
            stocked = held + pages
            if stocked <= self.batch:
                nr_pages[cpu] = stocked
                return self.c_stock
            nr_pages[cpu] = 0
            return self.c_counter
        self.cached[cpu] = memcg
        nr_pages[cpu] = pages
        return self.c_counter
