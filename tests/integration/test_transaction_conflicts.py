"""Transactions cancelled for transient reasons (TransactionConflict, ThrottlingError,
ProvisionedThroughputExceeded; injected by tests/contention.py in front of moto) are sent again inside the request
with a backoff, then answered 429 with Retry-After: single, series and emergency bookings, reschedule and cancel.
Never a 500, and the counters always equal what is booked."""
from __future__ import annotations

import json
from datetime import datetime, time, timezone

import pytest

from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from tests import contention
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
DAY = "2026-12-01"  # a Tuesday; 09:00 New York = 14:00Z
REASONS = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")


def slot(hour: int, day: str = DAY) -> str:
    return f"{day}T{hour:02d}:00:00-05:00"


@pytest.fixture
def api(tables, app_container, issue_token, monkeypatch):
    """One service, one New York team open 07:00-20:00 (2 crews a slot, 5 a day), members m0..m2 on call."""
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Plumbing", category="plumbing", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",)))
    repo.put_team(Team(id="t1", name="NY", timezone="America/New_York",
                       weekly_hours={d: (TimeWindow(time(7), time(20)),) for d in range(7)}, daily_limit=5,
                       slot_capacity=2, service_areas=TEST_AREAS))
    for i in range(3):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",),
                                   on_call_service_ids=("svc",)))
    sleeps: list[float] = []
    app_container.override(clock=lambda: NOW, sleep=sleeps.append)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        c.token = issue_token("user-a")
        c.admin = issue_token("boss", groups=["admin"])
        c.sleeps = sleeps
        c.contention = contention.install(monkeypatch)
        yield c


