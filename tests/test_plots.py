"""Figures of result documents (slabpolicy.analysis.plots): which files, valid PNGs, no matplotlib."""
from __future__ import annotations

import copy
import struct
import sys

import pytest

pytest.importorskip("matplotlib")

from slabpolicy.errors import SlabpolicyError  # noqa: E402
from slabpolicy.analysis.plots import plot_results  # noqa: E402
from slabpolicy.api.plugin_manager import make_plugin_manager, policy_registry  # noqa: E402
from slabpolicy.runs.runner import PolicyRun, run_one  # noqa: E402
from slabpolicy.workloads.spec import load_workload  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ("slab_pages", "dead_cache_pages", "dying_memcgs", "latency", "lock_wait")

# Containers that come and go within 100 ms, some objects outliving them: every
# figure has something in it (dead caches, dying memcgs, offlines, lock traffic).
WORKLOAD = """\
name: tiny
duration: 100ms
sample_interval: 5ms
machine:
  cpus: 2
caches:
  - name: dentry
    object_size: 192
cgroups:
  - name: box
    count: 6
    arrival: {process: fixed, interval: 10ms}
    lifetime: 20ms
    streams:
      - cache: dentry
        rate: 5000/s
        remote_free: 0.3
        lifetime:
          dist: mixture
          of:
            - {weight: 0.9, dist: exponential, mean: 2ms}
            - {weight: 0.1, dist: forever}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """2 policies x 2 seeds of the tiny workload."""
    path = tmp_path_factory.mktemp("wl") / "tiny.yaml"
    path.write_text(WORKLOAD, encoding="utf-8")
    workload = load_workload(path)
    registry = policy_registry(make_plugin_manager())
    out = []
    for name in ("leave-in-place", "objcg"):
        entry = registry[name]
        options, _ = entry.spec.parse_options({})
        for seed in (1, 2):
            out.append(run_one(workload, PolicyRun(entry, name, options), seed))
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_writes_the_five_figures_of_a_workload_as_png(results, tmp_path):
    out = tmp_path / "figs"
    written = plot_results(results, out)
    expected = {f"tiny-{figure}.png" for figure in FIGURES}
    assert sorted(p.name for p in written) == sorted(expected)
    assert {p.name for p in out.iterdir()} == expected          # and nothing else
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE), path.name
        assert len(data) > 10_000, path.name                    # a drawn figure, not a stub
        width, height = png_size(data)
        assert width >= 800 and height >= 400, path.name


def test_one_set_of_figures_per_workload(results, tmp_path):
    other = copy.deepcopy(results[:2])
    for r in other:
        r["workload"]["name"] = "other box"
    written = plot_results(results + other, tmp_path)
    assert {p.name for p in written} == ({f"tiny-{f}.png" for f in FIGURES}
                                        | {f"other_box-{f}.png" for f in FIGURES})


def test_all_zero_and_missing_figures_still_plot(results, tmp_path):
    """One seed, every series 0, no latency events and no lock statistics."""
    flat = copy.deepcopy(results[0])
    for key, column in flat["series"].items():
        if key != "t_ns":
            flat["series"][key] = [0] * len(column)
    for summary in flat["latency_ns"].values():
        summary.update(count=0, p50=0, p90=0, p99=0, p999=0, max=0)
    flat["locks"] = {}
    written = plot_results([flat], tmp_path)
    assert len(written) == len(FIGURES)
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in written)


def test_no_results_is_an_error(tmp_path):
    with pytest.raises(SlabpolicyError, match="no results"):
        plot_results([], tmp_path)


def test_without_matplotlib_says_how_to_get_it(results, tmp_path, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)       # `import matplotlib` fails
    with pytest.raises(SlabpolicyError) as info:
        plot_results(results, tmp_path)
    assert str(info.value) == "plots need matplotlib: pip install 'slabpolicy[plot]'"
    assert not list(tmp_path.iterdir())
