"""Reschedule and cancel killed after their transaction stood (or after its follow-ups ran) and before the answer:
the customer's retry answers the change that was made, nothing moves or is given back twice, and the change
is audited exactly once."""
from __future__ import annotations

import json

import pytest

from tests.faults.crash import ProcessDied, dies_after, restart
from tests.faults.invariants import assert_consistent
from tests.integration.conftest import auth
from tests.integration.test_booking_api import NOW, api, body_of, book, slot, small_catalog, users  # noqa: F401

# (dependency, method): right after the request's transaction, and after the follow-ups (realtime push) ran.
CRASH_POINTS = {"after the transaction": ("requests", None), "after the follow-ups": ("events", "publish")}


def audit_actions(api, request_id: str, admin: str) -> list[str]:
    detail = body_of(api.http.get(f"/admin/service-requests/{request_id}", headers=auth(admin)))
    return [entry["action"] for entry in detail["audit"]]


def post(api, path: str, token: str, body: dict):
    return api.http.post(path, headers={**auth(token), "Content-Type": "application/json"}, body=json.dumps(body))


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_killed_reschedule_is_answered_by_the_retry_and_moved_once(api, users, app_container, point):
    created = body_of(book(api, users["a"], "k1"))
    dependency, method = CRASH_POINTS[point]
    dying = dies_after(app_container, dependency, method or "move")
    path = f"/portal/service-requests/{created['id']}/reschedule"
    with pytest.raises(ProcessDied):
        post(api, path, users["a"], {"start": slot(11)})
    assert dying.kills == 1
    restart(app_container, clock=lambda: NOW)

    retry = post(api, path, users["a"], {"start": slot(11)})
    assert retry.status_code == 200, retry.body
    moved = body_of(retry)
    assert moved["start"] == "2026-12-01T16:00:00Z" and moved["sequence"] == 1
    [stored] = [r for r in assert_consistent() if r.id == created["id"]]
    assert stored.sequence == 1 and stored.placement.start.hour == 16
    assert audit_actions(api, created["id"], users["admin"]) == ["service_request.rescheduled"]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_killed_cancel_is_answered_by_the_retry_and_released_once(api, users, app_container, point):
    created = body_of(book(api, users["a"], "k1"))
    assert book(api, users["b"], "k2").status_code == 201  # shares the slot: its counters must stay at 1
    dependency, method = CRASH_POINTS[point]
    dies_after(app_container, dependency, method or "release")
    path = f"/portal/service-requests/{created['id']}/cancel"
    with pytest.raises(ProcessDied):
        post(api, path, users["a"], {"reason": "plans changed"})
    restart(app_container, clock=lambda: NOW)

    retry = post(api, path, users["a"], {"reason": "plans changed"})
    assert retry.status_code == 200, retry.body
    assert body_of(retry)["status"] == "CANCELLED" and body_of(retry)["sequence"] == 1
    stored = {r.id: r for r in assert_consistent()}
    assert stored[created["id"]].status.value == "CANCELLED"
    assert sum(r.holds_capacity for r in stored.values()) == 1
    assert audit_actions(api, created["id"], users["admin"]) == ["service_request.cancelled"]
