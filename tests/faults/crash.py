"""Killing the process at a chosen point: `ProcessDied` is a BaseException, so no `except Exception` in the app
can catch it, exactly as nothing catches SIGKILL or a Lambda timeout; `dies_after` wraps one method of a
dependency so that its real work completes (the write stands) and the process dies before the method returns.

    dying = dies_after(app_container, "requests", "release")   # the container now serves the wrapper
    with pytest.raises(ProcessDied):
        client.http.post(...)
    restart(app_container)                                      # what a new invocation gets
"""
from __future__ import annotations

from typing import Any


class ProcessDied(BaseException):
    """The invocation was killed (SIGKILL, out of memory, Lambda timeout) right after a write."""


class DiesAfter:
    """Proxy of `target` whose `method` does its work and then kills the process, the `after`-th time it is called
    (1 = the first call). Once dead, every call through the proxy raises ProcessDied too, so no `finally` or
    `except BaseException` on the way out can write through it (a killed process writes nothing more)."""

    def __init__(self, target: Any, method: str, after: int = 1) -> None:
        self._target = target
        self._method = method
        self._after = after
        self.calls = 0
        self.kills = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.kills:
                raise ProcessDied(f"{name} called after the process died")
            result = attribute(*args, **kwargs)
            if name == self._method:
                self.calls += 1
                if self.calls == self._after:
                    self.kills += 1
                    raise ProcessDied(f"killed after {type(self._target).__name__}.{name}")
            return result

        return call


def dies_after(container: Any, dependency: str, method: str, after: int = 1) -> DiesAfter:
    """Make `container.<dependency>.<method>` kill the process once, after its `after`-th call completed."""
    dying = DiesAfter(getattr(container, dependency), method, after)
    container.override(**{dependency: dying})
    return dying


def restart(container: Any, **keep: Any) -> Any:
    """A fresh invocation after the crash: the container's caches and wrappers are gone, the tables are not.
    `keep` are the dependencies the test wired in from outside the process (the Stripe stub's gateway, a clock),
    which a restart does not change."""
    from chalicelib.bootstrap import Container, use_container

    fresh = Container(container.settings)
    if keep:
        fresh.override(**keep)
    use_container(fresh)
    return fresh
