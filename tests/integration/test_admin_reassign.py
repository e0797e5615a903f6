"""Reassigning a booking to another member of its team: one transaction frees the old member's cells and takes
the new member's (the customer keeps the time, the team-day counts do not move); a busy, off, unskilled or
foreign member is refused with nothing changed."""
from __future__ import annotations

import json

from tests.capacity_view import flat_counters
from tests.integration.test_admin_catalog_services import audit_of, call
from tests.integration.test_booking_api import DAY, NOW, api, book, slot, small_catalog, users  # noqa: F401


def booked(api, users, key, member, hour=9) -> dict:
    r = book(api, users["a"], key, start=slot(hour), teamMemberId=member)
    assert r.status_code == 201, r.body
    return json.loads(r.body)


def reassign(api, users, request_id, member):
    return call(api, users["admin"], "post", f"/admin/service-requests/{request_id}/reassign",
                {"memberId": member, "reason": "m0 sick"})


def test_reassign_moves_the_member_cells_and_keeps_the_time(api, users):
    request = booked(api, users, "k1", "m0")
    before = flat_counters()
    status, moved = reassign(api, users, request["id"], "m1")
    assert status == 200, moved
    assert moved["memberId"] == "m1" and moved["start"] == request["start"] and moved["end"] == request["end"]
    after = flat_counters()
    team = {k: v for k, v in after.items() if "#M#" not in k}
    assert team == {k: v for k, v in before.items() if "#M#" not in k}  # team-day count and slots untouched
    assert sum(v for k, v in after.items() if "#M#m0#S#" in k) == 0
    assert sum(v for k, v in after.items() if "#M#m1#S#" in k) == sum(v for k, v in before.items() if "#M#m0#S#" in k)
    assert (after["2026-12-01#T#t1#M#m0#DAY"], after["2026-12-01#T#t1#M#m1#DAY"]) == (0, 1)
    # m0 is free at that time again: a new booking for m0 lands there
    assert book(api, users["b"], "k2", start=slot(9), teamMemberId="m0").status_code == 201
    [entry] = [e for e in audit_of(f"SR#{request['id']}") if e["action"] == "service_request.reassigned"]
    assert entry["before"]["memberId"] == "m0" and entry["after"]["memberId"] == "m1"
    mine = call(api, users["a"], "get", f"/portal/service-requests/{request['id']}")[1]
    assert mine["start"] == request["start"]


def test_busy_off_unskilled_or_unknown_members_are_refused_and_nothing_moves(api, users):
    request = booked(api, users, "k1", "m0")
    booked(api, users, "k2", "m1")  # m1 busy at the same time
    call(api, users["admin"], "post", "/admin/members/m2/time-off", {"start": slot(8), "end": slot(12)})
    before = flat_counters()
    for member, reason in (("m1", "busy"), ("m2", "busy")):
        status, body = reassign(api, users, request["id"], member)
        assert status == 409 and body["error"]["code"] == "MEMBER_UNAVAILABLE", body
        assert body["error"]["details"]["reason"] == reason
    call(api, users["admin"], "post", "/admin/teams", {"id": "t2", "name": "B", "timezone": "UTC",
                                                       "weeklyHours": {}, "dailyLimit": 1, "slotCapacity": 1})
    call(api, users["admin"], "post", "/admin/members", {"id": "x1", "teamId": "t2", "displayName": "X",
                                                         "serviceIds": ["svc"]})
    call(api, users["admin"], "post", "/admin/members", {"id": "x2", "teamId": "t1", "displayName": "Y"})
    for member, reason in (("x1", "other_team"), ("x2", "not_skilled")):
        status, body = reassign(api, users, request["id"], member)
        assert status == 409 and body["error"]["details"]["reason"] == reason, body
    assert reassign(api, users, request["id"], "ghost")[0] == 404
    assert reassign(api, users, "sr_missing", "m1")[0] == 404
    assert flat_counters() == before
    assert call(api, users["a"], "get", f"/portal/service-requests/{request['id']}")[1]["memberId"] == "m0"
