"""Headless Chromium driven over the DevTools protocol on a pipe (stdlib only).

``--remote-debugging-pipe``: Chromium reads NUL-terminated JSON commands on fd 3 and writes
responses/events on fd 4. We open one page, record console messages, exceptions, log entries
and JavaScript dialogs (alert/confirm/prompt, dismissed at once), evaluate expressions and take
screenshots. Network is off by flags, so nothing could load even if the page asked.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars"]
GUARD_SECONDS = 120.0
"""Upper bound on waiting for Chromium (a hang guard, not a timing assertion)."""


def chromium_path() -> str | None:
    """The Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, exe: str, width: int = 1400, height: int = 1000) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="kw-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child: our pipe ends become fds 3 (in) and 4 (out)
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=wire)  # single-threaded test helper
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the browser and remove its profile."""
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    # --- protocol ------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, *,
             session: bool = False) -> dict[str, Any]:
        """Send a command and wait for its result (events seen meanwhile are recorded)."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + GUARD_SECONDS
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        if "method" in msg:
            self._event(msg)
        return msg

    def _event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        if msg["method"] == "Page.javascriptDialogOpening":
            self._next_id += 1  # dismiss at once so the page does not block
            os.write(self._to_chrome, json.dumps({
                "id": self._next_id, "method": "Page.handleJavaScriptDialog",
                "params": {"accept": False}, "sessionId": self.session}).encode() + b"\0")

    # --- page ----------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Navigate and wait for the load event; events recorded so far are forgotten."""
        self.events = []
        self.call("Page.navigate", {"url": url}, session=True)
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            self._read()

    def eval(self, expression: str) -> Any:
        """A JavaScript expression → its JSON value in the page."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                        session=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The whole page → a PNG file."""
        data = self.call("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": True},
                         session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def dialogs(self) -> list[str]:
        """Messages of every alert/confirm/prompt the page opened."""
        return [e["params"].get("message", "") for e in self.events
                if e["method"] == "Page.javascriptDialogOpening"]

    def errors(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and error log entries (CSP too)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:300])
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error",
                                                                                "warning",
                                                                                "assert"):
                out.append(json.dumps(p.get("args", []))[:300])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") in (
                    "error", "warning"):
                out.append(p["entry"].get("text", "")[:300])
        return out
