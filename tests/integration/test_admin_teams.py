"""Admin team administration over chalice.test.Client + moto: create, update on a version, deactivate (refused
over future bookings unless force + reason, which lists them), list with a cursor."""
from __future__ import annotations

import json

from tests.integration.test_admin_catalog_services import SERVICE, audit_of, call
from tests.integration.test_booking_api import DAY, NOW, api, book, slot, small_catalog, users  # noqa: F401

TEAM = {"id": "t2", "name": "Boston", "timezone": "America/New_York", "weeklyHours": {"tue": [["08:00", "12:00"]]},
        "dailyLimit": 4, "slotCapacity": 1, "serviceAreas": [{"country": "us", "prefixes": ["021"]}]}


def test_new_team_serves_a_service_at_once(api, users):
    status, team = call(api, users["admin"], "post", "/admin/teams", {**TEAM, "reason": "expansion"})
    assert status == 201 and team["version"] == 1 and team["serviceAreas"][0]["country"] == "US"
    call(api, users["admin"], "post", "/admin/services", {**SERVICE, "teamIds": ["t2"], "areaPrices": []})
    call(api, users["admin"], "post", "/admin/members", {"id": "b1", "teamId": "t2", "displayName": "B",
                                                         "serviceIds": ["windows"]})
    r = api.http.get(f"/services/windows/availability?from={DAY}&to={DAY}&tz=America/New_York&postalCode=02108")
    starts = [s["start"] for d in json.loads(r.body)["days"] for s in d["slots"]]
    assert starts and min(starts) == slot(8) and max(starts) == slot(11)
    assert [e["action"] for e in audit_of("TEAM#t2")] == ["team.created"]


def test_update_changes_limits_on_a_version(api, users):
    call(api, users["admin"], "post", "/admin/teams", TEAM)
    status, body = call(api, users["admin"], "patch", "/admin/teams/t2", {"version": 1, "dailyLimit": 9,
                                                                         "slotCapacity": 3})
    assert status == 200 and (body["dailyLimit"], body["slotCapacity"], body["version"]) == (9, 3, 2)
    stale = call(api, users["admin"], "patch", "/admin/teams/t2", {"version": 1, "name": "x"})
    assert stale[0] == 409 and stale[1]["error"]["code"] == "CONCURRENT_UPDATE"
    bad = call(api, users["admin"], "patch", "/admin/teams/t2", {"version": 2, "weeklyHours": {"mon": [["9", "8"]]}})
    assert bad[0] == 400
    zone = call(api, users["admin"], "patch", "/admin/teams/t2", {"version": 2, "timezone": "Mars/Base"})
    assert zone[0] == 400
    assert call(api, users["admin"], "get", "/admin/teams/t2")[1]["version"] == 2


def test_deactivation_over_future_bookings_needs_force_and_lists_them(api, users):
    booked = book(api, users["a"], "k1")
    request_id = json.loads(booked.body)["id"]
    status, body = call(api, users["admin"], "post", "/admin/teams/t1/deactivate", {"version": 1, "reason": "closing"})
    assert status == 409 and body["error"]["details"] == {"serviceRequestIds": [request_id], "count": 1}
    assert call(api, users["admin"], "get", "/admin/teams/t1")[1]["active"] is True
    status, body = call(api, users["admin"], "post", "/admin/teams/t1/deactivate",
                        {"version": 1, "reason": "closing", "force": True})
    assert status == 200 and body["active"] is False and [b["id"] for b in body["affectedBookings"]] == [request_id]
    r = api.http.get(f"/services/svc/availability?from={DAY}&to={DAY}&tz=America/New_York")
    assert r.status_code == 404 or all(not d["slots"] for d in json.loads(r.body)["days"])
    assert "forced over 1" in audit_of("TEAM#t1")[0]["reason"]


def test_team_without_bookings_deactivates_and_lists_filter(api, users):
    call(api, users["admin"], "post", "/admin/teams", TEAM)
    status, body = call(api, users["admin"], "post", "/admin/teams/t2/deactivate", {"version": 1, "reason": "x"})
    assert status == 200 and body["affectedCount"] == 0
    page = call(api, users["admin"], "get", "/admin/teams?limit=1")[1]
    assert [t["id"] for t in page["items"]] == ["t1"] and page["nextCursor"]
    rest = call(api, users["admin"], "get", f"/admin/teams?limit=1&cursor={page['nextCursor']}")[1]
    assert [t["id"] for t in rest["items"]] == ["t2"]
    assert [t["id"] for t in call(api, users["admin"], "get", "/admin/teams?active=true")[1]["items"]] == ["t1"]
