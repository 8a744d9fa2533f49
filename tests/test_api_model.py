"""The object model a policy may use (slabpolicy.api.model), checked three ways:

* every name docs/plugins.md's "The object model" documents exists, with the
  role (read, call, set) the code's SURFACE gives it, and every SURFACE and
  INTERNAL name is documented;
* every public name of those classes, on live objects of a kit, is in SURFACE
  or INTERNAL: a field added to a class is documented or marked the core's;
* a policy writing a counter it may not write (a memcg's usage below the root)
  is caught by the accounting checker.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from slabpolicy.api import model
from slabpolicy.api.testing import Kit
from slabpolicy.errors import AccountingError

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
SECTION = GUIDE[GUIDE.index("## The object model\n"):GUIDE.index("## Options\n")]
CLASSES = {cls.__name__: cls for cls in model.SURFACE}


def documented() -> dict[tuple[str, str], str]:
    """{(class, name): role} of the section's table rows."""
    rows = re.findall(r"^\| `(\w+)\.(\w+)` \| (read|call|set) \|", SECTION, flags=re.M)
    return {(cls, name): role for cls, name, role in rows}


def documented_internal() -> set[tuple[str, str]]:
    lines = re.findall(r"^The core's own: (.*)$", SECTION, flags=re.M)
    return {tuple(name.split(".")) for line in lines for name in re.findall(r"`(\w+\.\w+)`", line)}


def live_objects() -> dict[type, object]:
    """One live object of each class, from a kit with a memcg, a cache, a slab, a timer."""
    k = Kit()
    cg = k.memcg("a")
    cache = k.cache(cg, "dentry")
    slab = k.alloc(cache)[0]
    objects = [k.sim, k.slub, cache, cache.node[0], cache.cpu[0], slab, cache.node[0].partial,
               cache.kind, cg, k.memcgs, cache.node[0].list_lock, k.sim.locks,
               k.sim.schedule_every(1_000, lambda: None)]
    return {type(o): o for o in objects}


def test_the_documented_names_are_the_surface_with_their_roles():
    in_code = {(cls.__name__, name): role for cls, names in model.SURFACE.items()
               for name, role in names.items()}
    in_docs = documented()
    assert sorted(set(in_code) - set(in_docs)) == [], "in SURFACE, not in docs/plugins.md"
    assert sorted(set(in_docs) - set(in_code)) == [], "in docs/plugins.md, not in SURFACE"
    assert in_docs == in_code


def test_the_documented_internal_names_are_internal():
    in_code = {(cls.__name__, name) for cls, names in model.INTERNAL.items() for name in names}
    assert documented_internal() == in_code


@pytest.mark.parametrize("cls", sorted(CLASSES), ids=str)
def test_every_public_name_is_documented_and_exists(cls):
    obj = live_objects()[CLASSES[cls]]
    public = {name for name in dir(obj) if not name.startswith("_")}
    surface = set(model.SURFACE[CLASSES[cls]])
    internal = set(model.INTERNAL[CLASSES[cls]])
    assert not surface & internal
    assert sorted(public - surface - internal) == [], f"{cls}: public names nobody documented"
    assert sorted((surface | internal) - public) == [], f"{cls}: documented names that do not exist"
    for name, role in model.SURFACE[CLASSES[cls]].items():
        assert callable(getattr(obj, name)) == (role == "call"), (cls, name, role)


def test_every_class_is_exported():
    assert set(CLASSES) <= set(model.__all__)
    for name in model.__all__:
        assert hasattr(model, name)


def test_a_memcg_usage_written_below_the_root_is_an_accounting_violation():
    """The root's counter still matches the pages; the child's no longer does."""
    k = Kit()
    parent = k.memcg("p")
    child = k.memcg("c", parent)
    k.alloc(k.cache(child, "dentry"))
    k.assert_accounting()
    child.usage -= 1                     # a policy "moving" a charge by hand
    with pytest.raises(AccountingError, match="memcg c: kmem counter is 0 pages but its "
                                              "caches and those below it hold 1"):
        k.assert_accounting()


def test_a_parents_usage_written_by_hand_is_caught_too():
    k = Kit()
    parent = k.memcg("p")
    k.memcg("c", parent)
    parent.usage += 2
    with pytest.raises(AccountingError, match="memcg p: kmem counter is 2 pages"):
        k.assert_accounting()
