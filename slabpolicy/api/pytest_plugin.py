"""A pytest plugin for policy authors: the ``slab_kit`` fixture.

``slab_kit`` is a factory of :class:`slabpolicy.api.testing.Kit` objects, each a
small allocator and memcg tree driven by the test::

    def test_my_policy(slab_kit):
        kit = slab_kit("my-policy", options={"delay": "10ms"}, cpus=2)
        cg = kit.memcg("a")
        dentry = kit.cache(cg, "dentry")
        objs = kit.alloc(dentry, n=21)
        kit.offline(cg)
        kit.free(dentry, objs)
        kit.assert_accounting()

Every keyword of :class:`~slabpolicy.api.testing.Kit` is accepted (``cpus``, ``nodes``,
``kinds``, ``costs``, ``strict``, ``plugins`` ...).  The policy is looked up among
the installed plugins; pass ``plugins=("path/to/my_policy.py",)`` to load a file
that is not installed.

Enable it with ``-p slabpolicy.api.pytest_plugin`` on the pytest command line, or
``pytest_plugins = ["slabpolicy.api.pytest_plugin"]`` in your top-level
``conftest.py``.  Registered as a ``pytest11`` entry point whose *name* is the
module's (``"slabpolicy.api.pytest_plugin" = "slabpolicy.api.pytest_plugin"``), it is on
wherever slabpolicy is installed, both ways of enabling it stay harmless (pytest
skips a plugin already registered under that name), and
``-p no:slabpolicy.api.pytest_plugin`` turns it off.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pytest

if TYPE_CHECKING:
    from slabpolicy.api.testing import Kit


@pytest.fixture
def slab_kit() -> Callable[..., Kit]:
    """A factory: ``slab_kit(policy="leave-in-place", options=None, **kit_keywords)``."""
    # imported here, so that the plugin costs nothing to a test run that does not use it
    from slabpolicy.api.testing import Kit

    def make(policy: str = "leave-in-place", options: dict[str, Any] | None = None,
             **kwargs: Any) -> Kit:
        return Kit(policy=policy, options=options, **kwargs)
    return make
