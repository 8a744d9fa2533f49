"""SLUB slab geometry, exactly as the kernel of each SLUB era computes it (mm/slub.c).

Given a cache's slot size (the kernel's ``s->size``, shown in
``/sys/kernel/slab/<cache>/slab_size``) and the machine's cpu count, these pure
functions reproduce the slab page order, objects per slab, ``min_partial`` and
``cpu_partial`` the kernel chooses when it creates the cache.

Two eras (:data:`SLUB_ERAS`, the workload's ``machine.slub``):

* ``"3.4"``: Linux 3.4's ``calculate_order()``/``slab_order()``, which start at
  ``min_objects`` and lower it while no order up to ``slub_max_order`` wastes at
  most 1/16, 1/8 or 1/4 of the slab; ``kmem_cache_open()`` sets ``cpu_partial``
  to 30/13/6/2 objects.
* ``"6.x"``: Linux >= 6.8, after Vlastimil Babka's series "mm/slub: remove
  min_objects loop from calculate_order()" and "mm/slub: attempt to find layouts
  up to 1/2 waste in calculate_order()"; ``set_cpu_partial()`` sets 120/52/24/6
  objects, which ``slub_set_cpu_partial()`` turns into ``cpu_partial_slabs``
  (Linux 5.16, b47291ef02b0, "mm, slub: change percpu partial accounting from
  objects to pages").

The functions default to ``"6.x"``, the era of a kernel running today (the tests
check them against ``/sys/kernel/slab``); a workload's default era is
:data:`DEFAULT_ERA`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

MAX_OBJS_PER_PAGE = 32767
"""Largest object count a slab may hold (``slab->objects`` is a 15-bit field)."""
MAX_PAGE_ORDER = 10
"""Largest buddy allocator order (x86-64 default, ``MAX_PAGE_ORDER``)."""
MIN_PARTIAL = 5
"""Lower clamp of ``s->min_partial``."""
MAX_PARTIAL = 10
"""Upper clamp of ``s->min_partial``."""
MIN_PAGE_SIZE = 1024
"""Smallest page size accepted by the validation here."""
MIN_SIZE = 8
"""Smallest slot size: one free pointer on a 64-bit kernel."""
SLUB_ERAS = ("3.4", "6.x")
"""The SLUB eras modelled: Linux 3.4 and Linux 6.8 and later."""
DEFAULT_ERA = "3.4"
"""A workload's SLUB era when it names none (README, "Which SLUB")."""
CPU_PARTIAL = {
    # era: objects for s->size >= PAGE_SIZE, >= 1024, >= 256, smaller
    "3.4": (2, 6, 13, 30),        # kmem_cache_open(), Linux 3.4
    "6.x": (6, 24, 52, 120),      # set_cpu_partial(), Linux 5.16+ (23e98ad1ce89)
}
"""The per-cpu partial list limit in objects, by era and slot size."""
REMOTE_NODE_DEFRAG_RATIO = 1000
"""``s->remote_node_defrag_ratio`` as kmem_cache_open() sets it, in 3.4 and in 6.x
(CONFIG_NUMA): get_any_partial() looks at other nodes when ``get_cycles() % 1024``
is at most this.  sysfs shows and takes a tenth of it (0..100)."""


def fls(x: int) -> int:
    """Find last (most significant) set bit, 1-based; ``fls(0) == 0``.

    Models ``fls()`` from include/asm-generic/bitops/fls.h.
    """
    if x < 0:
        raise ValueError(f"fls() of a negative number: {x}")
    return x.bit_length()


def get_order(size: int, page_size: int = 4096) -> int:
    """Smallest page order whose block holds ``size`` bytes.

    Models ``get_order()`` from include/asm-generic/getorder.h, i.e.
    ``fls(size - 1) - PAGE_SHIFT`` (0 for any size up to one page).
    """
    if size < 1:
        raise ValueError(f"get_order() of a non-positive size is undefined: {size}")
    _check_page_size(page_size)
    return max(fls(size - 1) - fls(page_size - 1), 0)


def order_objects(order: int, size: int, page_size: int = 4096) -> int:
    """Objects of ``size`` bytes fitting in a slab of ``page_size << order`` bytes.

    Models ``order_objects()`` in mm/slub.c. It does not clamp to
    ``MAX_OBJS_PER_PAGE``: like the kernel, :func:`calculate_order` checks that
    limit itself and lowers the order instead.
    """
    return (page_size << order) // size


