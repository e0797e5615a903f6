"""Admin service administration over chalice.test.Client + moto: create, update on a version, deactivate, list;
each change is written with its audit entry in one transaction, and a stale version never wins."""
from __future__ import annotations

import json
import threading

import pytest

from tests.integration.conftest import auth
from tests.integration.test_booking_api import DAY, NOW, api, book, slot, small_catalog, users  # noqa: F401 - fixtures

SERVICE = {"id": "windows", "name": "Window washing", "category": "cleaning", "durationMinutes": 60,
           "slotStepMinutes": 60, "basePrice": {"amount": 5000, "currency": "USD"}, "teamIds": ["t1"],
           "options": [{"id": "ladder", "name": "Ladder", "price": {"amount": 900}}],
           "areaPrices": [{"teamId": "t1", "basePrice": {"amount": 6000}, "options": [{"id": "ladder",
                                                                                     "price": {"amount": 1000}}]}]}


def call(api, token, method, path, body=None):
    headers = {**auth(token), "Content-Type": "application/json"}
    response = getattr(api.http, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
    return response.status_code, json.loads(response.body) if response.body else None


def audit_of(entity: str) -> list[dict]:
    from chalicelib.adapters.dynamodb.audit_repository import DynamoAuditLog
    return DynamoAuditLog().for_entity(entity)


def skilled_member(service_id: str) -> None:
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.domain.catalog import TeamMember
    DynamoCatalogRepository().put_member(TeamMember(id="m9", team_id="t1", display_name="M9",
                                                    service_ids=(service_id,)))


def test_created_service_is_offered_at_once_with_its_area_price(api, users):
    skilled_member("windows")
    status, created = call(api, users["admin"], "post", "/admin/services", {**SERVICE, "reason": "new line"})
    assert status == 201, created
    assert created["version"] == 1 and created["active"] is True
    listed = json.loads(api.http.get("/services").body)
    assert "windows" in [s["id"] for s in listed["items"]]
    slots = json.loads(api.http.get(f"/services/windows/availability?from={DAY}&to={DAY}&tz=UTC").body)
    assert any(s["remaining"] > 0 for s in slots["days"][0]["slots"])
    assert book(api, users["a"], "w1", serviceId="windows", options=["ladder"]).status_code == 201
    entries = audit_of("SERVICE#windows")
    assert [(e["action"], e["actor"], e["before"], e["reason"]) for e in entries] == [
        ("service.created", "admin:boss", None, "new line")]
    assert entries[0]["after"]["areaPrices"][0]["basePrice"]["amount"] == 6000


def test_update_needs_the_current_version_and_is_audited(api, users):
    call(api, users["admin"], "post", "/admin/services", SERVICE)
    status, updated = call(api, users["admin"], "patch", "/admin/services/windows",
                           {"version": 1, "name": "Windows", "leadTimeMinutes": 120, "reason": "rename"})
    assert status == 200 and updated["version"] == 2 and updated["name"] == "Windows"
    assert updated["basePrice"]["amount"] == 5000  # untouched fields keep their values
    status, body = call(api, users["admin"], "patch", "/admin/services/windows", {"version": 1, "name": "Stale"})
    assert status == 409 and body["error"]["code"] == "CONCURRENT_UPDATE"
    assert call(api, users["admin"], "get", "/admin/services/windows")[1]["name"] == "Windows"
    [entry] = [e for e in audit_of("SERVICE#windows") if e["action"] == "service.updated"]
    assert entry["before"]["name"] == "Window washing" and entry["after"]["name"] == "Windows"


def test_two_admins_with_the_same_version_exactly_one_wins(api, users, app_container):
    """Straight to the use case on threads: both read version 1 before either writes (the barrier), so only
    the store's condition can tell them apart."""
    from chalicelib.domain.principal import Principal
    from chalicelib.services import catalog_admin

    call(api, users["admin"], "post", "/admin/services", SERVICE)
    store = app_container.catalog_admin
    barrier = threading.Barrier(2)
    real_get = store.get

    def get_then_wait(kind, item_id):
        doc = real_get(kind, item_id)
        barrier.wait(timeout=10)
        return doc

    app_container.override(catalog_admin=type("Slow", (), {"get": staticmethod(get_then_wait),
                                                           "save": store.save, "page": store.page})())
    outcomes: list[str] = []

    def admin(name: str) -> None:
        try:
            catalog_admin.update_service(app_container, Principal(user_id=name, groups=("admin",)), "windows",
                                         {"name": name}, 1, None)
            outcomes.append("won:" + name)
        except Exception as exc:  # noqa: BLE001 - the loser's error is the point
            outcomes.append(getattr(exc, "code", repr(exc)))

    threads = [threading.Thread(target=admin, args=(n,)) for n in ("ann", "bob")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(o.split(":")[0] for o in outcomes) == ["CONCURRENT_UPDATE", "won"], outcomes
    winner = next(o.split(":")[1] for o in outcomes if o.startswith("won"))
    stored = store.get("service", "windows")
    assert stored["name"] == winner and stored["version"] == 2
    assert sorted(e["action"] for e in audit_of("SERVICE#windows")) == ["service.created", "service.updated"]


def test_deactivated_service_refuses_new_work_but_booked_work_stays(api, users):
    skilled_member("windows")
    call(api, users["admin"], "post", "/admin/services", SERVICE)
    booked = book(api, users["a"], "w1", serviceId="windows")
    assert booked.status_code == 201
    request_id = json.loads(booked.body)["id"]
    status, body = call(api, users["admin"], "post", "/admin/services/windows/deactivate",
                        {"version": 1, "reason": "season over"})
    assert status == 200 and body["active"] is False
    refused = book(api, users["a"], "w2", serviceId="windows", start=f"{DAY}T11:00:00-05:00")
    assert refused.status_code == 409 and json.loads(refused.body)["error"]["code"] == "SERVICE_INACTIVE"
    quote = call(api, users["a"], "post", "/pricing/quote",
                 {"serviceId": "windows", "start": f"{DAY}T11:00:00-05:00", "tz": "UTC"})
    assert quote[0] == 409 and quote[1]["error"]["code"] == "SERVICE_INACTIVE"
    assert "windows" not in [s["id"] for s in json.loads(api.http.get("/services").body)["items"]]
    assert call(api, users["a"], "get", f"/portal/service-requests/{request_id}")[0] == 200
    moved = call(api, users["a"], "post", f"/portal/service-requests/{request_id}/reschedule",
                 {"start": f"{DAY}T13:00:00-05:00"})
    assert moved[0] == 200, moved  # booked work of a retired service can still be moved
    cancelled = call(api, users["a"], "post", f"/portal/service-requests/{request_id}/cancel", {})
    assert cancelled[0] == 200, cancelled


@pytest.mark.parametrize("body, field", [
    ({**SERVICE, "teamIds": ["nowhere"], "areaPrices": []}, "teamIds"),
    ({**SERVICE, "areaPrices": [{"teamId": "t2", "basePrice": {"amount": 1}}]}, "areaPrices"),
    ({**SERVICE, "durationMinutes": 0}, "durationMinutes"),
    ({**SERVICE, "basePrice": {"amount": -1}}, "basePrice.amount"),
    ({**SERVICE, "surprise": 1}, "surprise"),
])
def test_invalid_services_are_refused_before_any_write(api, users, body, field):
    status, answer = call(api, users["admin"], "post", "/admin/services", body)
    assert status == 400, answer
    assert any(f["field"].startswith(field) for f in answer["error"]["details"]["fields"])
    assert call(api, users["admin"], "get", "/admin/services/windows")[0] == 404
    assert audit_of("SERVICE#windows") == []


def test_create_of_an_existing_id_and_non_admins_are_refused(api, users):
    assert call(api, users["admin"], "post", "/admin/services", SERVICE)[0] == 201
    status, body = call(api, users["admin"], "post", "/admin/services", SERVICE)
    assert status == 409 and body["error"]["code"] == "ALREADY_EXISTS"
    assert call(api, users["a"], "post", "/admin/services", {**SERVICE, "id": "x"})[0] == 403


def test_service_list_pages_with_a_cursor_and_filters_active(api, users):
    for i in range(5):
        call(api, users["admin"], "post", "/admin/services", {**SERVICE, "id": f"s{i}"})
    call(api, users["admin"], "post", "/admin/services/s2/deactivate", {"version": 1, "reason": "x"})
    seen, cursor = [], None
    while True:
        path = "/admin/services?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(api, users["admin"], "get", path)
        assert status == 200 and len(page["items"]) <= 2
        seen += [s["id"] for s in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == ["s0", "s1", "s2", "s3", "s4", "svc"]
    inactive = call(api, users["admin"], "get", "/admin/services?active=false")[1]["items"]
    assert [s["id"] for s in inactive] == ["s2"]
    assert call(api, users["admin"], "get", "/admin/services?cursor=bogus")[0] == 400


def test_terms_are_edited_with_the_service_and_bind_bookings_made_after(api, users):
    skilled_member("windows")
    status, created = call(api, users["admin"], "post", "/admin/services", SERVICE)
    assert status == 201 and created["terms"]["latePolicy"] == "percent"  # omitted: the default terms
    before = book(api, users["a"], "t-before", serviceId="windows")
    assert before.status_code == 201, before.body
    strict = {"freeUntilHours": 48, "latePolicy": "fixed", "lateFee": 2500, "noShowFee": 4000}
    status, updated = call(api, users["admin"], "patch", "/admin/services/windows",
                           {"version": 1, "terms": strict, "reason": "stricter terms"})
    assert status == 200 and updated["terms"] == strict and updated["version"] == 2
    listed = {s["id"]: s for s in json.loads(api.http.get("/services").body)["items"]}
    assert listed["windows"]["terms"] == strict
    after = book(api, users["a"], "t-after", serviceId="windows", start=slot(11))
    assert after.status_code == 201, after.body
    assert json.loads(after.body)["cancellationTerms"] == strict
    # a booking keeps the terms it was made under
    assert json.loads(before.body)["cancellationTerms"]["latePolicy"] == "percent"
    [entry] = [e for e in audit_of("SERVICE#windows") if e["action"] == "service.updated"]
    assert entry["before"]["terms"]["latePolicy"] == "percent" and entry["after"]["terms"] == strict


@pytest.mark.parametrize("terms", [
    {"freeUntilHours": 24, "latePolicy": "percent", "lateFee": 150},
    {"freeUntilHours": -1, "latePolicy": "fixed"},
    {"freeUntilHours": 24, "latePolicy": "sometimes"},
    {"freeUntilHours": "24", "latePolicy": "fixed"},
])
def test_invalid_terms_are_refused_and_change_nothing(api, users, terms):
    call(api, users["admin"], "post", "/admin/services", SERVICE)
    status, answer = call(api, users["admin"], "patch", "/admin/services/windows", {"version": 1, "terms": terms})
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR", answer
    assert call(api, users["admin"], "get", "/admin/services/windows")[1]["version"] == 1
