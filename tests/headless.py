"""Open a page in headless Chromium and report what a reader would see.

Chromium is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: commands on fd 3, replies on fd 4, each message JSON
ended by a NUL byte), so no websocket library nor network port is needed.  The
browser runs with no network access of its own beyond what the page asks for,
a fresh profile and no sandbox (tests run as root).
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageView:
    """What loading the page gave: images (alt, loaded, natural width), the number of
    inline SVGs, the visible text, console errors and exceptions, a PNG screenshot."""

    images: list[tuple[str, bool, int]]
    svgs: int
    text: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""


class _Pipe:
    def __init__(self, browser: str, profile: str) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:                  # in the child: fd 3 reads, fd 4 writes
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--no-first-run", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            close_fds=False, preexec_fn=fds,     # closing fds would close 3 and 4 too
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read(timeout)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise TimeoutError("no answer from the browser")
            chunk = os.read(self._from_child, 65536)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


IMAGES_JS = ("JSON.stringify([...document.images].map(i => [i.alt, i.complete, "
             "i.naturalWidth]))")


def view(page: Path, browser: str, width: int = 1200) -> PageView:
    """Load ``page`` (a file) and look at it."""
    with tempfile.TemporaryDirectory(prefix="slabpolicy-chromium-") as profile:
        pipe = _Pipe(browser, profile)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget",
                                {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": 900, "deviceScaleFactor": 1,
                       "mobile": False}, session=session)
            pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout=60)

            def evaluate(expression: str):
                return pipe.send("Runtime.evaluate", {"expression": expression,
                                                      "returnByValue": True},
                                 session=session)["result"]["value"]

            images = [tuple(i) for i in json.loads(evaluate(IMAGES_JS))]
            svgs = evaluate("document.querySelectorAll('svg').length")
            text = evaluate("document.body.innerText")
            shot = pipe.send("Page.captureScreenshot",
                             {"format": "png", "captureBeyondViewport": True},
                             session=session, timeout=60)["data"]
            errors, requests = [], []
            for event in pipe.events:
                method, params = event.get("method"), event.get("params", {})
                if method == "Runtime.exceptionThrown":
                    errors.append(json.dumps(params.get("exceptionDetails", {}))[:300])
                elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                        "error", "assert"):
                    errors.append(json.dumps(params.get("args", []))[:300])
                elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                    errors.append(params["entry"].get("text", ""))
                elif method == "Network.requestWillBeSent":
                    requests.append(params["request"]["url"])
            return PageView(images, svgs, text, errors, requests, base64.b64decode(shot))
        finally:
            pipe.close()