def calc_slab_order(
    size: int, min_order: int, max_order: int, fract_leftover: int, page_size: int = 4096
) -> int:
    """Smallest order in ``min_order..max_order`` wasting at most 1/``fract_leftover``.

    Models ``calc_slab_order()`` in mm/slub.c (6.8+). Returns ``max_order + 1``
    when no order in the range qualifies, which the caller treats as failure.
    """
    for order in range(min_order, max_order + 1):
        slab_size = page_size << order
        if slab_size % size <= slab_size // fract_leftover:
            return order
    return max(min_order, max_order + 1)


def calculate_order(
    size: int,
    *,
    nr_cpus: int,
    page_size: int = 4096,
    max_order: int = 3,
    min_objects: int = 0,
    min_order: int = 0,
    era: str = "6.x",
) -> int:
    """Page order of a slab for slot size ``size``.

    Models ``calculate_order()`` in mm/slub.c of ``era`` (6.8+, or 3.4: see
    :func:`calculate_order_34`). ``nr_cpus`` is the count the kernel uses:
    ``num_present_cpus()``, or ``nr_cpu_ids`` when at most one cpu is present
    (3.4: ``nr_cpu_ids``; the model has no absent cpus, so both are the cpu
    count). ``max_order``, ``min_objects`` and ``min_order`` are the
    ``slab_max_order=``, ``slab_min_objects=`` and ``slab_min_order=`` boot
    parameters (0 objects means "derive from the cpu count").

    Raises ValueError when even one object does not fit in ``MAX_PAGE_ORDER``
    (where the kernel returns -ENOSYS and fails cache creation), and when the
    smallest slab holds over ``MAX_OBJS_PER_PAGE`` objects so that the order
    would be negative (calculate_sizes() fails the cache then too).
    """
    _validate(size, nr_cpus, page_size, max_order, min_objects, min_order)
    _check_era(era)
    if era == "3.4":
        return calculate_order_34(size, nr_cpus=nr_cpus, page_size=page_size,
                                  max_order=max_order, min_objects=min_objects,
                                  min_order=min_order)
    if not min_objects:
        min_objects = 4 * (fls(nr_cpus) + 1)
    max_objects = max(order_objects(max_order, size, page_size), 1)
    min_objects = min(min_objects, max_objects)
    start = max(min_order, get_order(min_objects * size, page_size))
    if order_objects(start, size, page_size) > MAX_OBJS_PER_PAGE:
        order = get_order(size * MAX_OBJS_PER_PAGE, page_size) - 1
        if order < 0:
            # the kernel's calculate_sizes() fails the cache on a negative order
            raise ValueError(f"slot size {size}: an order-{start} slab of {page_size} bytes "
                             f"holds over MAX_OBJS_PER_PAGE ({MAX_OBJS_PER_PAGE}) objects")
        return order
    for fraction in (16, 8, 4, 2):
        order = calc_slab_order(size, start, max_order, fraction, page_size)
        if order <= max_order:
            return order
    order = get_order(size, page_size)
    if order > MAX_PAGE_ORDER:
        raise ValueError(
            f"slot size {size} needs order {order} > MAX_PAGE_ORDER ({MAX_PAGE_ORDER})"
        )
    return order


def slab_order_34(size: int, min_objects: int, max_order: int, fract_leftover: int,
                  page_size: int = 4096, min_order: int = 0) -> int:
    """Linux 3.4's ``slab_order()``: the smallest order from where ``min_objects``
    objects fit up to ``max_order`` whose leftover is at most 1/``fract_leftover``
    of the slab; ``max_order + 1`` when none is.

    The search starts at ``fls(min_objects * size - 1) - PAGE_SHIFT`` (get_order()
    by hand) and skips orders too small for ``min_objects`` objects.  A
    ``slub_min_order`` so large that one slab holds over MAX_OBJS_PER_PAGE objects
    gives ``get_order(size * MAX_OBJS_PER_PAGE) - 1`` at once, as in the kernel.
    ``s->reserved`` (the rcu_head of a SLAB_DESTROY_BY_RCU cache on some
    architectures) is 0 on x86-64 and left out.
    """
    if order_objects(min_order, size, page_size) > MAX_OBJS_PER_PAGE:
        return get_order(size * MAX_OBJS_PER_PAGE, page_size) - 1
    order = max(min_order, fls(min_objects * size - 1) - fls(page_size - 1))
    while order <= max_order:
        slab_size = page_size << order
        if slab_size >= min_objects * size and slab_size % size <= slab_size // fract_leftover:
            break
        order += 1
    return order


