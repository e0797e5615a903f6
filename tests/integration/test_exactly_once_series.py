"""Exactly once for recurring series when the process dies: mid-series, after every occurrence stood, or in the
middle of a rollback. After a restart and the client's retry (its idempotency record expired), the key has one
series, every occurrence is booked once (or, for a series that cannot stand, none is), and the capacity counters
equal the active bookings."""
from __future__ import annotations

import json
from datetime import date

import pytest

from tests.integration.test_exactly_once import expire_idempotency_records
from tests.integration.test_series_booking import WEEKLY_12, active_bookings, api, book, take_seventh  # noqa: F401


class Died(SystemExit):
    """The process is gone: raised at the kill point and by every later call, so nothing after it reaches the
    database (not an Exception: no handler in the app may swallow it, as with SIGKILL)."""


class DiesAfter:
    """Wraps a dependency; after `calls` successful calls of `method`, the process dies."""

    def __init__(self, inner, method: str, calls: int) -> None:
        self._inner, self._method, self._left = inner, method, calls
        self.dead = False

    def __getattr__(self, name):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            if self.dead:
                raise Died(f"{name} after the process died")
            result = attribute(*args, **kwargs)
            if name == self._method:
                self._left -= 1
                if self._left == 0:
                    self.dead = True
                    raise Died(f"killed after {name}")
            return result
        return call


@pytest.fixture
def kill(app_container):
    """kill(method, calls): the process dies after that many `requests.<method>` calls; returns a restart()."""
    def arm(method: str, calls: int):
        live_requests, live_claims = app_container.requests, app_container.series_claims
        dying = DiesAfter(live_requests, method, calls)
        claims = DiesAfter(live_claims, "never", 0)
        claims.dead = False
        app_container.override(requests=dying, series_claims=_dies_with(dying, live_claims))

        def restart():
            app_container.override(requests=live_requests, series_claims=live_claims)
        return restart
    return arm


def _dies_with(process: DiesAfter, inner):
    class Claims:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                if process.dead:
                    raise Died(f"{name} after the process died")
                return getattr(inner, name)(*args, **kwargs)
            return call
    return Claims()


def consistent() -> list[dict]:
    """The invariant: each team-day counter (as the repository reads it) equals the active bookings of that day.
    Returns the active bookings."""
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository

    active = active_bookings()
    days: dict[tuple[str, str], int] = {}
    for doc in active:
        days[(doc["teamId"], doc["localDate"])] = days.get((doc["teamId"], doc["localDate"]), 0) + 1
    snapshot = DynamoServiceRequestRepository(None, "us-east-1").counters(date(2026, 9, 1), date(2026, 12, 31), True,
                                                                          teams=["t1"])
    assert {day: n for day, n in snapshot.day_counts.items() if n} == days
    return active


def test_killed_mid_series_then_retried_books_each_occurrence_once(api, kill, settings):  # noqa: F811
    restart = kill("create", 5)
    with pytest.raises(Died):
        book(api, "a", "series-1", recurrence=WEEKLY_12)
    assert len(consistent()) == 5  # five occurrences stood; nothing rolled them back
    restart()
    expire_idempotency_records(settings)

    retry = book(api, "a", "series-1", recurrence=WEEKLY_12)
    assert retry.status_code == 201, retry.body
    body = json.loads(retry.body)
    active = consistent()
    assert len(active) == 12 and {d["seriesId"] for d in active} == {body["seriesId"]}
    assert sorted(d["id"] for d in active) == sorted(o["id"] for o in body["items"])
    again = book(api, "a", "series-1", recurrence=WEEKLY_12)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert json.loads(again.body)["seriesId"] == body["seriesId"]


def test_killed_after_every_occurrence_stood_then_retried_answers_the_same_series(api, kill, settings):  # noqa: F811
    restart = kill("create", 12)
    with pytest.raises(Died):
        book(api, "a", "series-2", recurrence=WEEKLY_12)
    first = consistent()
    assert len(first) == 12
    restart()
    expire_idempotency_records(settings)

    retry = book(api, "a", "series-2", recurrence=WEEKLY_12)
    assert retry.status_code == 201, retry.body
    assert sorted(d["id"] for d in consistent()) == sorted(d["id"] for d in first)


def test_killed_while_rolling_back_then_retried_finishes_the_rollback(api, kill, settings):  # noqa: F811
    other = take_seventh(api)  # the 7th occurrence conflicts: the series rolls back its first six
    restart = kill("release", 3)
    with pytest.raises(Died):
        book(api, "a", "series-3", recurrence=WEEKLY_12)
    assert len(consistent()) == 1 + 3  # the other booking, and three occurrences not yet rolled back
    restart()
    expire_idempotency_records(settings)

    retry = book(api, "a", "series-3", recurrence=WEEKLY_12)
    assert retry.status_code == 409, retry.body
    assert json.loads(retry.body)["error"]["code"] == "SLOT_FULL"
    assert [d["id"] for d in consistent()] == [other["id"]]


def test_the_rollback_frees_the_key_so_a_retry_books_a_new_series(api, settings):  # noqa: F811
    other = take_seventh(api)
    assert book(api, "a", "series-4", recurrence=WEEKLY_12).status_code == 409
    api.http.post(f"/portal/service-requests/{other['id']}/cancel",
                  headers={"Authorization": f"Bearer {api.tokens['b']}", "Content-Type": "application/json"},
                  body="{}")
    expire_idempotency_records(settings)  # the stored 409 is gone: the retry runs again, now with room
    retry = book(api, "a", "series-4", recurrence=WEEKLY_12)
    assert retry.status_code == 201, retry.body
    assert len(consistent()) == 12
