"""Booking core over chalice.test.Client + in-process moto: capacity, idempotency, reschedule, cancel, isolation."""
from __future__ import annotations

import json
from datetime import datetime, time, timezone

import pytest

from chalicelib.domain.catalog import Blackout, Money, Service, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
DAY = "2026-12-01"  # a Tuesday; 09:00 New York = 14:00Z


def slot(hour: int) -> str:
    return f"{DAY}T{hour:02d}:00:00-05:00"


@pytest.fixture
def small_catalog(tables):
    """One service, one New York team: 2 crews per slot, 3 bookings a day, 3 members."""
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",)))
    hours = {d: (TimeWindow(time(8), time(18)),) for d in range(7)}
    repo.put_team(Team(id="t1", name="NY", timezone="America/New_York", weekly_hours=hours, daily_limit=3,
                       slot_capacity=2, service_areas=TEST_AREAS,
                       blackouts=(Blackout("b1", datetime(2026, 12, 2, 13, tzinfo=timezone.utc),
                                           datetime(2026, 12, 2, 23, tzinfo=timezone.utc), "training", "t1"),)))
    for i in range(3):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",)))
    return repo


@pytest.fixture
def api(small_catalog, app_container):
    from chalice.test import Client

    from app import app
    app_container.override(clock=lambda: NOW)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        yield c


@pytest.fixture
def users(issue_token):
    return {"a": issue_token("user-a"), "b": issue_token("user-b"), "admin": issue_token("boss", groups=["admin"])}