def calculate_order_34(size: int, *, nr_cpus: int, page_size: int = 4096, max_order: int = 3,
                       min_objects: int = 0, min_order: int = 0) -> int:
    """Linux 3.4's ``calculate_order()``: for ``min_objects`` from 4 * (fls(nr_cpu_ids)
    + 1) (capped at what fits at ``slub_max_order``) down to 2, the first order
    from :func:`slab_order_34` wasting at most 1/16, then 1/8, then 1/4 of the
    slab; then one object up to ``slub_max_order`` with any waste; then up to
    MAX_ORDER - 1.

    Where 6.8+ keeps ``min_objects`` and accepts up to 1/2 waste, 3.4 gives up
    objects first: a slot whose leftover exceeds a quarter at every order with
    ``min_objects`` objects gets a smaller slab in 3.4.
    """
    if not min_objects:
        min_objects = 4 * (fls(nr_cpus) + 1)
    min_objects = min(min_objects, order_objects(max_order, size, page_size))
    while min_objects > 1:
        for fraction in (16, 8, 4):
            order = slab_order_34(size, min_objects, max_order, fraction, page_size, min_order)
            if order <= max_order:
                return _check_order(order, size, page_size, min_order)
        min_objects -= 1
    order = slab_order_34(size, 1, max_order, 1, page_size, min_order)
    if order <= max_order:
        return _check_order(order, size, page_size, min_order)
    order = slab_order_34(size, 1, MAX_PAGE_ORDER, 1, page_size, min_order)
    if order <= MAX_PAGE_ORDER:
        return _check_order(order, size, page_size, min_order)
    raise ValueError(f"slot size {size} needs an order > MAX_PAGE_ORDER ({MAX_PAGE_ORDER})")


def _check_order(order: int, size: int, page_size: int, min_order: int) -> int:
    """calculate_sizes() fails the cache on a negative order (a slab of slub_min_order
    holding over MAX_OBJS_PER_PAGE objects of an object size too small)."""
    if order < 0:
        raise ValueError(f"slot size {size}: an order-{min_order} slab of {page_size} bytes "
                         f"holds over MAX_OBJS_PER_PAGE ({MAX_OBJS_PER_PAGE}) objects")
    return order


