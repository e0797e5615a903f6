"""Child processes of the local stack: free ports, readiness waits, and stopping whole process groups.

Every child starts in its own session (process group), so stopping it also stops anything it spawned
(e.g. moto's worker threads or a reloader) and Ctrl-C in the terminal reaches only the orchestrator,
which then stops the children in reverse start order.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on right now (the OS picks it; tiny race until the child binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Child:
    """A started child process and what it is for (used in messages)."""
    name: str
    process: subprocess.Popen
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # what this child exports to the others

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


def spawn(name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path | None = None,
          url: str | None = None) -> Child:
    """Start argv in a new session. Output goes to log_path (tests) or is inherited (make run)."""
    stdout = stderr = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        stdout = open(log_path, "ab")  # noqa: SIM115 - closed when the child is reaped
        stderr = subprocess.STDOUT
    process = subprocess.Popen(list(argv), env=dict(env), cwd=PROJECT_DIR, stdout=stdout, stderr=stderr,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    return Child(name=name, process=process, url=url)


def wait_until_ready(child: Child, check_url: str, timeout: float = 30.0, accept_status: bool = True) -> None:
    """Poll check_url until it answers any HTTP status (the server is up) or raise with the reason.

    Raises RuntimeError if the child exits first or nothing answers within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(check_url, timeout=2):
                return
        except urllib.error.HTTPError:
            if accept_status:
                return  # it answered: up, whatever the status
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} not ready at {check_url} after {timeout:.0f}s: {last_error}")


def stop(child: Child, timeout: float = 10.0) -> None:
    """SIGINT the child's process group, then SIGTERM, then SIGKILL; always reaps the child."""
    for sig, wait in ((signal.SIGINT, timeout / 2), (signal.SIGTERM, timeout / 2), (signal.SIGKILL, timeout)):
        if child.process.poll() is not None:
            break
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while group members linger: make sure none survives.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.process.wait()
    for stream in (child.process.stdout, child.process.stderr):
        if stream is not None:
            stream.close()


def stop_all(children: list[Child]) -> None:
    """Stop in reverse start order (the API before the database it uses)."""
    for child in reversed(children):
        stop(child)
    children.clear()


def python_module(module: str, *args: str) -> list[str]:
    """argv running `python -m module` with this interpreter (the project's venv)."""
    return [sys.executable, "-m", module, *args]


def serve_json_status(port: int, status: Callable[[], Any], name: str = "status") -> None:
    """Answer GET on LOOPBACK:`port` with `status()` as JSON, from a daemon thread: how a local stand-in that is
    not an HTTP server itself (the stream poller, the scheduler) says it is up, and what it has done."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Status(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = json.dumps(status(), default=str).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, port), Status)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
