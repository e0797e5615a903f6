"""`make run` as a background process on free loopback ports, for tools and tests that need the whole stack
exactly as a developer gets it (`make fuzz`, the supervision tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import PROJECT_DIR, free_port

READY_LINE = "local stack is up"


@dataclass
class BackgroundStack:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Ctrl-C as a developer would; SIGKILL for the whole group if it does not stop within a minute."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(log_path: Path, timeout: float = 180.0) -> BackgroundStack:
    """Start `python -m devtools.run` with every port free-chosen and wait for its banner. Raises RuntimeError
    (with the output so far) if it exits or does not come up in time."""
    api_port = free_port()
    env = {**os.environ, "PORT": str(api_port), "MOTO_PORT": str(free_port()), "WS_PORT": str(free_port()),
           "STRIPE_STUB_PORT": str(free_port())}
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen([sys.executable, "-m", "devtools.run"], cwd=PROJECT_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    stack = BackgroundStack(process, f"http://127.0.0.1:{api_port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if READY_LINE in stack.output():
            return stack
        time.sleep(0.3)
    stack.stop()
    raise RuntimeError(f"the local stack did not come up:\n{stack.output()[-3000:]}")
