"""Admin crew administration over chalice.test.Client + moto: hire, update on a version, deactivate and list
members (contact details never leave through portal routes); time off holds the member's cells, so their slots
leave availability at once and no booking can take them; over booked work it needs force + reason."""
from __future__ import annotations

import json

import pytest

from tests.integration.conftest import auth
from tests.integration.test_admin_catalog_services import audit_of, call
from tests.integration.test_booking_api import DAY, NOW, api, book, slot, small_catalog, users  # noqa: F401

HIRE = {"id": "m7", "teamId": "t1", "displayName": "Zoe Q.", "serviceIds": ["svc"], "email": "zoe@example.test",
        "phone": "+1 212 555 0199", "internalNotes": "prefers mornings", "reason": "season staff"}


def member_slots(api, member: str) -> set[str]:
    r = api.http.get(f"/services/svc/availability?from={DAY}&to={DAY}&tz=America/New_York&teamMemberId={member}")
    if r.status_code == 404:  # the member is not offered for the service at all
        assert json.loads(r.body)["error"]["details"] == {"teamMemberId": member}
        return set()
    assert r.status_code == 200, r.body
    return {s["start"] for d in json.loads(r.body)["days"] for s in d["slots"] if s["remaining"] > 0}


def time_off(api, token, member, start_hour, end_hour, **extra):
    return call(api, token, "post", f"/admin/members/{member}/time-off",
                {"start": slot(start_hour), "end": slot(end_hour), **extra})


def test_hired_member_is_offered_and_contact_details_stay_admin_only(api, users):
    status, hired = call(api, users["admin"], "post", "/admin/members", HIRE)
    assert status == 201 and hired["version"] == 1 and hired["email"] == HIRE["email"]
    assert member_slots(api, "m7")
    assert call(api, users["admin"], "get", "/admin/members/m7")[1]["phone"] == HIRE["phone"]
    portal = api.http.get("/portal/services/svc/team-members", headers=auth(users["a"]))
    assert "m7" in [m["id"] for m in json.loads(portal.body)["items"]]
    for secret in (HIRE["email"], HIRE["phone"], HIRE["internalNotes"], '"email"', '"phone"', '"internalNotes"'):
        assert secret not in portal.body.decode()
    [entry] = audit_of("MEMBER#m7")
    assert entry["action"] == "member.hired" and entry["after"]["email"] == HIRE["email"]


def test_skills_change_on_a_version_and_references_are_checked(api, users):
    call(api, users["admin"], "post", "/admin/members", HIRE)
    status, body = call(api, users["admin"], "patch", "/admin/members/m7",
                        {"version": 1, "serviceIds": [], "reason": "retrained"})
    assert status == 200 and body["serviceIds"] == [] and body["version"] == 2
    assert member_slots(api, "m7") == set()
    stale = call(api, users["admin"], "patch", "/admin/members/m7", {"version": 1, "serviceIds": ["svc"]})
    assert stale[0] == 409 and stale[1]["error"]["code"] == "CONCURRENT_UPDATE"
    for change, field in (({"serviceIds": ["nope"]}, "serviceIds"), ({"onCallServiceIds": ["svc"]}, "onCallServiceIds"),
                          ({"email": "not-an-email"}, "email"), ({"teamId": "t9"}, "teamId")):
        status, body = call(api, users["admin"], "patch", "/admin/members/m7", {"version": 2, **change})
        assert status == 400 and body["error"]["details"]["fields"][0]["field"] == field, body
    assert call(api, users["admin"], "get", "/admin/members/m7")[1]["version"] == 2


def test_deactivated_member_is_offered_for_nothing(api, users):
    assert member_slots(api, "m0")
    status, body = call(api, users["admin"], "post", "/admin/members/m0/deactivate", {"version": 1, "reason": "left"})
    assert status == 200 and body["active"] is False
    assert member_slots(api, "m0") == set()
    portal = json.loads(api.http.get("/portal/services/svc/team-members", headers=auth(users["a"])).body)
    assert "m0" not in [m["id"] for m in portal["items"]]


