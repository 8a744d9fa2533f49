"""``slabpolicy report DIR --html FILE``: one page a reader can open anywhere.

A small comparison (two policies, three seeds) is written by ``compare``; its
page must hold the table, a forest plot per metric, the plots, the workload
and the provenance, and fetch nothing.  Then the page is opened in headless
Chromium (Debian's ``chromium``; the test is skipped where there is none):
no console error, every image loaded, the SVGs drawn, and a screenshot
(kept where ``SLABPOLICY_SCREENSHOTS`` says, to be looked at).
"""
from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slabpolicy.cli import app

from cli_support import CLEAN_ENV
from cli_support import SMALL as WORKLOAD      # two policies, poisson arrivals, 200 ms
from headless import find_browser, view

RUNNER = CliRunner(env={**CLEAN_ENV, "COLUMNS": "120"})

METRICS = ("memory.slab_pages.mean", "memory.dying_memcgs.final", "latency_ns.free.p99")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("page")
    workload = directory / "tiny.yaml"
    workload.write_text(WORKLOAD)
    out = directory / "results"
    done = RUNNER.invoke(app, ["compare", str(workload), "--seeds", "3", "--jobs", "1",
                               "--out", str(out)])
    assert done.exit_code == 0, done.output
    path = directory / "report.html"
    metrics = [a for m in METRICS for a in ("--metric", m)]
    done = RUNNER.invoke(app, ["report", str(out), "--html", str(path), *metrics])
    assert done.exit_code == 0, done.output
    assert f"{path}: the report page" in done.stderr
    return path


def test_the_page_holds_everything_and_fetches_nothing(page):
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    # nothing from elsewhere: every src and href is a data: URI or an anchor
    for url in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert url.startswith(("data:", "#")), url
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert '<table class="comparison">' in text
    for metric in METRICS:
        assert f"small: {metric}" in text
    assert text.count("<svg ") == len(METRICS)                  # a forest plot per metric
    assert "name: small" in text                                # the workload file
    for field in ("slabpolicy", "Python", "host", "command", "started", "finished"):
        assert f"<dt>{field}</dt>" in text
    assert "leave-in-place-4.0" in text and "{&quot;era&quot;: &quot;4.0&quot;}" in text


def test_the_plots_are_embedded(page):
    pytest.importorskip("matplotlib")
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', page.read_text())
    names = {alt for _, alt in images}
    assert {"small-slab_pages", "small-dying_memcgs", "small-latency"} <= names


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_page_in_a_real_browser(page):
    browser = find_browser()
    if browser is None:
        pytest.skip("no headless browser: install Debian's chromium (apt-get install chromium)")
    seen = view(page, browser)
    assert seen.errors == []
    assert seen.images, "no image on the page"
    for alt, complete, width in seen.images:
        assert complete and width > 0, f"image {alt} did not load"
    assert seen.svgs == len(METRICS)
    for request in seen.requests:
        assert request.startswith(("file:", "data:")), request
    for words in ("Comparison", "Differences from the baseline", "Workloads", "Provenance",
                  "leave-in-place", "leave-in-place-4.0"):
        assert words in seen.text
    width, height = _png_size(seen.screenshot)
    assert width == 1200 and height > 2000                # the whole page, not a blank strip
    keep = os.environ.get("SLABPOLICY_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "report-page.png").write_bytes(seen.screenshot)
