"""A real headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the browser tests.

The protocol is JSON over one websocket, so the `websockets` client the suite already uses for the realtime
tests is all it takes (playwright and selenium download their own browser builds, which CI cannot fetch).
`.ci/run` installs chromium with apt-get when it is missing; without it these tests fail, never skip: a
browser test that silently does not run proves nothing.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

STARTUP_SECONDS = 30
CALL_SECONDS = 60
# A host name the browser resolves to loopback but that no stage allows: the "other website" of the tests.
DISALLOWED_HOST = "portal-disallowed.test"


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium on PATH: install Debian's `chromium` (apt-get install -y chromium; "
                       ".ci/run does this)")


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:  # the group is already gone
        pass


class Browser:
    """One headless Chromium with one page; `goto(url)` then `run(js)` evaluates an async JS expression."""

    def __init__(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-")
        self._process = subprocess.Popen(
            [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             f"--host-resolver-rules=MAP {DISALLOWED_HOST} 127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self._ids = 0
        self._closing = ExitStack()
        self._ws = self._closing.enter_context(connect(self._page_socket(), open_timeout=STARTUP_SECONDS,
                                                       max_size=None))
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _page_socket(self) -> str:
        """The page target's debugger URL, from the port Chromium chose (written to DevToolsActivePort)."""
        import requests

        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_SECONDS
        while not port_file.exists() or len(port_file.read_text().split()) < 2:
            if self._process.poll() is not None or time.monotonic() > deadline:
                err = self._process.stderr.read().decode(errors="replace")[-2000:] if self._process.stderr else ""
                raise RuntimeError(f"Chromium did not start (exit {self._process.poll()}): {err}")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    def call(self, method: str, **params: Any) -> dict:
        self._ids += 1
        call_id = self._ids
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_SECONDS
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.run("new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', () => r()))")

    def run(self, expression: str) -> Any:
        """The value of an (async) JS expression, awaited; a JS exception fails with its text."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True,
                           timeout=CALL_SECONDS * 1000)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self._closing.close()
        finally:
            # Chromium's helpers (zygote, renderers, crash handler) outlive the browser process and keep writing to
            # the profile; ending the whole process group first lets the profile be removed.
            _signal_group(self._process, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            _signal_group(self._process, signal.SIGKILL)
            self._profile.cleanup()


class PortalPage:
    """A blank page on its own loopback port: the 'portal' origin, different from the API's."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"<!doctype html><html><head><title>portal</title></head><body>portal</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def origin(self, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
