"""The one place that reads the time.

Everything that stamps or compares wall time receives a `Clock` (a zero-argument callable returning an aware
UTC datetime) from the composition root, so tests fix it and nothing depends on the day the suite runs.
`monotonic()` measures elapsed time (cache ages, deadlines); it is not a date and is not faked by tests.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC (the production clock)."""
    return datetime.now(timezone.utc)


def monotonic() -> float:
    """Seconds on a clock that never jumps: for elapsed time only."""
    return time.monotonic()


def epoch_seconds(clock: Clock = system_clock) -> int:
    """Whole seconds since the epoch by `clock` (TTL attributes, Stripe timestamps)."""
    return int(clock().timestamp())


class FixedClock:
    """A clock that stays where it is put (tests, replays). `advance` moves it forward; with `tick`, every read
    also moves it forward by that much, for code that orders events by their timestamps."""

    def __init__(self, at: datetime, tick: timedelta = timedelta(0)) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(timezone.utc)
        self._tick = tick

    def __call__(self) -> datetime:
        now = self._at
        self._at += self._tick
        return now

    def advance(self, **delta: float) -> datetime:
        self._at += timedelta(**delta)
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(timezone.utc)
