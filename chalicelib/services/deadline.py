"""When a job must stop. A `Deadline` is None (no limit), a `clock.monotonic()` reading, or a zero-argument
callable answering "is the time up?" (the scheduled jobs build one on the Lambda context's remaining time,
`invocation.deadline_from`, which the runtime measures; tests pass a countdown, so no test waits)."""
from __future__ import annotations

from typing import Callable, Union

from chalicelib.clock import monotonic

Deadline = Union[float, Callable[[], bool], None]


def out_of_time(deadline: Deadline) -> bool:
    if deadline is None:
        return False
    if callable(deadline):
        return bool(deadline())
    return monotonic() >= deadline