def post(api, path: str, body: dict, key: str | None = None):
    headers = {**auth(api.token), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return api.http.post(path, headers=headers, body=json.dumps(body))


def book(api, key: str, start: str = slot(9), **extra):
    return post(api, "/portal/service-requests", {"serviceId": "svc", "start": start, "paymentMethod": "COD", **AT_HOME,
                                                    **extra}, key)


def counters() -> dict[str, int]:
    """Non-zero capacity counters and member busy cells (a released counter stays at 0)."""
    from tests.capacity_view import flat_counters
    return flat_counters(nonzero=True)


def statuses() -> dict[str, str]:
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    return {i.id: i.status for i in ServiceRequestItem.scan()}


def held_by_bookings() -> dict[str, int]:
    """The counters the stored bookings that hold capacity account for (day, cells, member locks and loads)."""
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    expected: dict[str, int] = {}
    for item in ServiceRequestItem.scan():
        if item.status not in ("CONFIRMED", "PENDING_PAYMENT"):
            continue
        p = item.doc["placement"] if "placement" in item.doc else item.doc
        day, member = p.get("localDate") or item.doc["localDate"], p.get("memberId") or item.doc["memberId"]
        for cell in item.doc.get("cells") or p.get("cells"):
            for key in (f"{day}#T#t1#S#{cell}", f"{day}#T#t1#M#{member}#S#{cell}"):
                expected[key] = expected.get(key, 0) + 1
        for key in (f"{day}#T#t1#DAY", f"{day}#T#t1#M#{member}#DAY"):
            expected[key] = expected.get(key, 0) + 1
    return expected


def error_of(response) -> dict:
    return json.loads(response.body)["error"]


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.body
    assert response.headers.get("Retry-After") == "1"
    assert error_of(response)["code"] == "THROTTLED"


@pytest.mark.parametrize("reason", REASONS)
def test_a_booking_cancelled_twice_for_a_transient_reason_is_booked_on_the_third_attempt(api, reason):
    api.contention.cancel_next(reason, times=2)
    r = book(api, "k1")
    assert r.status_code == 201, r.body
    assert api.contention.calls == 3
    assert len(api.sleeps) == 2 and 0 <= api.sleeps[0] <= 0.01 and 0 <= api.sleeps[1] <= 0.02  # jittered, growing
    assert counters() == held_by_bookings() and counters()[f"{DAY}#T#t1#DAY"] == 1


@pytest.mark.parametrize("reason", REASONS)
def test_a_booking_that_stays_contended_is_429_with_retry_after_and_holds_nothing(api, reason):
    api.contention.cancel_next(reason, times=3)
    r = book(api, "k1")
    assert_throttled(r)
    assert api.contention.calls == 3 and counters() == {} and statuses() == {}
    retried = book(api, "k1")  # a transient answer is not the key's stored outcome: the retry books
    assert retried.status_code == 201, retried.body
    assert counters() == held_by_bookings() and list(statuses().values()) == ["CONFIRMED"]


def test_a_conflict_beside_a_failed_condition_is_the_condition_s_answer(api):
    """A real refusal in the same transaction (the slot is full) is not retried as contention."""
    assert book(api, "a").status_code == 201 and book(api, "b").status_code == 201  # 2 crews: slot full
    before = api.contention.calls
    r = book(api, "c")
    assert r.status_code == 409 and error_of(r)["code"] == "SLOT_FULL"
    assert api.contention.calls - before == 1  # not sent again


def test_reschedule_retries_then_answers_429_and_the_booking_stays_where_it_was(api):
    created = json.loads(book(api, "k1").body)
    path = f"/portal/service-requests/{created['id']}/reschedule"
    api.contention.cancel_next("TransactionConflict", times=3)
    assert_throttled(post(api, path, {"start": slot(12)}))
    assert counters() == held_by_bookings() and f"{DAY}#T#t1#S#2026-12-01T14:00Z" in counters()
    api.contention.cancel_next("ThrottlingError", times=2)
    moved = post(api, path, {"start": slot(12)})
    assert moved.status_code == 200, moved.body
    assert json.loads(moved.body)["start"] == "2026-12-01T17:00:00Z"
    assert counters() == held_by_bookings() and f"{DAY}#T#t1#S#2026-12-01T17:00Z" in counters()


def test_cancel_retries_then_answers_429_and_gives_back_exactly_once(api):
    created = json.loads(book(api, "k1").body)
    path = f"/portal/service-requests/{created['id']}/cancel"
    api.contention.cancel_next("ProvisionedThroughputExceeded", times=3)
    assert_throttled(post(api, path, {}))
    assert statuses() == {created["id"]: "CONFIRMED"} and counters() == held_by_bookings() != {}
    api.contention.cancel_next("TransactionConflict", times=1)
    cancelled = post(api, path, {})
    assert cancelled.status_code == 200, cancelled.body
    assert statuses() == {created["id"]: "CANCELLED"} and counters() == {}


def test_a_series_whose_third_occurrence_stays_contended_is_429_and_rolled_back(api):
    weekly = {"rrule": "FREQ=WEEKLY;COUNT=4", "tz": "America/New_York"}
    # Occurrences 1 and 2 commit; every attempt of the 3rd is cancelled; then the first compensating cancel is
    # cancelled three times too (its own 429), so compensation has to try that occurrence again.
    api.contention.cancel_next("TransactionConflict", times=6, after=2)
    r = book(api, "s1", recurrence=weekly)
    assert_throttled(r)
    assert error_of(r)["details"]["occurrence"] == 2
    assert sorted(statuses().values()) == ["CANCELLED", "CANCELLED"]
    assert counters() == {}  # every counter the first two took is back, once
    assert api.contention.calls == 2 + 3 + 3 + 1 + 1  # two bookings, 3rd x3, cancel x3 then x1, other cancel
    retried = book(api, "s1", recurrence=weekly)  # the 429 was not stored: the client's retry books the series
    assert retried.status_code == 201, retried.body
    assert counters() == held_by_bookings() and sorted(statuses().values()).count("CONFIRMED") == 4


def test_a_series_occurrence_conflicting_once_is_booked(api):
    api.contention.cancel_next("ThrottlingError", times=2, after=1)
    r = book(api, "s1", recurrence={"rrule": "FREQ=WEEKLY;COUNT=3", "tz": "America/New_York"})
    assert r.status_code == 201, r.body
    assert sorted(statuses().values()) == ["CONFIRMED"] * 3 and counters() == held_by_bookings()


def test_emergency_retries_then_answers_429(api):
    emergency = {"serviceId": "svc", "address": "1 Main St", "description": "Burst pipe", "paymentMethod": "COD",
                 **AT_HOME}
    api.contention.cancel_next("TransactionConflict", times=3)
    assert_throttled(post(api, "/portal/emergency-requests", emergency, "e1"))
    assert counters() == {} and statuses() == {}
    api.contention.cancel_next("TransactionConflict", times=1)
    r = post(api, "/portal/emergency-requests", emergency, "e1")
    assert r.status_code == 201, r.body
    assert json.loads(r.body)["priority"] == "EMERGENCY" and counters() == held_by_bookings()


def test_any_other_transaction_cancelled_for_a_transient_reason_is_429_not_500(api):
    """Writes that are not re-sent (an admin's promotion rule) still answer 429 with Retry-After."""
    api.contention.cancel_next("TransactionConflict", times=1)
    r = api.http.post("/admin/promo-rules", headers={**auth(api.admin), "Content-Type": "application/json"},
                      body=json.dumps({"kind": "percent", "value": 1000, "code": "BUSY"}))
    assert r.status_code == 429, r.body
    assert r.headers.get("Retry-After") == "1" and error_of(r)["code"] == "THROTTLED"
