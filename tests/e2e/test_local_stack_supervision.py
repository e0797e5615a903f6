"""`make run` keeps the local stack up: a crashed API comes back on its port with moto's data kept, SIGHUP
restarts the API alone, and moto's death stops the stack with a clear message (its data cannot be rebuilt).

Runs `python -m devtools.run` as `make run` does, on free ports, as a subprocess."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from devtools import background

pytestmark = pytest.mark.e2e


def _wait(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url: str):
    try:
        return requests.get(url, timeout=3)
    except requests.RequestException:
        return None


@pytest.fixture
def make_run(tmp_path):
    stack = background.start(tmp_path / "run.log")
    try:
        yield {"process": stack.process, "base": stack.base_url, "output": stack.output}
    finally:
        stack.stop()


def _pid_listening_on(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:port (from /proc: no extra tool needed)."""
    hex_port = f":{port:04X}"
    inodes = {line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if line.split()[1].endswith(hex_port) and line.split()[3] == "0A"}  # 0A: LISTEN
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            continue
        if any(link == f"socket:[{inode}]" for inode in inodes for link in links):
            return int(proc.name)
    raise AssertionError(f"nothing listens on port {port}")


def _api_pid(base: str) -> int:
    return _pid_listening_on(int(base.rsplit(":", 1)[1]))


def test_a_crashed_api_is_restarted_with_the_data_kept(make_run):
    base = make_run["base"]
    services = _get(f"{base}/services").json()
    old_pid = _api_pid(base)
    os.kill(old_pid, signal.SIGKILL)
    _wait(lambda: "api exited with code" in make_run["output"](), 30, "the crash to be noticed")
    answer = _wait(lambda: _get(f"{base}/services"), 90, "the API to come back")
    assert answer.status_code == 200 and answer.json() == services  # same moto, same data
    assert _api_pid(base) != old_pid
    assert make_run["process"].poll() is None


def test_sighup_restarts_the_api_alone(make_run):
    base = make_run["base"]
    old_pid = _api_pid(base)
    os.kill(make_run["process"].pid, signal.SIGHUP)
    _wait(lambda: "asked to restart" in make_run["output"](), 30, "the restart to start")
    _wait(lambda: (r := _get(f"{base}/health")) is not None and r.status_code == 200 and _api_pid(base) != old_pid,
          90, "the new API")
    assert make_run["process"].poll() is None


def test_moto_dying_stops_the_stack_with_a_clear_message(make_run):
    moto_port = int([line for line in make_run["output"]().splitlines() if line.strip().startswith("moto")][0]
                    .split("http://127.0.0.1:")[1].split()[0])
    os.kill(_pid_listening_on(moto_port), signal.SIGKILL)
    _wait(lambda: make_run["process"].poll() is not None, 60, "the stack to stop")
    assert make_run["process"].returncode == 1
    assert "moto exited with code" in make_run["output"]() and "data is gone" in make_run["output"]()
    assert _get(make_run["base"] + "/health") is None  # nothing left running
