"""ftrace text, one line at a time, as kernels and tools really print it.

A line is an optional context prefix, the event name and its fields:

* ``cat trace`` / ``trace_pipe``: ``TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS``
  where FLAGS is 4 characters before Linux 5.17 (``..s.``) and 5 since
  (``..s..``: the migrate-disable column), and ``(TGID)`` follows the pid when
  ``options/record-tgid`` is set;
* ``trace-cmd report``: no FLAGS column, the event name padded, and its kmem
  plugin (``plugin_kmem.c``, ``call_site_handler()``) puts ``(func+0xoff)``
  before the fields;
* ``options/context-info`` off: no prefix at all, or only ``TIMESTAMP:``;
* FIELDS in the event's ``TP_printk()`` form (``ptr=00000000dd9b4920``: hashed
  by ``%p`` since 4.15, still unique within one boot) or, with
  ``options/fields`` (``print_event_fields()``, Linux 6.5+), every field of the
  record in its own order and spelling: ``ptr=0xffff888100df6000
  (-131387329912832)``, ``accounted=(0)``, ``parent_pid=0x264e (9806)``, and
  ``kmalloc`` without ``accounted`` (the kernel computes it in the printk from
  ``__GFP_ACCOUNT``);
* kernels before ``name=`` (kmem_cache_free got it in 5.12, kmem_cache_alloc
  in 6.1) and before ``accounted=`` (5.19, "mm/tracing: add 'accounted' entry
  into output of allocation tracepoints"), and the ``*_node`` variants that
  6.1 folded into ``kmem_cache_alloc`` and ``kmalloc``.

:func:`parse_line` returns an :class:`Event`, ``None`` for a line that holds no
event (a ``#`` comment, a blank line, trace-cmd's ``version =``/``cpus=``
header, ``CPU N is empty``), or raises :class:`Unparsed` with the reason.
"""
from __future__ import annotations

import re

ALLOC, FREE, MKDIR, RMDIR, ATTACH, FORK, MARK, LOST, OTHER = range(9)

#: the events a trace is read for; other events are counted and skipped
EVENT_KINDS: dict[str, int] = {
    "kmem_cache_alloc": ALLOC, "kmem_cache_alloc_node": ALLOC,
    "kmalloc": ALLOC, "kmalloc_node": ALLOC,
    "kmem_cache_free": FREE, "kfree": FREE,
    "cgroup_mkdir": MKDIR, "cgroup_rmdir": RMDIR, "cgroup_attach_task": ATTACH,
    "sched_process_fork": FORK, "tracing_mark_write": MARK,
}

#: bits of raw gfp flags as print_fields() shows them (include/linux/gfp_types.h, 6.x)
GFP_DMA, GFP_RECLAIMABLE, GFP_ACCOUNT = 1 << 0, 1 << 4, 1 << 22

_CONTEXT = re.compile(
    r"\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*[\d-]*\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>\S{4,5})\s+)?(?P<ts>\d+(?:\.\d+)?):\s+(?P<event>\w+):\s*(?P<rest>.*)")
_TS_ONLY = re.compile(r"\s*(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s*(?P<rest>.*)")
_BARE = re.compile(r"(?P<event>\w+):\s+(?P<rest>.*=.*)")
_KV = re.compile(r"\s+(\w+)=")
#: the common case, recognised in one match: a kmem event of Linux 6.1+ as ``trace`` prints it
_FAST = re.compile(
    r"\s*\S.*?-(\d+) +\[(\d+)\] \S\S(\S)\S\S? +(\d+)\.(\d{6}): "
    r"(kmem_cache_alloc|kmem_cache_free|kmalloc|kfree): call_site=\S+ ptr=([0-9a-f]{16})"
    r"(?: name=(\S+))?(?: bytes_req=\d+ bytes_alloc=(\d+) gfp_flags=(\S+) node=-?\d+ "
    r"accounted=(true|false))?$")
_LOST = re.compile(r"\s*CPU:?\s*(\d+)\s*\[LOST (\d+) EVENTS\]")
_NOT_EVENTS = re.compile(r"\s*(?:#|$|version = |cpus=\d+\s*$|CPU \d+ is empty)")


class Unparsed(ValueError):
    """A line that should hold an event but cannot be read; the message says why."""


