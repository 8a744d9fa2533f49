"""The Cython declarations of the kernel model and the samplers (every
``slabpolicy/kernel/*.pxd`` and ``slabpolicy/workloads/*.pxd`` with a ``cdef
class``) name the fields their classes really have.  A field the .py
gains and the .pxd lacks would make the compiled class refuse it; one the .pxd names
and the .py never sets would be a stale declaration."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

KERNEL = Path(__file__).resolve().parent.parent / "slabpolicy" / "kernel"


#: what the .pxd files declare: module -> its C types, in declaration order
DECLARED = {
    "slub": ["Slab", "SlabList", "KmemCacheCpu", "KmemCacheNode", "KmemCache", "Allocator"],
    "locks": ["LockClass", "Lock", "LockRegistry"],
    "histogram": ["Histogram"],
    "memcg": ["MemCgroup"],
    "memcg_stock": ["MemcgStock"],
    "objcg": ["ObjCgroup", "ObjStock", "ObjcgAccounting"],
    "objcg_eras": ["ObjcgAccounting59"],
    "list_lru": ["LruItem", "ListLruOne", "ListLru"],
    "rcu": ["BatchTurn", "Rcu"],
    "reclaim": ["Reclaim"],
    "engine": ["_Stream"],
    "event_queue": ["EventQueue"],
    "turns": ["Continuation", "Turns"],
}
#: the same for slabpolicy/workloads
DECLARED_WORKLOADS = {
    "distributions": ["Sampler", "CallableSampler", "ExponentialSampler", "ClampedSampler",
                      "LogNormalSampler", "ParetoSampler", "FixedSampler", "ForeverSampler",
                      "MixtureSampler"],
}
#: (package folder, module, its C types) of every .pxd that declares classes
MODULES = [(KERNEL, m, c) for m, c in DECLARED.items()] + [
    (KERNEL.parent / "workloads", m, c) for m, c in DECLARED_WORKLOADS.items()]
#: fields of a class without __slots__ that other modules set (the engine, reclaim, rcu)
SET_ELSEWHERE = {"Allocator": {"turns", "dead_cache_free", "on_dead_cache_empty", "pressure",
                               "rcu_free_slab"}}


def declared_classes(pxd: str) -> dict[str, tuple[set[str], bool]]:
    """Per ``cdef class`` of a .pxd (a subclass too): its ``cdef public`` fields and its
    C array fields (``cdef int64_t exact[2048]``, ``[NR_SLUB_STAT_ITEMS]``: a slot of
    the .py, a list there), and whether it keeps a ``__dict__`` for attributes it does
    not declare."""
    blocks = re.findall(r"^cdef class (\w+)(?:\(\w+\))?:\n((?:    .*\n|\n)*)", pxd, flags=re.M)
    return {name: ({field.strip() for line in re.findall(r"cdef public \w+ (.*)", body)
                    for field in line.split(",")}
                   | set(re.findall(r"^    cdef \w+ (\w+)\[\w+\]", body, flags=re.M)),
                   "cdef dict __dict__" in body)
            for name, body in blocks}


def assigned_in(tree: ast.Module, class_name: str) -> set[str]:
    """The ``self.<name>`` attributes the methods of ``class_name`` assign."""
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    return {t.attr for n in ast.walk(node)
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            for t in (t.elts if isinstance(t, ast.Tuple) else [t])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
            and t.value.id == "self"}


def test_every_pxd_is_listed():
    folders = {folder for folder, _, _ in MODULES}
    assert sorted((f.name, m) for f, m, _ in MODULES) == sorted(
        (f.name, p.stem) for f in folders for p in f.glob("*.pxd") if "cdef class" in p.read_text())


@pytest.mark.parametrize("folder,module,classes", MODULES, ids=[m for _, m, _ in MODULES])
def test_each_declared_class_declares_the_fields_its_python_class_has(folder, module, classes):
    """A class with ``__slots__`` declares exactly those; one without declares only
    attributes its methods (or the modules of SET_ELSEWHERE) set, and every one of
    them unless it keeps a ``__dict__`` for the rest."""
    declared = declared_classes((folder / f"{module}.pxd").read_text())
    assert list(declared) == classes
    tree = ast.parse((folder / f"{module}.py").read_text())
    mod = importlib.import_module(f"slabpolicy.{folder.name}.{module}")
    for name, (fields, has_dict) in declared.items():
        cls = getattr(mod, name)
        if "__slots__" in vars(cls):
            assert fields == set(cls.__slots__), (name, fields ^ set(cls.__slots__))
            continue
        assigned = assigned_in(tree, name)
        assert fields <= assigned | SET_ELSEWHERE.get(name, set()), (name, fields - assigned)
        if not has_dict:
            assert assigned <= fields, (name, assigned - fields)


def test_slub_stat_enum_is_the_kernel_order_slub_py_lists():
    """slub.pxd's C enum stat_item gives every item the index slub.py's STAT_ITEMS (the
    kernel's order) and its pure-Python constants give it: a wrong value would count a
    path's event under another item's name on one core only.  Only DEACTIVATE_TO_HEAD
    and _TAIL have no constant (those names are add_partial()'s flag)."""
    from slabpolicy.kernel import slub
    pxd = (KERNEL / "slub.pxd").read_text()
    body = re.search(r"^cdef enum stat_item:\n((?:    .*\n)+)", pxd, flags=re.M).group(1)
    enum = {name: int(value)
            for name, value in re.findall(r"^    (\w+) = (\d+)$", body, flags=re.M)}
    expected = {item: si for si, item in enumerate(slub.STAT_ITEMS)
                if item not in ("DEACTIVATE_TO_HEAD", "DEACTIVATE_TO_TAIL")}
    assert enum == {**expected, "NR_SLUB_STAT_ITEMS": len(slub.STAT_ITEMS)}
    if hasattr(slub, "ALLOC_SLAB"):             # the pure-Python core: its constants
        assert {name: getattr(slub, name) for name in enum} == enum


def test_slub_where_enum_is_the_values_slub_py_gives():
    """slub.pxd's cpdef enum of where a slab is (Slab.where) gives each name the value
    slub.py's pure-Python constants give it, each the index of its name in WHERE: a
    wrong value would put a slab somewhere else on one core only."""
    from slabpolicy.kernel import slub
    pxd = (KERNEL / "slub.pxd").read_text()
    body = re.search(r"^cpdef enum:\n((?:    .*\n)+)", pxd, flags=re.M).group(1)
    enum = {name: int(value)
            for name, value in re.findall(r"^    (\w+) = (\d+)$", body, flags=re.M)}
    assert enum == {name: getattr(slub, name) for name in enum}
    assert {name: slub.WHERE[value] for name, value in enum.items()} == {
        "NOWHERE": "nowhere", "PARTIAL": "partial", "FULL": "full", "CPU_SLAB": "cpu slab",
        "CPU_PARTIAL": "cpu partial"}
