"""A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe).

No Python browser library is needed: Chromium reads JSON commands, each ended by a NUL byte, on its
file descriptor 3 and writes replies and events on 4. `load_page` opens a file:// URL, waits for the
load event, records every network request the page makes, evaluates a JavaScript expression and takes a
screenshot.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-pipe", "--window-size=1200,900",
]  # fmt: skip


def chromium_missing_reason() -> str | None:
    if not os.path.isfile(CHROMIUM):
        return "Debian's chromium is not installed (/usr/bin/chromium); `make test` installs it where apt-get can run as root"
    return None


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="gf-chromium-")
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()

        def wire_fds():  # the child's fd 3 reads our commands, fd 4 carries its replies
            read_end, write_end = os.dup(to_child_r), os.dup(from_child_w)  # off 3 and 4 first
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        # close_fds=False: every other descriptor of ours is close-on-exec already (Python's default),
        # and close_fds would close 3 and 4 after wire_fds ran.
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            close_fds=False, preexec_fn=wire_fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    return e
            self.events.append(self._read())
        raise TimeoutError(method)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_child_w)
        os.close(self._from_child_r)
        shutil.rmtree(self.profile, ignore_errors=True)


def load_page(path: str, expression: str) -> tuple[object, list[str], bytes]:
    """Open a local file; return (the expression's value after load, URLs requested, screenshot PNG)."""
    browser = Browser()
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Network.enable", session=session)
        browser.send("Page.enable", session=session)
        browser.events.clear()
        browser.send("Page.navigate", {"url": "file://" + os.path.abspath(path)}, session=session)
        browser.wait_event("Page.loadEventFired", timeout=60)
        value = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        requested = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
        return value["result"].get("value"), requested, base64.b64decode(shot["data"])
    finally:
        browser.close()
