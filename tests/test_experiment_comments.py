"""What the bundled experiments' comments claim is what the tool computes.

A comment that gives a cache's geometry ("192 bytes, 21 per order-0 slab"), its
slot ("616 bytes in a 624-byte slot"), slub_min_objects from the cpu count
("4 * (fls(4) + 1) = 16") or the number of samples ("200 times a run") is
checked against the loaded workload and against
:func:`slabpolicy.kernel.geometry.geometry`, as the simulator computes it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from slabpolicy.kernel.geometry import geometry
from slabpolicy.workloads.spec import load_workload

EXPERIMENTS = sorted((Path(__file__).resolve().parent.parent / "experiments").glob("*.yaml"))


def fls(x: int) -> int:
    """The kernel's fls(): the position of the highest set bit, 1-based."""
    return x.bit_length()


def comment_lines(path: Path) -> list[tuple[int, str, str]]:
    """(line number, the YAML before the #, the comment) of every commented line."""
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if "#" in line:
            code, _, comment = line.partition("#")
            out.append((number, code, comment))
    return out


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_geometry_comments_match_the_tool(path):
    workload = load_workload(path)
    machine = workload.machine
    kinds = {k.name: k for k in workload.caches}
    checked = 0
    for number, code, comment in comment_lines(path):
        where = f"{path.name}:{number}"
        name = re.search(r"-\s*name:\s*(\S+)", code)
        kind = kinds.get(name.group(1)) if name else None
        slab = re.search(r"(\d+) per order-(\d+) slab", comment)
        if slab:
            assert kind is not None, f"{where}: a geometry comment on no cache line"
            geo = geometry(kind.slot_size, nr_cpus=machine.cpus, page_size=machine.page_size,
                           max_order=machine.slub_max_order,
                           min_objects=machine.slub_min_objects,
                           min_order=machine.slub_min_order, era=machine.slub)
            said = (int(slab.group(1)), int(slab.group(2)))
            assert said == (geo.objects_per_slab, geo.order), (
                f"{where}: the comment says {said[0]} per order-{said[1]} slab; the tool "
                f"computes {geo.objects_per_slab} per order-{geo.order} slab")
            checked += 1
        size = re.search(r"(\d+) bytes(?: in a (\d+)-byte slot)?", comment)
        if size and kind is not None:
            assert int(size.group(1)) == kind.object_size, f"{where}: object size"
            assert int(size.group(2) or kind.object_size) == kind.slot_size, f"{where}: slot"
            checked += 1
        fls_claim = re.search(r"4 \* \(fls\((\d+)\) \+ 1\) = (\d+)", comment)
        if fls_claim:
            cpus, result = map(int, fls_claim.groups())
            assert cpus == machine.cpus, f"{where}: the comment's cpu count"
            assert result == 4 * (fls(cpus) + 1), f"{where}: 4 * (fls({cpus}) + 1)"
            checked += 1
        samples = re.search(r"(\d+) times a run", comment)
        if samples:
            assert int(samples.group(1)) == workload.duration_ns // workload.sample_interval_ns, \
                f"{where}: samples per run"
            checked += 1
    if path.name == "default.yaml":
        assert checked >= 5


def test_the_checker_catches_a_wrong_comment(tmp_path):
    """The check can fail: default.yaml with the old, wrong inode geometry."""
    default = next(p for p in EXPERIMENTS if p.name == "default.yaml")
    wrong = tmp_path / "default.yaml"
    wrong.write_text(default.read_text().replace("26 per order-2 slab", "13 per order-1 slab"))
    with pytest.raises(AssertionError, match="the tool computes 26 per order-2 slab"):
        test_geometry_comments_match_the_tool(wrong)
