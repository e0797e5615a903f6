"""One way to retry an optimistic write that lost a race: a bounded number of attempts with full-jitter backoff.

Conflicts (a stale revision, a stale catalog, a transaction cancelled by a concurrent one) are retried inside the
request a few times; after that the caller's `give_up` error answers the client (409/429 with Retry-After), so a
hot item never turns into a 500 or an unbounded loop.
"""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

T = TypeVar("T")

CONFLICT_ATTEMPTS = 3
BACKOFF_SECONDS = 0.01  # first retry waits up to 10 ms, then 20 ms, ... (full jitter spreads a burst)


def with_retries(operation: Callable[[], T], *, retry_on: tuple[type[Exception], ...],
                 give_up: Callable[[], Exception], attempts: int = CONFLICT_ATTEMPTS,
                 on_retry: Callable[[Exception], None] | None = None, backoff_seconds: float = BACKOFF_SECONDS,
                 sleep: Callable[[float], None] | None = None, jitter: Callable[[], float] = random.random) -> T:
    """Run `operation` until it returns, at most `attempts` times while it raises one of `retry_on`.

    `on_retry(exc)` runs after each failed attempt (e.g. invalidate a cache); then `give_up()` is raised.
    `sleep` defaults to `time.sleep` as it is when the wait happens (not when this module was imported)."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except retry_on as exc:
            if on_retry is not None:
                on_retry(exc)
            if attempt < attempts:
                (sleep or time.sleep)(backoff_seconds * (2 ** (attempt - 1)) * jitter())
    raise give_up()
