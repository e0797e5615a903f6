from __future__ import annotations

import pytest

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.services.ports import StaleRevision
from chalicelib.services.retry import with_retries


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise StaleRevision()
        return "done"


def test_retries_a_lost_race_with_growing_jittered_waits_then_succeeds():
    waits, seen = [], []
    operation = Flaky(failures=2)
    result = with_retries(operation, retry_on=(StaleRevision,), give_up=ConcurrentUpdate, attempts=3,
                          on_retry=seen.append, sleep=waits.append, jitter=lambda: 0.5, backoff_seconds=0.01)
    assert result == "done" and operation.calls == 3
    assert waits == [0.005, 0.01] and len(seen) == 2


def test_gives_up_with_the_callers_error_after_the_bound():
    operation = Flaky(failures=10)
    with pytest.raises(ConcurrentUpdate):
        with_retries(operation, retry_on=(StaleRevision,), give_up=ConcurrentUpdate, attempts=3, sleep=lambda _: None)
    assert operation.calls == 3


def test_other_errors_are_not_retried():
    calls = []

    def boom():
        calls.append(1)
        raise ValueError("not a conflict")

    with pytest.raises(ValueError):
        with_retries(boom, retry_on=(StaleRevision,), give_up=ConcurrentUpdate, sleep=lambda _: None)
    assert calls == [1]