def book(api, token, key, **overrides):
    body = {"serviceId": "svc", "start": slot(9), "paymentMethod": "COD", **AT_HOME, **overrides}
    headers = {**auth(token), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.http.post("/portal/service-requests", headers=headers, body=json.dumps(body))


def body_of(response) -> dict:
    return json.loads(response.body)


def counters() -> dict[str, int]:
    from tests.capacity_view import flat_counters
    return flat_counters()


def test_booking_is_created_confirmed_for_cash_and_replays_identically(api, users):
    first = book(api, users["a"], "k1")
    assert first.status_code == 201, first.body
    created = body_of(first)
    assert created["status"] == "CONFIRMED" and created["paymentStatus"] == "COD_DUE"
    assert created["start"] == "2026-12-01T14:00:00Z" and created["memberId"] in {"m0", "m1", "m2"}
    replay = book(api, users["a"], "k1")
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert body_of(replay) == created
    assert "Idempotent-Replayed" not in first.headers


def test_idempotency_key_rules(api, users):
    missing = book(api, users["a"], None)
    assert missing.status_code == 400 and body_of(missing)["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert book(api, users["a"], "k2").status_code == 201
    reused = book(api, users["a"], "k2", start=slot(10))
    assert reused.status_code == 422 and body_of(reused)["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # The same key from another user is that user's own submission.
    other = book(api, users["b"], "k2")
    assert other.status_code == 201 and body_of(other)["id"] != ""
    listing = api.http.get("/portal/service-requests", headers=auth(users["a"]))
    assert len(body_of(listing)["items"]) == 1


def test_slot_and_day_limits_are_enforced_and_counters_match_bookings(api, users):
    assert book(api, users["a"], "s1").status_code == 201
    assert book(api, users["a"], "s2").status_code == 201
    full = book(api, users["a"], "s3")
    assert full.status_code == 409 and body_of(full)["error"]["code"] == "SLOT_FULL"
    assert book(api, users["a"], "s4", start=slot(11)).status_code == 201
    day_full = book(api, users["a"], "s5", start=slot(13))
    assert day_full.status_code == 409 and body_of(day_full)["error"]["code"] == "TEAM_DAY_FULL"
    c = counters()
    assert c[f"{DAY}#T#t1#DAY"] == 3
    assert c[f"{DAY}#T#t1#S#2026-12-01T14:00Z"] == 2
    assert c[f"{DAY}#T#t1#S#2026-12-01T16:00Z"] == 1
    # A rejected booking is replayed as the same rejection (deterministic outcome), not re-run.
    again = book(api, users["a"], "s3")
    assert again.status_code == 409 and again.headers.get("Idempotent-Replayed") == "true"


def test_least_loaded_member_is_assigned(api, users):
    a = body_of(book(api, users["a"], "l1", start=slot(9)))
    b = body_of(book(api, users["a"], "l2", start=slot(11)))
    assert a["memberId"] in {"m0", "m1", "m2"}  # all idle: ties are broken at random
    assert b["memberId"] != a["memberId"]  # a's member already has a job that day


@pytest.mark.parametrize("start,reason", [
    ("2026-12-01T07:00:00-05:00", "outside_hours"),
    ("2026-12-01T09:30:00-05:00", "outside_hours"),
    ("2026-11-20T09:00:00-05:00", "past"),
    ("2026-11-24T07:30:00-05:00", "lead_time"),   # 12:30Z, inside the 60-minute lead time
    ("2026-12-02T09:00:00-05:00", "blackout"),
])
def test_unbookable_times_are_slot_unavailable(api, users, start, reason):
    response = book(api, users["a"], f"u-{start}", start=start)
    assert response.status_code == 409
    error = body_of(response)["error"]
    assert error["code"] == "SLOT_UNAVAILABLE" and error["details"]["reason"] == reason
    assert counters() == {}


def test_reschedule_moves_counters_and_bumps_sequence(api, users):
    created = body_of(book(api, users["a"], "r1"))
    moved = api.http.post(f"/portal/service-requests/{created['id']}/reschedule", headers=auth(users["a"]),
                          body=json.dumps({"start": slot(12)}))
    assert moved.status_code == 200, moved.body
    assert body_of(moved)["start"] == "2026-12-01T17:00:00Z" and body_of(moved)["sequence"] == 1
    c = counters()
    assert c[f"{DAY}#T#t1#S#2026-12-01T14:00Z"] == 0 and c[f"{DAY}#T#t1#S#2026-12-01T17:00Z"] == 1
    assert c[f"{DAY}#T#t1#DAY"] == 1


def test_failed_reschedule_leaves_the_old_booking_intact(api, users):
    mine = body_of(book(api, users["a"], "f1"))
    book(api, users["b"], "f2", start=slot(12))
    book(api, users["b"], "f3", start=slot(12))  # 12:00 is now full
    before = counters()
    response = api.http.post(f"/portal/service-requests/{mine['id']}/reschedule", headers=auth(users["a"]),
                             body=json.dumps({"start": slot(12)}))
    assert response.status_code == 409 and body_of(response)["error"]["code"] == "SLOT_FULL"
    after = body_of(api.http.get(f"/portal/service-requests/{mine['id']}", headers=auth(users["a"])))
    assert after["start"] == mine["start"] and after["sequence"] == 0
    assert counters() == before


def test_cancel_releases_capacity_once_and_a_repeat_changes_nothing(api, users):
    created = body_of(book(api, users["a"], "c1"))
    cancelled = api.http.post(f"/portal/service-requests/{created['id']}/cancel", headers=auth(users["a"]), body="")
    assert cancelled.status_code == 200 and body_of(cancelled)["status"] == "CANCELLED"
    assert body_of(cancelled)["sequence"] == 1
    assert all(v == 0 for k, v in counters().items() if "#M#" not in k or k.endswith("#DAY"))
    released = counters()
    # A repeat (the retry of a cancel whose answer was lost) answers the cancelled request; nothing moves.
    again = api.http.post(f"/portal/service-requests/{created['id']}/cancel", headers=auth(users["a"]), body="")
    assert again.status_code == 200 and body_of(again) == body_of(cancelled)
    assert counters() == released
    # The freed capacity can be booked again.
    assert book(api, users["b"], "c2").status_code == 201
    assert book(api, users["b"], "c3").status_code == 201


def test_another_users_request_is_not_found_for_every_action(api, users):
    created = body_of(book(api, users["a"], "i1"))
    path = f"/portal/service-requests/{created['id']}"
    b = auth(users["b"])
    for response in (api.http.get(path, headers=b),
                     api.http.post(f"{path}/reschedule", headers=b, body=json.dumps({"start": slot(12)})),
                     api.http.post(f"{path}/cancel", headers=b, body="")):
        assert response.status_code == 404 and body_of(response)["error"]["code"] == "NOT_FOUND"
    assert body_of(api.http.get(path, headers=auth(users["a"])))["status"] == "CONFIRMED"


def test_availability_counts_and_range_limit(api, users):
    book(api, users["a"], "a1")
    r = api.http.get("/services/svc/availability?from=2026-12-01&to=2026-12-01&tz=America/New_York")
    assert r.status_code == 200
    slots = {s["start"]: s["remaining"] for s in body_of(r)["days"][0]["slots"]}
    assert slots["2026-12-01T09:00:00-05:00"] == 1 and slots["2026-12-01T10:00:00-05:00"] == 2
    too_long = api.http.get("/services/svc/availability?from=2026-12-01&to=2027-01-01&tz=UTC")
    assert too_long.status_code == 400 and body_of(too_long)["error"]["code"] == "RANGE_TOO_LARGE"
    bad_zone = api.http.get("/services/svc/availability?from=2026-12-01&to=2026-12-02&tz=Mars/Base")
    assert bad_zone.status_code == 400 and body_of(bad_zone)["error"]["code"] == "VALIDATION_ERROR"


def test_submission_inspector(api, users):
    unknown = api.http.get("/portal/submissions/never-sent", headers=auth(users["a"]))
    assert unknown.status_code == 404
    created = body_of(book(api, users["a"], "q1"))
    found = body_of(api.http.get("/portal/submissions/q1", headers=auth(users["a"])))
    assert found == {"idempotencyKey": "q1", "status": "COMPLETED", "httpStatus": 201,
                     "serviceRequestId": created["id"], "error": None}
    # Keys are per user: B cannot see A's submission.
    assert api.http.get("/portal/submissions/q1", headers=auth(users["b"])).status_code == 404


def test_throttling_answers_429_with_retry_after_and_the_retry_runs_again(api, users, app_container):
    from chalicelib.domain.errors import Throttled
    real = app_container.requests

    class Throttling:
        def __getattr__(self, name):
            return getattr(real, name)

        def create(self, *args, **kwargs):
            raise Throttled(retry_after=1)

    app_container.override(requests=Throttling())
    throttled = book(api, users["a"], "t1")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    app_container.override(requests=real)
    assert book(api, users["a"], "t1").status_code == 201  # the failed attempt did not stick to the key


def test_admin_blackout_over_booked_work_needs_force_and_is_audited(api, users):
    created = body_of(book(api, users["a"], "b1"))
    admin = auth(users["admin"])
    current = body_of(api.http.get("/admin/teams/t1/availability", headers=admin))
    change = {"weeklyHours": current["weeklyHours"],
              "blackouts": current["blackouts"] + [{"start": "2026-12-01T13:00:00Z", "end": "2026-12-01T15:00:00Z",
                                                    "reason": "van broke down"}]}
    for b in change["blackouts"]:
        b.pop("teamId", None)
    refused = api.http.put("/admin/teams/t1/availability", headers=admin, body=json.dumps(change))
    assert refused.status_code == 409 and body_of(refused)["error"]["details"]["serviceRequestIds"] == [created["id"]]
    no_reason = api.http.put("/admin/teams/t1/availability", headers=admin, body=json.dumps({**change, "force": True}))
    assert no_reason.status_code == 400
    forced = api.http.put("/admin/teams/t1/availability", headers=admin,
                          body=json.dumps({**change, "force": True, "reason": "customer will be called"}))
    assert forced.status_code == 200 and forced.body and body_of(forced)["version"] == current["version"] + 1
    audit = body_of(api.http.get("/admin/audit?day=2026-11-24", headers=admin))["items"]
    assert any(e["action"] == "team.availability.updated" and "customer will be called" in e["reason"] for e in audit)
    assert api.http.get("/admin/teams/t1/availability", headers=auth(users["a"])).status_code == 403


def test_capacity_override_raises_the_day_limit_with_an_audit_entry(api, users):
    for i, hour in enumerate((9, 10, 11)):
        assert book(api, users["a"], f"o{i}", start=slot(hour)).status_code == 201
    assert body_of(book(api, users["a"], "o3", start=slot(12)))["error"]["code"] == "TEAM_DAY_FULL"
    admin = auth(users["admin"])
    override = api.http.post("/admin/capacity-overrides", headers=admin,
                             body=json.dumps({"teamId": "t1", "date": DAY, "limit": 4, "reason": "extra crew"}))
    assert override.status_code == 201
    assert book(api, users["a"], "o4", start=slot(12)).status_code == 201
    assert body_of(book(api, users["a"], "o5", start=slot(13)))["error"]["code"] == "TEAM_DAY_FULL"
    entries = body_of(api.http.get("/admin/audit?day=2026-11-24", headers=admin))["items"]
    assert any(e["action"] == "capacity.override" and e["after"]["limit"] == 4 for e in entries)


def test_admin_lists_by_filters_with_cursor_and_shows_history(api, users):
    ids = [body_of(book(api, users["a"], f"p{h}", start=slot(h)))["id"] for h in (9, 10, 11)]
    api.http.post(f"/portal/service-requests/{ids[0]}/cancel", headers=auth(users["a"]), body="")
    admin = auth(users["admin"])
    confirmed = body_of(api.http.get("/admin/service-requests?status=CONFIRMED", headers=admin))["items"]
    assert sorted(r["id"] for r in confirmed) == sorted(ids[1:])
    by_team = body_of(api.http.get("/admin/service-requests?teamId=t1&status=CANCELLED", headers=admin))["items"]
    assert [r["id"] for r in by_team] == [ids[0]]
    cod = body_of(api.http.get("/admin/service-requests?paymentStatus=COD_DUE&limit=1", headers=admin))
    assert len(cod["items"]) == 1 and cod["nextCursor"]
    page2 = body_of(api.http.get(f"/admin/service-requests?paymentStatus=COD_DUE&limit=5&cursor={cod['nextCursor']}",
                                 headers=admin))
    assert len(cod["items"]) + len(page2["items"]) == 3
    detail = body_of(api.http.get(f"/admin/service-requests/{ids[0]}", headers=admin))
    assert detail["userId"] == "user-a" and [e["action"] for e in detail["audit"]] == ["service_request.cancelled"]
    bad = api.http.get("/admin/service-requests?cursor=not-a-cursor", headers=admin)
    assert bad.status_code == 400


def test_an_in_progress_submission_expires_with_its_invocation(api, users, app_container):
    """A crashed attempt must not block its key for the record's 48 h lifetime: the in-progress record carries
    the invocation's deadline (Powertools uses the registered Lambda context)."""
    import time as time_module

    import boto3
    real = app_container.requests
    seen = {}

    class Peeking:
        def __getattr__(self, name):
            return getattr(real, name)

        def create(self, *args, **kwargs):
            client = boto3.client("dynamodb", region_name="us-east-1")
            seen["items"] = client.scan(TableName=app_container.settings.idempotency_table)["Items"]
            return real.create(*args, **kwargs)

    app_container.override(requests=Peeking())
    assert book(api, users["a"], "ip1").status_code == 201
    (record,) = seen["items"]
    assert record["status"]["S"] == "INPROGRESS"
    deadline_ms = int(record["in_progress_expiration"]["N"])
    now_ms = time_module.time() * 1000
    assert now_ms - 60_000 < deadline_ms < now_ms + 15 * 60_000  # minutes, not the record's 48 h


def test_a_booking_from_a_catalog_cached_before_a_new_blackout_cannot_land_in_it(api, users, settings):
    """Another container's catalog was cached before the admin added a blackout: the blackout's team-days are
    fenced first, so its booking fails there, reloads and sees the blackout; other days are unaffected."""
    from chalicelib.bootstrap import Container
    from chalicelib.domain.booking import PaymentMethod
    from chalicelib.domain.errors import SlotUnavailable
    from chalicelib.domain.principal import Principal
    from chalicelib.services import booking

    stale = Container(settings).override(clock=lambda: NOW)
    stale.catalog.get()  # cached now, before the change
    admin = auth(users["admin"])
    current = body_of(api.http.get("/admin/teams/t1/availability", headers=admin))
    blackouts = [{k: v for k, v in b.items() if k != "teamId"} for b in current["blackouts"]]
    change = {"weeklyHours": current["weeklyHours"], "blackouts": blackouts + [
        {"start": "2026-12-03T13:00:00Z", "end": "2026-12-03T16:00:00Z", "reason": "inspection"}]}
    assert api.http.put("/admin/teams/t1/availability", headers=admin, body=json.dumps(change)).status_code == 200

    def book_with(container, start: str):
        draft = booking.BookingDraft("svc", datetime.fromisoformat(start), PaymentMethod.COD)
        return booking.create(container, Principal("user-a"), draft)

    with pytest.raises(SlotUnavailable) as refused:
        book_with(stale, "2026-12-03T14:00:00+00:00")
    assert refused.value.details["reason"] == "blackout"  # the retry read the fresh catalog
    assert book_with(stale, "2026-12-04T14:00:00+00:00").placement.local_date == "2026-12-04"