def min_partial_for(size: int) -> int:
    """Partial slabs a node keeps before freeing empty ones.

    Models ``set_min_partial(s, ilog2(s->size) / 2)`` in kmem_cache_open(),
    clamped to ``MIN_PARTIAL..MAX_PARTIAL``: larger objects keep more partial
    slabs so the page allocator is hit less often.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    return min(MAX_PARTIAL, max(MIN_PARTIAL, (fls(size) - 1) // 2))


def cpu_partial_for(size: int, page_size: int = 4096, has_cpu_partial: bool = True,
                    era: str = "6.x") -> int:
    """Objects a cpu may keep on its per-cpu partial list (sysfs ``cpu_partial``).

    Models ``set_cpu_partial()`` in mm/slub.c (5.16+, 23e98ad1ce89 "mm/slub: increase
    default cpu partial list sizes": 120/52/24/6 objects for slots under 256 bytes,
    from 256, from 1024, from a page) and, for era "3.4", the same choice in Linux
    3.4's ``kmem_cache_open()`` (30/13/6/2, kept until 5.15).
    ``has_cpu_partial`` stands for ``kmem_cache_has_cpu_partial()`` (3.4:
    ``!kmem_cache_debug(s)``), false for debug caches and kernels built without
    CONFIG_SLUB_CPU_PARTIAL; then the value is 0.
    """
    _check_era(era)
    if not has_cpu_partial:
        return 0
    page, kilo, quarter, small = CPU_PARTIAL[era]
    if size >= page_size:
        return page
    if size >= 1024:
        return kilo
    if size >= 256:
        return quarter
    return small


def cpu_partial_slabs(cpu_partial: int, objects_per_slab: int) -> int:
    """Per-cpu partial list limit in slabs, assuming slabs are half full.

    Models ``slub_set_cpu_partial()``:
    ``DIV_ROUND_UP(nr_objects * 2, oo_objects(s->oo))``.
    """
    if objects_per_slab < 1:
        raise ValueError(f"objects_per_slab must be >= 1, got {objects_per_slab}")
    return -(-(cpu_partial * 2) // objects_per_slab)


@dataclass(frozen=True)
class Geometry:
    """Layout of one SLUB cache, as /sys/kernel/slab/<cache>/ reports it."""

    object_size: int
    order: int
    objects_per_slab: int
    pages_per_slab: int
    min_partial: int
    cpu_partial: int
    page_size: int = 4096
    era: str = "6.x"
    #: the per-cpu partial list limit in slabs (6.x's s->cpu_partial_slabs); None in
    #: 3.4, which bounds the list by its free objects instead
    cpu_partial_slabs: int | None = None

    @property
    def slab_bytes(self) -> int:
        """Bytes in one slab: ``page_size << order``."""
        return self.page_size << self.order

    def as_dict(self) -> dict[str, int | str | None]:
        """The era and the kernel-visible figures, in field order (``page_size`` left out)."""
        return {
            "slub": self.era,
            "object_size": self.object_size,
            "order": self.order,
            "objects_per_slab": self.objects_per_slab,
            "pages_per_slab": self.pages_per_slab,
            "min_partial": self.min_partial,
            "cpu_partial": self.cpu_partial,
            "cpu_partial_slabs": self.cpu_partial_slabs,
        }


@lru_cache(maxsize=None)
def geometry(
    size: int,
    *,
    nr_cpus: int,
    page_size: int = 4096,
    max_order: int = 3,
    min_objects: int = 0,
    min_order: int = 0,
    era: str = "6.x",
) -> Geometry:
    """Full geometry of a cache with slot size ``size`` (``s->size``) in SLUB ``era``.

    Mirrors the tail of ``calculate_sizes()`` (``s->oo = oo_make(order, size)``)
    and of ``kmem_cache_open()`` (min_partial, cpu_partial; 6.x: cpu_partial_slabs
    by ``slub_set_cpu_partial()``) for a non-debug cache.  ``object_size``
    reported is the slot size itself.

    Memoized: the layout depends on the arguments alone and :class:`Geometry` is
    frozen, and a workload creates every memcg's copy of a cache with the same
    arguments (many-small-cgroups: 1,800 caches of six sizes).
    """
    order = calculate_order(
        size,
        nr_cpus=nr_cpus,
        page_size=page_size,
        max_order=max_order,
        min_objects=min_objects,
        min_order=min_order,
        era=era,
    )
    objects = order_objects(order, size, page_size)
    cpu_partial = cpu_partial_for(size, page_size, era=era)
    return Geometry(
        object_size=size,
        order=order,
        objects_per_slab=objects,
        pages_per_slab=1 << order,
        min_partial=min_partial_for(size),
        cpu_partial=cpu_partial,
        page_size=page_size,
        era=era,
        cpu_partial_slabs=cpu_partial_slabs(cpu_partial, objects) if era == "6.x" else None,
    )


def _check_era(era: str) -> None:
    if era not in SLUB_ERAS:
        raise ValueError(f"SLUB era must be one of {', '.join(SLUB_ERAS)}, got {era!r}")


def _check_page_size(page_size: int) -> None:
    if page_size < MIN_PAGE_SIZE or page_size & (page_size - 1):
        raise ValueError(f"page_size must be a power of two >= {MIN_PAGE_SIZE}, got {page_size}")


def _validate(
    size: int, nr_cpus: int, page_size: int, max_order: int, min_objects: int, min_order: int
) -> None:
    _check_page_size(page_size)
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE} bytes, got {size}")
    if nr_cpus < 1:
        raise ValueError(f"nr_cpus must be >= 1, got {nr_cpus}")
    if not 0 <= max_order <= MAX_PAGE_ORDER:
        raise ValueError(f"max_order must be in 0..{MAX_PAGE_ORDER}, got {max_order}")
    if not 0 <= min_order <= max_order:
        raise ValueError(f"min_order must be in 0..max_order ({max_order}), got {min_order}")
    if min_objects < 0:
        raise ValueError(f"min_objects must be >= 0, got {min_objects}")
