"""The job after booking, and an admin's booking for a customer, killed right after the transaction stood and
before the answer: the retry answers the change that was made, writes nothing more, audits it once and counts a
no-show once on its team-day."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.clock import FixedClock
from tests.faults.crash import ProcessDied, dies_after, restart
from tests.faults.invariants import assert_consistent
from tests.faults.test_changes_die import audit_actions, post
from tests.integration.test_booking_api import NOW, api, body_of, book, slot, small_catalog, users  # noqa: F401

AFTER_START = NOW + timedelta(days=7, hours=2, minutes=30)  # 14:30Z on 2026-12-01: the 09:00 New York job began


@pytest.mark.parametrize("action,body,status,audited", [
    ("start", {}, "IN_PROGRESS", "service_request.started"),
    ("complete", {"cashCollected": True}, "COMPLETED", "service_request.completed"),
    ("no-show", {"reason": "nobody home"}, "NO_SHOW", "service_request.no_show")])
def test_a_killed_job_change_is_answered_by_the_retry_and_made_once(api, users, app_container, action, body, status,
                                                                    audited):
    created = body_of(book(api, users["a"], "k1"))
    clock = FixedClock(AFTER_START)
    app_container.override(clock=clock)
    dies_after(app_container, "requests", "save")
    path = f"/admin/service-requests/{created['id']}/{action}"
    with pytest.raises(ProcessDied):
        post(api, path, users["admin"], body)
    restart(app_container, clock=clock)

    retry = post(api, path, users["admin"], body)
    assert retry.status_code == 200, retry.body
    assert body_of(retry)["status"] == status
    assert_consistent()  # counters, the noShows tally (once), one audit entry per change
    assert audit_actions(api, created["id"], users["admin"]) == [audited]


def test_a_killed_admin_booking_is_answered_by_the_retry_and_booked_once(api, users, app_container):
    body = {"customerId": "user-a", "serviceId": "svc", "start": slot(9), "paymentMethod": "COD",
            "postalCode": "10001"}
    headers = {"Authorization": f"Bearer {users['admin']}", "Content-Type": "application/json",
               "Idempotency-Key": "phone-1"}
    dies_after(app_container, "requests", "create")
    with pytest.raises(ProcessDied):
        api.http.post("/admin/service-requests", headers=headers, body=json.dumps(body))
    restart(app_container, clock=lambda: NOW)

    retry = api.http.post("/admin/service-requests", headers=headers, body=json.dumps(body))
    assert retry.status_code == 201, retry.body
    booked = body_of(retry)
    stored = assert_consistent()
    assert [r.id for r in stored] == [booked["id"]] and stored[0].created_by == "admin:boss"
    mine = body_of(api.http.get("/portal/service-requests", headers={"Authorization": f"Bearer {users['a']}"}))
    assert [r["id"] for r in mine["items"]] == [booked["id"]]
    assert audit_actions(api, booked["id"], users["admin"]) == ["service_request.created_for_customer"]
