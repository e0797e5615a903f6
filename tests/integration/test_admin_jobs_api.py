"""The job after booking and an admin acting for a customer, over chalice.test.Client + in-process moto on the
seeded demo catalog: each route's success and refusals, the team-day tallies in the capacity table (counted once
on a replay), BOOKING_IN_PAST on the portal routes, and a start racing a cancel (exactly one wins)."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.dynamodb import capacity_store, keys
from chalicelib.clock import FixedClock
from chalicelib.domain.errors import InvalidState
from chalicelib.domain.principal import Principal
from chalicelib.services import changes, job_lifecycle
from tests.integration.conftest import auth

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START = "2026-12-01T09:00:00-05:00"  # Tuesday 09:00 New York = 14:00Z (team-nyc works 08:00-12:00)
STARTS_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api(client, app_container):
    client.clock = FixedClock(NOW)
    app_container.override(clock=client.clock)
    return client


def post(api, token: str, path: str, body: dict, key: str | None = None):
    headers = {**auth(token), **JSON, **({"Idempotency-Key": key} if key else {})}
    return api.http.post(path, body=json.dumps(body), headers=headers)


def body_of(response) -> dict:
    return json.loads(response.body)


def code(response) -> str:
    return body_of(response)["error"]["code"]


def book_for(api, tokens, key: str = "phone-1", customer: str = "user-a", start: str = START, **extra):
    body = {"customerId": customer, "serviceId": "cleaning", "teamId": "team-nyc", "start": start,
            "paymentMethod": "COD", "address": "1 Main St", "customerEmail": "a@example.com", "postalCode": "10001",
            **extra}
    return post(api, tokens["admin"], "/admin/service-requests", body, key)


def team_day() -> dict:
    raw = capacity_store.C._get_connection().get_item(*keys.team_day_key("team-nyc", "2026-12-01"),
                                                      consistent_read=True).get("Item")
    return capacity_store.plain(raw) or {}


def test_admin_books_for_a_customer_who_sees_it_in_their_list(api, tokens):
    made = book_for(api, tokens)
    assert made.status_code == 201, made.body
    booking = body_of(made)
    assert (booking["userId"], booking["createdBy"], booking["status"]) == ("user-a", "admin:admin-1", "CONFIRMED")
    replay = book_for(api, tokens)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert body_of(replay)["id"] == booking["id"]
    mine = body_of(api.http.get("/portal/service-requests", headers=auth(tokens["userA"])))["items"]
    assert [r["id"] for r in mine] == [booking["id"]]
    theirs = body_of(api.http.get("/portal/service-requests", headers=auth(tokens["userB"])))["items"]
    assert theirs == []
    own = api.http.get(f"/portal/service-requests/{booking['id']}", headers=auth(tokens["userA"]))
    assert own.status_code == 200 and "createdBy" not in body_of(own)
    detail = body_of(api.http.get(f"/admin/service-requests/{booking['id']}", headers=auth(tokens["admin"])))
    assert [(e["actor"], e["action"]) for e in detail["audit"]] == [
        ("admin:admin-1", "service_request.created_for_customer")]
    assert team_day()["count"] == 1  # the same capacity transaction as the portal's, once


def test_admin_booking_refusals(api, tokens):
    assert book_for(api, tokens, key=None).status_code == 400
    series = book_for(api, tokens, recurrence={"rrule": "FREQ=WEEKLY;COUNT=2"})
    assert series.status_code == 400 and code(series) == "VALIDATION_ERROR"
    assert book_for(api, tokens, customer="bad id!").status_code == 400
    as_user = post(api, tokens["userA"], "/admin/service-requests", {"customerId": "user-a"}, "k")
    assert as_user.status_code == 403
    book_for(api, tokens)
    reused = book_for(api, tokens, customer="user-b")  # same key, another customer
    assert reused.status_code == 422 and code(reused) == "IDEMPOTENCY_KEY_REUSED"
    assert team_day()["count"] == 1


def test_start_then_complete_with_the_cash(api, tokens):
    request_id = body_of(book_for(api, tokens))["id"]
    base = f"/admin/service-requests/{request_id}"
    assert post(api, tokens["userA"], f"{base}/start", {}).status_code == 403
    api.clock.advance(days=7, hours=2, minutes=5)  # 14:05Z on the day
    started = post(api, tokens["admin"], f"{base}/start", {"notes": "on site"})
    assert started.status_code == 200, started.body
    assert body_of(started)["status"] == "IN_PROGRESS"
    assert body_of(started)["job"]["startedAt"] == "2026-12-01T14:05:00Z"
    api.clock.advance(hours=1)
    unpaid = post(api, tokens["admin"], f"{base}/complete", {})
    assert unpaid.status_code == 409 and code(unpaid) == "CASH_NOT_RECORDED"
    done = post(api, tokens["admin"], f"{base}/complete", {"cashCollected": True, "notes": "done"})
    assert done.status_code == 200, done.body
    out = body_of(done)
    assert (out["status"], out["paymentStatus"]) == ("COMPLETED", "COD_COLLECTED")
    assert out["job"]["endedAt"] == "2026-12-01T15:05:00Z" and out["job"]["notes"] == "done"
    again = post(api, tokens["admin"], f"{base}/complete", {"cashCollected": True})
    assert again.status_code == 200 and body_of(again)["updatedAt"] == out["updatedAt"]
    assert post(api, tokens["admin"], f"{base}/no-show", {}).status_code == 409
    mine = body_of(api.http.get("/portal/service-requests", headers=auth(tokens["userA"])))["items"]
    assert mine[0]["status"] == "COMPLETED"
    assert team_day()["count"] == 1


def test_complete_with_an_unpaid_reason_and_bad_times(api, tokens):
    request_id = body_of(book_for(api, tokens))["id"]
    base = f"/admin/service-requests/{request_id}"
    api.clock.advance(days=8)
    backwards = post(api, tokens["admin"], f"{base}/complete", {
        "actualStart": "2026-12-01T15:00:00Z", "actualEnd": "2026-12-01T14:00:00Z", "unpaidReason": "no cash"})
    assert backwards.status_code == 400 and code(backwards) == "VALIDATION_ERROR"
    both = post(api, tokens["admin"], f"{base}/complete", {"cashCollected": True, "unpaidReason": "no cash"})
    assert both.status_code == 400
    assert post(api, tokens["admin"], f"{base}/complete", {"cashCollected": "yes"}).status_code == 400
    done = post(api, tokens["admin"], f"{base}/complete", {
        "actualStart": "2026-12-01T14:00:00Z", "actualEnd": "2026-12-01T15:10:00Z", "unpaidReason": "no cash"})
    assert done.status_code == 200, done.body
    assert (body_of(done)["paymentStatus"], body_of(done)["job"]["unpaidReason"]) == ("COD_DUE", "no cash")


def test_no_show_after_the_start_counted_once(api, tokens):
    request_id = body_of(book_for(api, tokens))["id"]
    base = f"/admin/service-requests/{request_id}"
    early = post(api, tokens["admin"], f"{base}/no-show", {})
    assert early.status_code == 409 and code(early) == "BOOKING_NOT_STARTED"
    api.clock.advance(days=7, hours=2, minutes=30)
    first = post(api, tokens["admin"], f"{base}/no-show", {"reason": "nobody home"})
    replay = post(api, tokens["admin"], f"{base}/no-show", {"reason": "nobody home"})
    assert (first.status_code, replay.status_code) == (200, 200)
    assert body_of(first)["status"] == body_of(replay)["status"] == "NO_SHOW"
    assert team_day()["noShows"] == 1 and team_day()["count"] == 1
    assert post(api, tokens["admin"], f"{base}/start", {}).status_code == 409


def test_cancel_counted_once_however_often_it_is_sent(api, tokens):
    ids = [body_of(book_for(api, tokens, key=f"k{i}", start=f"2026-12-01T{9 + i:02d}:00:00-05:00"))["id"]
           for i in range(2)]
    for _ in range(2):
        assert post(api, tokens["userA"], f"/portal/service-requests/{ids[0]}/cancel", {}).status_code == 200
    no_reason = post(api, tokens["admin"], f"/admin/service-requests/{ids[1]}/cancel", {})
    assert no_reason.status_code == 400
    for _ in range(2):
        admin = post(api, tokens["admin"], f"/admin/service-requests/{ids[1]}/cancel", {"reason": "phoned"})
        assert admin.status_code == 200 and body_of(admin)["status"] == "CANCELLED"
    assert team_day()["cancelled"] == 2 and team_day()["count"] == 0


def test_customers_get_booking_in_past_admins_act_for_them(api, tokens):
    request_id = body_of(book_for(api, tokens))["id"]
    api.clock.advance(days=7, hours=2)  # exactly the start
    for path, body in ((f"/portal/service-requests/{request_id}/cancel", {}),
                       (f"/portal/service-requests/{request_id}/reschedule", {"start": "2026-12-02T10:00:00-05:00"})):
        refused = post(api, tokens["userA"], path, body)
        assert refused.status_code == 409 and code(refused) == "BOOKING_IN_PAST", refused.body
    moved = post(api, tokens["admin"], f"/admin/service-requests/{request_id}/reschedule",
                 {"start": "2026-12-02T10:00:00-05:00"})
    assert moved.status_code == 200, moved.body
    assert (body_of(moved)["start"], body_of(moved)["userId"]) == ("2026-12-02T15:00:00Z", "user-a")
    detail = body_of(api.http.get(f"/admin/service-requests/{request_id}", headers=auth(tokens["admin"])))
    assert detail["audit"][-1]["actor"] == "admin:admin-1"
    assert detail["audit"][-1]["action"] == "service_request.rescheduled"
    # Moved to tomorrow: the customer may cancel it again.
    assert post(api, tokens["userA"], f"/portal/service-requests/{request_id}/cancel", {}).status_code == 200


def test_a_start_racing_a_cancel_exactly_one_wins(api, tokens, app_container):
    request_id = body_of(book_for(api, tokens))["id"]
    both_read = threading.Barrier(2, timeout=10)
    first_read: set[str] = set()
    real_get = app_container.requests.get

    def get(rid):  # both read the same revision before either writes
        found = real_get(rid)
        name = threading.current_thread().name
        if name not in first_read:
            first_read.add(name)
            both_read.wait()
        return found

    app_container.requests.get = get
    results: dict[str, object] = {}

    def run(name, action):
        try:
            results[name] = action().status.value
        except InvalidState as exc:
            results[name] = exc.code

    admin, user = Principal("admin-1", groups=("admin",)), Principal("user-a")
    threads = [threading.Thread(target=run, name="start", args=(
                   "start", lambda: job_lifecycle.start(app_container, admin, request_id))),
               threading.Thread(target=run, name="cancel", args=(
                   "cancel", lambda: changes.cancel(app_container, user, request_id)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results.values()) in (["CANCELLED", "INVALID_STATE"], ["INVALID_STATE", "IN_PROGRESS"]), results
    stored = real_get(request_id).status.value
    assert stored in results.values()
    assert team_day().get("cancelled", 0) == (1 if stored == "CANCELLED" else 0)
    assert team_day()["count"] == (0 if stored == "CANCELLED" else 1)


def test_the_routes_and_their_errors_are_in_the_openapi_document(api):
    paths = body_of(api.http.get("/openapi.json"))["paths"]
    expected = {"/admin/service-requests": ("post", "IDEMPOTENCY_KEY_REUSED"),
                "/admin/service-requests/{request_id}/start": ("post", "INVALID_STATE"),
                "/admin/service-requests/{request_id}/complete": ("post", "CASH_NOT_RECORDED"),
                "/admin/service-requests/{request_id}/no-show": ("post", "BOOKING_NOT_STARTED"),
                "/admin/service-requests/{request_id}/reschedule": ("post", "SLOT_FULL"),
                "/admin/service-requests/{request_id}/cancel": ("post", "INVALID_STATE"),
                "/portal/service-requests/{request_id}/cancel": ("post", "BOOKING_IN_PAST"),
                "/portal/service-requests/{request_id}/reschedule": ("post", "BOOKING_IN_PAST")}
    for path, (method, error) in expected.items():
        assert error in json.dumps(paths[path][method]["responses"]), (path, error)
