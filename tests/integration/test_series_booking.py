"""Recurring series booked all or nothing (chalice.test.Client + in-process moto): conflicts roll back,
skipConflicts, a failure injected mid-way, DST, idempotency, series cancel."""
from __future__ import annotations

import json
from datetime import datetime, time, timezone

import pytest

from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=timezone.utc)
FIRST = "2026-09-08T09:00:00-04:00"  # a Tuesday, 09:00 New York
WEEKLY_12 = {"rrule": "FREQ=WEEKLY;COUNT=12", "tz": "America/New_York"}


@pytest.fixture
def api(tables, app_container, issue_token):
    """One service, one New York team with ONE member (a taken slot is a full slot)."""
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",)))
    repo.put_team(Team(id="t1", name="NY", timezone="America/New_York",
                       weekly_hours={d: (TimeWindow(time(8), time(18)),) for d in range(7)}, daily_limit=5,
                       slot_capacity=1, service_areas=TEST_AREAS))
    repo.put_member(TeamMember(id="m0", team_id="t1", display_name="M0", service_ids=("svc",)))
    app_container.override(clock=lambda: NOW)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        c.tokens = {"a": issue_token("user-a"), "b": issue_token("user-b")}
        yield c


def post(api, path, who, body, key=None):
    headers = {**auth(api.tokens[who]), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return api.http.post(path, headers=headers, body=json.dumps(body))


def book(api, who, key, start=FIRST, **extra):
    return post(api, "/portal/service-requests", who,
                {"serviceId": "svc", "start": start, "paymentMethod": "COD", **AT_HOME, **extra}, key)


def counters() -> dict[str, int]:
    """Non-zero capacity counters (a released counter stays at 0)."""
    from tests.capacity_view import flat_counters
    return flat_counters(nonzero=True)


def active_bookings() -> list[dict]:
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    return [i.doc for i in ServiceRequestItem.scan() if i.status in ("CONFIRMED", "PENDING_PAYMENT")]


def take_seventh(api) -> dict:
    """Someone else books the 7th Tuesday's 09:00 (2026-10-20, still daylight time)."""
    r = book(api, "b", "other", start="2026-10-20T09:00:00-04:00")
    assert r.status_code == 201, r.body
    return json.loads(r.body)


def test_a_series_whose_seventh_occurrence_is_full_books_nothing(api):
    take_seventh(api)
    before = counters()
    r = book(api, "a", "s1", recurrence=WEEKLY_12)
    assert r.status_code == 409, r.body
    error = json.loads(r.body)["error"]
    assert error["code"] == "SLOT_FULL"
    assert error["details"]["occurrence"] == 6 and error["details"]["start"] == "2026-10-20T13:00:00Z"
    assert counters() == before  # every counter the first six touched is back
    assert [b["userId"] for b in active_bookings()] == ["user-b"]
    replay = book(api, "a", "s1", recurrence=WEEKLY_12)  # the refusal is the submission's stored outcome
    assert replay.status_code == 409 and replay.headers.get("Idempotent-Replayed") == "true"


def test_skip_conflicts_books_eleven_and_reports_the_seventh(api):
    take_seventh(api)
    r = book(api, "a", "s2", recurrence=WEEKLY_12, skipConflicts=True)
    assert r.status_code == 201, r.body
    out = json.loads(r.body)
    assert len(out["items"]) == 11
    assert out["skipped"] == [{"index": 6, "start": "2026-10-20T13:00:00Z", "code": "SLOT_FULL"}]
    assert {item["seriesId"] for item in out["items"]} == {out["seriesId"]}
    assert len([b for b in active_bookings() if b["userId"] == "user-a"]) == 11


def test_weekly_series_keeps_nine_new_york_time_across_the_november_dst_change(api):
    r = book(api, "a", "s3", start="2026-10-20T09:00:00-04:00",
             recurrence={"rrule": "FREQ=WEEKLY;COUNT=4", "tz": "America/New_York"})
    assert r.status_code == 201, r.body
    starts = [item["start"] for item in json.loads(r.body)["items"]]
    assert starts == ["2026-10-20T13:00:00Z", "2026-10-27T13:00:00Z", "2026-11-03T14:00:00Z",
                      "2026-11-10T14:00:00Z"]


def test_a_failure_on_the_fifth_transaction_leaves_nothing_booked(api, app_container):
    from chalicelib.domain.errors import TemporarilyUnavailable

    real = app_container.requests

    class FailingFifthCreate:
        """The real repository, except that the 5th booking transaction fails (transient infrastructure)."""
        def __init__(self):
            self.creates = 0

        def create(self, *args, **kwargs):
            self.creates += 1
            if self.creates == 5:
                raise TemporarilyUnavailable(retry_after=1)
            return real.create(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    before = counters()
    app_container.override(requests=FailingFifthCreate())
    r = book(api, "a", "s4", recurrence=WEEKLY_12)
    assert r.status_code == 503, r.body
    assert active_bookings() == [] and counters() == before
    app_container.override(requests=real)  # the failure was not stored: the same key can be retried
    retry = book(api, "a", "s4", recurrence=WEEKLY_12)
    assert retry.status_code == 201, retry.body
    assert len(json.loads(retry.body)["items"]) == 12 and len(active_bookings()) == 12


def test_cancel_one_occurrence_or_the_whole_series(api):
    out = json.loads(book(api, "a", "s5", recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}).body)
    first, *rest = out["items"]
    one = post(api, f"/portal/service-requests/{first['id']}/cancel", "a", {})
    assert one.status_code == 200 and json.loads(one.body)["status"] == "CANCELLED"
    assert post(api, f"/portal/series/{out['seriesId']}/cancel", "b", {}).status_code == 404  # not theirs
    whole = post(api, f"/portal/series/{out['seriesId']}/cancel", "a", {"reason": "moving"})
    assert whole.status_code == 200, whole.body
    body = json.loads(whole.body)
    assert sorted(r["id"] for r in body["cancelled"]) == sorted(r["id"] for r in rest)
    assert [r["id"] for r in body["unchanged"]] == [first["id"]]
    assert active_bookings() == [] and counters() == {}


def test_invalid_rules_are_400_and_book_nothing(api):
    for rrule in ("FREQ=DAILY;COUNT=3", "FREQ=WEEKLY;COUNT=53", "FREQ=WEEKLY"):
        r = book(api, "a", f"bad-{rrule}", recurrence={"rrule": rrule})
        assert r.status_code == 400, (rrule, r.body)
    assert active_bookings() == []
