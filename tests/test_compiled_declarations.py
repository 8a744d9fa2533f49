"""The Cython declarations of the kernel model's reclaim and RCU modules (list_lru.pxd,
rcu.pxd, reclaim.pxd) and of the engine's (engine.pxd, event_queue.pxd, turns.pxd;
slub.pxd has its own test in test_compiled_core.py) name the
fields their classes really have: a class with ``__slots__`` declares exactly those,
one without declares only attributes its methods set (anything else lands in its
``__dict__``).  A field the .py gains and the .pxd lacks would make the compiled
class refuse it; one the .pxd names and the .py never sets would be a stale
declaration."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

KERNEL = Path(__file__).resolve().parent.parent / "slabpolicy" / "kernel"


def declared_fields(pxd: str) -> dict[str, set[str]]:
    """Per ``cdef class`` of a .pxd, the names of its ``cdef public`` fields."""
    blocks = re.findall(r"^cdef class (\w+):\n((?:    .*\n|\n)*)", pxd, flags=re.M)
    return {name: {field.strip() for line in re.findall(r"cdef public \w+ (.*)", body)
                   for field in line.split(",")} for name, body in blocks}


def assigned_in(tree: ast.Module, class_name: str) -> set[str]:
    """The ``self.<name>`` attributes the methods of ``class_name`` assign."""
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    return {t.attr for n in ast.walk(node)
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            for t in (t.elts if isinstance(t, ast.Tuple) else [t])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
            and t.value.id == "self"}


@pytest.mark.parametrize("module,classes", [("list_lru", ["LruItem", "ListLru"]),
                                            ("rcu", ["Rcu"]), ("reclaim", ["Reclaim"]),
                                            ("engine", ["_Stream"]),
                                            ("event_queue", ["EventQueue"]),
                                            ("turns", ["Turns"])])
def test_each_declared_class_declares_the_fields_its_python_class_has(module, classes):
    declared = declared_fields((KERNEL / f"{module}.pxd").read_text())
    assert sorted(declared) == sorted(classes)
    tree = ast.parse((KERNEL / f"{module}.py").read_text())
    mod = importlib.import_module(f"slabpolicy.kernel.{module}")
    for name, fields in declared.items():
        cls = getattr(mod, name)
        if "__slots__" in vars(cls):
            assert fields == set(cls.__slots__), (name, fields ^ set(cls.__slots__))
        else:
            assert fields == assigned_in(tree, name), (name, fields ^ assigned_in(tree, name))
