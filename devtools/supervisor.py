"""Keeps the local stack up: a crashed API, Stripe stub or websocket gateway is restarted on the same port with
the same environment, so moto's in-memory data (every table) survives; the death of a process whose state
cannot be rebuilt (moto) stops the stack with a clear message instead.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from devtools.processes import Child, stop

# A process that keeps dying is broken, not unlucky: stop restarting it after this many restarts in a window.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0


@dataclass
class Supervised:
    child: Child
    restart: Callable[[], Child] | None  # None: its state cannot be rebuilt (the stack stops when it dies)
    restarts: list[float] = field(default_factory=list)


class StackStopped(Exception):
    """A process the stack cannot do without exited, or one kept crashing; the message says which and why."""


class Supervisor:
    def __init__(self, log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._processes: dict[str, Supervised] = {}
        self._log = log
        self._clock = clock

    def add(self, child: Child, restart: Callable[[], Child] | None = None) -> Child:
        self._processes[child.name] = Supervised(child, restart)
        return child

    @property
    def children(self) -> list[Child]:
        """Current processes in start order (restarted ones replace their predecessor)."""
        return [entry.child for entry in self._processes.values()]

    def child(self, name: str) -> Child:
        return self._processes[name].child

    def restart(self, name: str, reason: str) -> Child:
        """Stop `name` (if still running) and start it again; raises StackStopped if it cannot be."""
        entry = self._processes[name]
        if entry.restart is None:
            raise StackStopped(f"{name} cannot be restarted: {reason}")
        now = self._clock()
        entry.restarts = [t for t in entry.restarts if now - t < RESTART_WINDOW_SECONDS] + [now]
        if len(entry.restarts) > MAX_RESTARTS:
            raise StackStopped(f"{name} {reason} {len(entry.restarts)} times within "
                               f"{RESTART_WINDOW_SECONDS:.0f}s; giving up (see its output above)")
        stop(entry.child)
        self._log(f"{name} {reason}; restarting it (data in moto is kept)")
        entry.child = entry.restart()
        self._log(f"{name} is back on {entry.child.url or 'its port'} (pid {entry.child.pid})")
        return entry.child

    def check(self) -> None:
        """Restart every restartable process that exited; raise StackStopped for one that cannot be."""
        for name, entry in list(self._processes.items()):
            if entry.child.alive():
                continue
            code = entry.child.process.returncode
            if entry.restart is None:
                raise StackStopped(f"{name} exited with code {code}; its data is gone, so the stack stops "
                                   f"(run `make run` again)")
            self.restart(name, f"exited with code {code}")

    def watch(self, interval: float = 0.5, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Check until `should_stop()` (or StackStopped propagates)."""
        while not should_stop():
            self.check()
            time.sleep(interval)
