"""Calling a hook that sits on a frequent path without pluggy's dispatch.

A pluggy hook call (``HookCaller.__call__`` -> ``PluginManager._hookexec`` ->
``_multicall``) copies the implementation list, builds each implementation's
arguments from keywords and runs a try/finally for wrappers: about 3.5 us on
this machine, where calling the implementation itself takes 0.35 us (measured
with pluggy 1.6, one implementation returning True).  Most hooks are called at
cgroup events and samples, where that does not matter.  ``slabpolicy_dead_cache_free``
is called on every slow-path free into a dead cache: 4,500 times in the
benchmark's memory-pressure run under chaining, about a tenth of its time.

:func:`direct_caller` gives, for a ``firstresult`` hook, the implementation
itself when pluggy would call exactly that one function and return its result
unchanged: one implementation, neither a wrapper nor a hookwrapper, and no
hook-call monitoring or tracing on the manager (pluggy's
``add_hookcall_monitoring()`` replaces the manager's ``_inner_hookexec``).  In
every other case, or should pluggy's internals not be where this looks for them,
it gives the hook caller, so the call goes through pluggy as before.  An
exception from the implementation propagates the same way, with the same
plugin frames in its traceback.
"""
from __future__ import annotations

from typing import Any, Callable

import pluggy

__all__ = ["direct_caller"]

#: what a manager without monitoring or tracing runs an implementation list with
_PLAIN_HOOKEXEC = getattr(pluggy.PluginManager("slabpolicy-probe"), "_inner_hookexec", None)


def _monitored(caller: pluggy.HookCaller) -> bool:
    """Whether ``caller``'s manager runs hooks through anything but pluggy's plain loop
    (or whether that cannot be told)."""
    manager = getattr(getattr(caller, "_hookexec", None), "__self__", None)
    inner = getattr(manager, "_inner_hookexec", None)
    return _PLAIN_HOOKEXEC is None or inner is not _PLAIN_HOOKEXEC


def direct_caller(caller: pluggy.HookCaller, argnames: tuple[str, ...]) -> Callable[..., Any]:
    """A function taking the hook's arguments positionally, in the order of
    ``argnames`` (the hook's own), that returns what ``caller(**kwargs)`` would."""
    impls = caller.get_hookimpls()
    spec = caller.spec
    if (len(impls) != 1 or spec is None or not spec.opts.get("firstresult")
            or impls[0].hookwrapper or impls[0].wrapper or _monitored(caller)
            or not set(impls[0].argnames) <= set(argnames)):
        return lambda *args: caller(**dict(zip(argnames, args)))
    impl = impls[0]
    if tuple(impl.argnames) == argnames:
        return impl.function
    where = tuple(argnames.index(name) for name in impl.argnames)
    function = impl.function
    return lambda *args: function(*[args[i] for i in where])