class Event:
    """One trace event, with the fields replay and pairing use.

    ``t_ns`` is None when the line carries no timestamp; ``irq`` is true for an
    event in hardirq or softirq context or on the idle task (RCU callbacks run
    there), where no task's memcg is charged.  ``cache`` is the slab cache
    name: ``name=`` where printed; for ``kmalloc`` the kmalloc cache the size
    and gfp flags select (kmalloc_type(), kmalloc_index(), 6.x names), or None
    for a large kmalloc that bypasses the slab allocator; for an old
    ``kmem_cache_alloc`` without ``name=``, ``kmem_cache-SIZE``.
    """

    __slots__ = ("kind", "name", "t_ns", "cpu", "pid", "irq", "ptr", "cache", "size",
                 "accounted", "path", "root", "target", "count")

    def __init__(self, kind: int, name: str, t_ns: int | None, cpu: int, pid: int,
                 irq: bool) -> None:
        self.kind = kind
        self.name = name
        self.t_ns = t_ns
        self.cpu = cpu
        self.pid = pid
        self.irq = irq
        self.ptr: int | None = None        # object address (hashed or raw); 0 is NULL
        self.cache: str | None = None
        self.size: int | None = None       # bytes_alloc
        self.accounted: bool | None = None  # None: the format does not say
        self.path: str | None = None       # cgroup path; the text of a trace marker
        self.root: int | None = None       # cgroup hierarchy id
        self.target: int | None = None     # pid attached, or child pid forked
        self.count = 0                     # events lost (LOST)

    def __repr__(self) -> str:
        fields = {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}
        return f"Event({fields})"


def timestamp_ns(text: str) -> int:
    """``633.467645`` (seconds) -> 633467645000; a counter clock's integer as is."""
    sec, dot, frac = text.partition(".")
    if not dot:
        return int(sec)
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def _number(value: str) -> int:
    """``4096``, ``-1``, ``0x1000`` or print_fields()'s ``0x1000 (4096)``."""
    value = value.strip()
    if value.endswith(")"):
        return int(value[value.rindex("(") + 1:-1])
    return int(value, 0)


def _pointer(value: str) -> int:
    """A pointer as printed: hashed ``00000000dd9b4920``, raw ``0xffff8881...``, print_fields()'s
    ``0xffff... (-1313...)``, or NULL as ``(null)`` (before 4.15) -> an int, 0 for NULL."""
    value = value.strip()
    if not value or value.endswith("(null)"):
        return 0
    return int(value.split(None, 1)[0], 16)


def _boolean(value: str) -> bool:
    value = value.strip()
    if value in ("true", "(1)", "1"):
        return True
    if value in ("false", "(0)", "0"):
        return False
    raise ValueError(value)


def gfp_bits(gfp: str) -> tuple[bool, bool, bool]:
    """(__GFP_DMA, __GFP_RECLAIMABLE, __GFP_ACCOUNT) of gfp flags printed symbolically
    (``GFP_KERNEL_ACCOUNT|__GFP_ZERO``, ``GFP_DMA``) or raw (``0x400dc0 (4197824)``)."""
    gfp = gfp.strip()
    if gfp[:1].isdigit():
        raw = _number(gfp)
        return bool(raw & GFP_DMA), bool(raw & GFP_RECLAIMABLE), bool(raw & GFP_ACCOUNT)
    dma = any(flag in ("GFP_DMA", "__GFP_DMA") for flag in gfp.split("|"))
    return dma, "RECLAIMABLE" in gfp, "ACCOUNT" in gfp


def _kmalloc_size_name(size: int) -> str:
    return f"{size // 1024}k" if size >= 1024 and size % 1024 == 0 else str(size)


def kmalloc_cache(size: int, dma: bool, reclaimable: bool, accounted: bool,
                  kmalloc_max: int) -> str | None:
    """The kmalloc cache a kmalloc of slot ``size`` comes from (kmalloc_type() of 6.x:
    __GFP_DMA -> dma-kmalloc, __GFP_RECLAIMABLE -> kmalloc-rcl, accounted ->
    kmalloc-cg); None above KMALLOC_MAX_CACHE_SIZE, where kmalloc_large() takes
    pages from the page allocator."""
    if size > kmalloc_max:
        return None
    name = _kmalloc_size_name(size)
    if dma:
        return f"dma-kmalloc-{name}"
    if reclaimable:
        return f"kmalloc-rcl-{name}"
    if accounted:
        return f"kmalloc-cg-{name}"
    return f"kmalloc-{name}"


