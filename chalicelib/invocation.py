"""The Lambda context of the invocation being served (set by app.py's middleware, read by adapters that need
the remaining time, e.g. idempotency's in-progress expiry). A ContextVar: each local server thread has its own.
`deadline_from` turns a context into the deadline the scheduled jobs stop at."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

lambda_context: ContextVar[Any] = ContextVar("lambda_context", default=None)

DEADLINE_MARGIN_SECONDS = 5  # stop (and checkpoint) this long before Lambda would kill the invocation
MINIMUM_WORK_SECONDS = 1  # even a short-lived invocation makes some progress before it stops


def deadline_from(context: Any, margin_seconds: float = DEADLINE_MARGIN_SECONDS) -> Callable[[], bool] | None:
    """"Is the time up?" from a Lambda context's remaining time (None without a context: run to the end): true
    once less than the margin is left, the margin shrinking so that at least MINIMUM_WORK_SECONDS of the time
    there was at the start is used. The runtime measures the remaining time, so nothing here reads a clock."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    margin_ms = min(margin_seconds * 1000, max(0.0, remaining() - MINIMUM_WORK_SECONDS * 1000))
    return lambda: remaining() <= margin_ms
