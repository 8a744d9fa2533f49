"""Run every bundled experiment under every policy, shortened, and print the result
documents: the half of tests/test_compiled_core.py that runs in a child process.

    python tests/core_identity.py MAX_DURATION_NS EXPERIMENT.yaml...

Each experiment runs under each policy it lists (with its options) and under every
bundled policy it does not list (with their defaults), for at most
``MAX_DURATION_NS`` of simulated time (a trace replay runs whole), with its own
seed.  The output is one JSON object: the core that ran (``slabpolicy._core``)
and, per ``experiment/label``, the result document without ``wall_seconds``
(the one figure that is not a function of the inputs).  Which ``slabpolicy``
is imported, and which core, is the caller's choice (``PYTHONPATH``,
``SLABPOLICY_PURE_PYTHON``).
"""
from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points


def main(max_duration_ns: int, paths: list[str]) -> dict:
    from slabpolicy import _core
    from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
    from slabpolicy.runs.runner import resolve_policies, run_one
    from slabpolicy.workloads.spec import load_workload

    bundled = sorted(ep.name for ep in entry_points(group="slabpolicy")
                     if ep.value.startswith("slabpolicy_plugins"))
    docs = {}
    for path in paths:
        workload = load_workload(path)
        if workload.trace is None and workload.duration_ns > max_duration_ns:
            workload = load_workload(path, overrides=[f"duration={max_duration_ns}ns"])
        registry = policy_registry(make_plugin_manager(tuple(workload.plugins)))
        listed = [c.label for c in workload.policies]
        names = {c.name for c in workload.policies}
        for policy in resolve_policies(workload, listed + [n for n in bundled if n not in names],
                                       registry):
            doc = run_one(workload, policy, workload.seed)
            del doc["wall_seconds"]
            docs[f"{workload.name}/{policy.label}"] = doc
    return {"core": _core.running(), "module": _core.__file__, "docs": docs}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2:]), sort_keys=True))