def _fields(rest: str) -> dict[str, str]:
    parts = _KV.split(" " + rest)
    return dict(zip(parts[1::2], parts[2::2]))


def parse_line(line: str, kmalloc_max: int = 8192) -> Event | None:
    """One line of ftrace text -> an Event, None (no event here), or raise Unparsed.

    ``kmalloc_max`` is KMALLOC_MAX_CACHE_SIZE (two pages with SLUB): larger
    kmallocs are page allocations and get no cache.
    """
    fast = _FAST.match(line)
    if fast is not None:
        return _fast_event(fast, kmalloc_max)
    m = _CONTEXT.match(line)
    if m is not None:
        flags = m.group("flags")
        pid = int(m.group("pid"))
        irq = pid == 0 or (flags is not None and flags[2] in "hsH")
        cpu = int(m.group("cpu"))
        t_ns = timestamp_ns(m.group("ts"))
    else:
        m = _TS_ONLY.match(line) or _BARE.match(line)
        if m is None:
            lost = _LOST.match(line)
            if lost is not None:
                event = Event(LOST, "lost", None, int(lost.group(1)), -1, False)
                event.count = int(lost.group(2))
                return event
            if _NOT_EVENTS.match(line):
                return None
            raise Unparsed("not an ftrace event line")
        pid, cpu, irq = -1, 0, False
        t_ns = timestamp_ns(m.group("ts")) if "ts" in m.groupdict() else None
    name = m.group("event")
    kind = EVENT_KINDS.get(name, OTHER)
    event = Event(kind, name, t_ns, cpu, pid, irq)
    if kind == OTHER:
        return event
    rest = m.group("rest")
    if kind == MARK:
        event.path = rest.strip()
        return event
    f = _fields(rest)
    try:
        if kind == ALLOC:
            _alloc_fields(event, f, kmalloc_max)
        elif kind == FREE:
            event.ptr = _pointer(f["ptr"])
            if "name" in f:
                event.cache = f["name"].strip()
        elif kind == ATTACH:
            event.root = _number(f["dst_root"])
            event.path = f["dst_path"].strip()
            event.target = _number(f["pid"])
        elif kind == FORK:
            event.target = _number(f["child_pid"])
            parent = f.get("pid", f.get("parent_pid"))
            if parent is not None and event.pid < 0:
                event.pid = _number(parent)
        else:                               # MKDIR, RMDIR
            event.root = _number(f["root"])
            event.path = f["path"].strip()
    except KeyError as e:
        raise Unparsed(f"{name}: no {e.args[0]}= field") from None
    except ValueError as e:
        raise Unparsed(f"{name}: bad value {str(e).split(': ')[-1]}") from None
    return event


def _fast_event(m: re.Match, kmalloc_max: int) -> Event:
    pid, cpu, ctx, sec, usec, name, ptr, cache, size, gfp, accounted = m.groups()
    pid = int(pid)
    event = Event(FREE if size is None else ALLOC, name,
                  int(sec) * 1_000_000_000 + int(usec) * 1000, int(cpu), pid,
                  pid == 0 or ctx in "hsH")
    event.ptr = int(ptr, 16)
    event.cache = cache
    if size is not None:
        event.size = int(size)
        event.accounted = accounted == "true"
        if cache is None:          # kmalloc
            dma, reclaimable, _ = gfp_bits(gfp)
            event.cache = kmalloc_cache(event.size, dma, reclaimable, event.accounted, kmalloc_max)
    return event


def _alloc_fields(event: Event, f: dict[str, str], kmalloc_max: int) -> None:
    event.ptr = _pointer(f["ptr"])
    size = event.size = _number(f["bytes_alloc"])
    dma, reclaimable, gfp_account = gfp_bits(f.get("gfp_flags", ""))
    if "accounted" in f:
        event.accounted = _boolean(f["accounted"])
    elif gfp_account:
        # print_fields() of a kmalloc (the kernel computes accounted= in the printk),
        # or a kernel before accounted=: __GFP_ACCOUNT says it
        event.accounted = True
    if event.name.startswith("kmalloc"):
        event.cache = kmalloc_cache(size, dma, reclaimable, bool(event.accounted), kmalloc_max)
    elif "name" in f:
        event.cache = f["name"].strip()
    else:
        event.cache = f"kmem_cache-{size}"
