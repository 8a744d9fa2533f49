"""``slabpolicy replay-check``: replay a recorded trace under the policy of the
kernel that recorded it and set the model's counters against the kernel's.

The kernel's readings are in the trace itself (``slabpolicy-kmem`` markers,
see :mod:`slabpolicy.traces.record`), so each is compared with the model's
counter at the same instant of the replay:

* each memcg at its rmdir (the recorder's own job: read right before its
  rmdir; a memcg the job made: its last poll before the rmdir);
* the parent right after that rmdir;
* every watched memcg at the end;
* each traced cache at the end: slab pages and objects the kernel gained
  between the start and the end (``/proc/slabinfo``), against the pages and
  live objects of the replay, which starts from empty caches; only for a trace
  of every task (``record --all-tasks``), as /proc/slabinfo counts them all.

Each row gives predicted, measured, the error and the relative error.
"""
from __future__ import annotations

import os
import tempfile

from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry
from slabpolicy.runs.runner import resolve_policies, run_one
from slabpolicy.traces.tracefile import TraceError, TraceFile
from slabpolicy.workloads.spec import load_workload

#: the policy of the kernels that record today's traces (Linux 5.9 and later)
DEFAULT_POLICY = "objcg"


def replay_trace(path: str, policy: str) -> dict:
    """The result document of ``path`` replayed under ``policy``."""
    with tempfile.TemporaryDirectory(prefix="slabpolicy-check-") as tmp:
        wl_path = os.path.join(tmp, "replay-check.yaml")
        with open(wl_path, "w") as fh:
            fh.write(f"name: replay-check\ntrace: {os.path.abspath(path)}\n"
                     f"policies: [{policy}]\n")
        workload = load_workload(wl_path)
        runs = resolve_policies(workload, [policy], policy_registry(make_plugin_manager(())))
        return run_one(workload, runs[0], workload.seed)


def _row(what: str, predicted: float, measured: float, unit: str) -> dict:
    error = predicted - measured
    return {"what": what, "unit": unit, "predicted": predicted, "measured": measured,
            "error": error, "relative_error": error / measured if measured else None}


def check_rows(meta: dict, trace: dict, min_allocs: int = 1) -> list[dict]:
    """Predicted against measured, from the trace's metadata and the replay's summary."""
    rows: list[dict] = []
    readings = trace["readings"]
    for rmdir in trace["rmdirs"]:
        path, t = rmdir["path"], rmdir["t_ns"]
        before = [r for r in readings if r["path"] == path and r["t_ns"] <= t]
        exact = [r for r in before if r["when"] == "rmdir"]
        reading = (exact or before or [None])[-1]
        if reading is not None:
            how = "read at rmdir" if exact else "last poll before rmdir"
            rows.append(_row(f"{path} at rmdir ({how})", rmdir["usage_bytes"],
                             reading["measured_bytes"], "bytes"))
        after = [r for r in readings if r["when"] == "after-rmdir" and r["t_ns"] >= t
                 and r["path"] == (rmdir["parent"] if rmdir["parent"] != "root" else "/")]
        if after:
            rows.append(_row(f"{after[0]['path']} after {path}'s rmdir",
                             rmdir["parent_usage_after_bytes"], after[0]["measured_bytes"],
                             "bytes"))
    for r in readings:
        if r["when"] == "end" and r["path"] != "/" and r["predicted_bytes"] is not None:
            rows.append(_row(f"{r['path']} at the end", r["predicted_bytes"],
                             r["measured_bytes"], "bytes"))
    if meta.get("lines_dropped"):
        return rows      # a subtree's lines only: /proc/slabinfo counts every task's objects
    start, end = meta.get("slabinfo_start", {}), meta.get("slabinfo_end", {})
    traced = meta.get("traced_caches", {})
    for name in sorted(traced, key=lambda n: -traced[n]["allocs"]):
        if traced[name]["allocs"] < min_allocs or name not in start or name not in end:
            continue
        s, e = start[name], end[name]
        pages = (e["num_slabs"] - s["num_slabs"]) * e["pagesperslab"]
        rows.append(_row(f"{name}: slab pages gained", trace["cache_pages_at_end"].get(name, 0),
                         pages, "pages"))
        rows.append(_row(f"{name}: objects gained", trace["cache_live_objects_at_end"].get(name, 0),
                         e["active_objs"] - s["active_objs"], "objects"))
    return rows


def replay_check(path: str, policy: str = DEFAULT_POLICY, min_allocs: int = 1) -> dict:
    """Replay ``path`` under ``policy``; the comparison as a JSON-ready document."""
    meta = TraceFile(path).meta
    if meta is None:
        raise TraceError(f"{path}: not a trace recorded by 'slabpolicy record': a plain "
                         "ftrace trace holds no counters to check against")
    result = replay_trace(path, policy)
    trace = result["trace"]
    return {"trace": path, "policy": policy, "kernel": meta.get("kernel"),
            "recorded_at": meta.get("recorded_at"),
            "events": trace["events"], "unpaired_frees": trace["unpaired_frees"],
            "never_freed": trace["never_freed"], "lost_events": trace["lost_events"],
            "rows": check_rows(meta, trace, min_allocs)}