def test_member_list_filters_and_pages(api, users):
    call(api, users["admin"], "post", "/admin/members", {**HIRE, "serviceIds": []})
    call(api, users["admin"], "post", "/admin/members/m1/deactivate", {"version": 1, "reason": "x"})
    seen, cursor = [], None
    while True:
        path = "/admin/members?teamId=t1&serviceId=svc&active=true&limit=1" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(api, users["admin"], "get", path)
        assert status == 200 and len(page["items"]) <= 1
        seen += [m["id"] for m in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == ["m0", "m2"]
    assert [m["id"] for m in call(api, users["admin"], "get", "/admin/members?active=false")[1]["items"]] == ["m1"]


def test_time_off_removes_the_members_slots_and_delete_gives_them_back(api, users):
    before = member_slots(api, "m0")
    assert slot(9) in before and slot(10) in before
    status, created = time_off(api, users["admin"], "m0", 9, 12, reason="dentist")
    assert status == 201 and created["toReassign"] == []
    after = member_slots(api, "m0")
    assert slot(9) not in after and slot(11) not in after and slot(13) in after
    assert member_slots(api, "m1") == before  # only that member
    refused = book(api, users["a"], "k1", start=slot(10), teamMemberId="m0")
    assert refused.status_code == 409
    listed = call(api, users["admin"], "get", "/admin/members/m0/time-off")[1]["items"]
    assert [t["id"] for t in listed] == [created["id"]]
    deleted = api.http.delete(f"/admin/members/m0/time-off/{created['id']}?reason=cancelled", headers=auth(users["admin"]))
    assert deleted.status_code == 204
    assert member_slots(api, "m0") == before
    assert sorted(e["action"] for e in audit_of("MEMBER#m0")) == ["member.time_off.created", "member.time_off.deleted"]


def test_time_off_over_booked_work_needs_force_and_reason_and_lists_the_bookings(api, users):
    booked = book(api, users["a"], "k1", start=slot(10), teamMemberId="m0")
    assert booked.status_code == 201
    request_id = json.loads(booked.body)["id"]
    status, body = time_off(api, users["admin"], "m0", 9, 12, reason="sick")
    assert status == 409 and body["error"]["code"] == "BOOKED_WORK_CONFLICT"
    assert body["error"]["details"]["serviceRequestIds"] == [request_id]
    assert time_off(api, users["admin"], "m0", 9, 12, force=True)[0] == 400  # force without a reason
    assert slot(9) in member_slots(api, "m0")  # nothing was written
    status, body = time_off(api, users["admin"], "m0", 9, 12, force=True, reason="sick")
    assert status == 201 and [b["id"] for b in body["toReassign"]] == [request_id]
    assert member_slots(api, "m0") & {slot(9), slot(10), slot(11)} == set()
    mine = call(api, users["a"], "get", f"/portal/service-requests/{request_id}")[1]
    assert mine["status"] == "CONFIRMED"  # the booking keeps its place until reassigned


@pytest.mark.parametrize("start, end", [(12, 9), (9, 9)])
def test_invalid_time_off_is_refused(api, users, start, end):
    status, body = time_off(api, users["admin"], "m0", start, end)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    assert call(api, users["admin"], "get", "/admin/members/m0/time-off")[1]["items"] == []
    assert time_off(api, users["admin"], "nobody", 9, 10)[0] == 404


def test_a_booking_taking_a_cell_after_the_read_makes_the_time_off_fail_whole(api, users, app_container):
    """The time off read the cells as free, then a booking took one: the transaction's own condition refuses it
    (409 CONCURRENT_UPDATE) and nothing of it is written, neither cells nor record nor audit entry."""
    store = app_container.time_off
    real_holders = store.holders

    def holders_then_booking(*args):
        seen = real_holders(*args)
        assert book(api, users["a"], "race", start=slot(10), teamMemberId="m0").status_code == 201
        return seen

    app_container.override(time_off=type("Racy", (), {"holders": staticmethod(holders_then_booking),
                                                      "claim": store.claim, "release": store.release,
                                                      "get": store.get, "page": store.page})())
    status, body = time_off(api, users["admin"], "m0", 9, 12, reason="x")
    assert status == 409 and body["error"]["code"] == "CONCURRENT_UPDATE", body
    app_container.override(time_off=store)
    assert call(api, users["admin"], "get", "/admin/members/m0/time-off")[1]["items"] == []
    assert audit_of("MEMBER#m0") == []
    assert slot(9) in member_slots(api, "m0")  # the free cells were not taken either


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = []

    def availability_changed(self, service_ids, team_id, dates) -> None:
        self.calls.append((tuple(service_ids), team_id, tuple(dates)))


def test_availability_changes_are_pushed_for_the_days_they_touch(api, users, app_container):
    pushed = Recorder()
    app_container.override(publisher=pushed)
    call(api, users["admin"], "post", "/admin/members", HIRE)
    assert pushed.calls and pushed.calls[-1][:2] == (("svc",), "t1") and pushed.calls[-1][2][0] == "2026-11-24"
    pushed.calls.clear()
    time_off(api, users["admin"], "m0", 9, 12, reason="x")
    assert pushed.calls == [(("svc",), "t1", (DAY,))]


def test_deactivated_member_answers_their_booked_work(api, users):
    request_id = json.loads(book(api, users["a"], "k1", start=slot(10), teamMemberId="m0").body)["id"]
    book(api, users["a"], "k2", start=slot(10), teamMemberId="m1")
    status, body = call(api, users["admin"], "post", "/admin/members/m0/deactivate", {"version": 1, "reason": "left"})
    assert status == 200 and [b["id"] for b in body["toReassign"]] == [request_id]


def test_ids_no_create_could_make_are_not_found_not_server_errors(api, users):
    long_id = "m" * 3000
    for method, path in (("get", f"/admin/members/{long_id}"), ("get", f"/admin/services/{long_id}"),
                         ("get", f"/admin/teams/{long_id}/capacity-overrides"),
                         ("delete", f"/admin/members/m0/time-off/{long_id}")):
        assert call(api, users["admin"], method, path)[0] == 404, path


def test_reassign_of_an_impossible_request_id_is_not_found(api, users):
    status, body = call(api, users["admin"], "post", f"/admin/service-requests/{'r' * 3000}/reassign",
                        {"memberId": "m1"})
    assert status == 404, body
