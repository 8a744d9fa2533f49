"""slabpolicy: what should happen to a memory cgroup's slab caches when it dies?

A simulator of the Linux SLUB allocator with per-memcg kmem caches, comparing
dead-cache policies (plugins) on the same workloads.
"""
from slabpolicy import _core

_core.install()   # before anything imports the kernel: the compiled core, or its source

from slabpolicy.api.hookspecs import hookimpl  # noqa: E402
from slabpolicy.api.policy import PLUGIN_API_VERSION, Option, PolicySpec  # noqa: E402
from slabpolicy.errors import SlabpolicyError  # noqa: E402

__version__ = "0.1.0"

from slabpolicy.analysis.metrics import Metric  # noqa: E402  (after __version__: it imports the kernel)

__all__ = ["hookimpl", "PolicySpec", "Option", "Metric", "PLUGIN_API_VERSION", "SlabpolicyError",
           "__version__"]
