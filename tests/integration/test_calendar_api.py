"""ICS routes and signed links over chalice.test.Client + in-process moto, on the seeded demo catalog."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import icalendar
import pytest

from chalicelib.domain import links
from chalicelib.domain.booking import Status
from chalicelib.services import calendar
from tests.integration.conftest import auth

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
START = "2026-12-01T09:00:00-05:00"  # Tuesday 09:00 New York = 14:00Z (team-nyc works 08:00-12:00)


@pytest.fixture
def api(client, app_container):
    app_container.override(clock=lambda: NOW)
    return client


def book(api, token: str, key: str, start: str = START) -> dict:
    body = {"serviceId": "cleaning", "teamId": "team-nyc", "start": start, "paymentMethod": "COD",
            "address": "1 Main St, Springfield", "postalCode": "10001"}
    response = api.http.post("/portal/service-requests", body=json.dumps(body),
                             headers={**auth(token), "Content-Type": "application/json", "Idempotency-Key": key})
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def parse(response) -> tuple[icalendar.Calendar, icalendar.Event]:
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.body)
    (event,) = cal.walk("VEVENT")
    return cal, event


def error_code(response) -> str:
    return json.loads(response.body)["error"]["code"]


def stored(app_container, request_id: str):
    return app_container.requests.get(request_id)


def test_own_invite_is_a_request_in_the_team_zone(api, tokens):
    booked = book(api, tokens["userA"], "k1")
    cal, event = parse(api.http.get(f"/portal/service-requests/{booked['id']}/calendar.ics",
                                    headers=auth(tokens["userA"])))
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"{booked['id']}@service-portal"
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert event.decoded("DTSTAMP") == NOW
    assert str(event["ORGANIZER"]) == "mailto:bookings@example.com"
    assert str(event["ATTENDEE"]) == "mailto:user-a@example.com"
    assert str(event["LOCATION"]) == "1 Main St, Springfield"
    description = str(event["DESCRIPTION"])
    assert "Home cleaning" in description and booked["id"] in description and "COD_DUE" in description
    assert "/links/" in description and "/cancel" in description


def test_customer_zone_and_invalid_zone(api, tokens):
    booked = book(api, tokens["userA"], "k1")
    path = f"/portal/service-requests/{booked['id']}/calendar.ics"
    _, event = parse(api.http.get(f"{path}?tz=Europe/Berlin", headers=auth(tokens["userA"])))
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 12, 1, 15, 0)
    bad = api.http.get(f"{path}?tz=Mars/Olympus_Mons", headers=auth(tokens["userA"]))
    assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR"


def test_another_users_invite_is_not_found(api, tokens):
    booked = book(api, tokens["userA"], "k1")
    other = api.http.get(f"/portal/service-requests/{booked['id']}/calendar.ics", headers=auth(tokens["userB"]))
    missing = api.http.get("/portal/service-requests/sr_nope/calendar.ics", headers=auth(tokens["userA"]))
    assert (other.status_code, missing.status_code) == (404, 404)
    # No existence leak: the same answer as for an id that does not exist (details echo only the input).
    assert json.loads(other.body)["error"] == {"code": "NOT_FOUND", "message": "Not found.",
                                               "details": {"serviceRequestId": booked["id"]}}
    assert json.loads(missing.body)["error"]["details"] == {"serviceRequestId": "sr_nope"}
    anonymous = api.http.get(f"/portal/service-requests/{booked['id']}/calendar.ics")
    assert anonymous.status_code == 401


def test_reschedule_then_cancel_keep_uid_and_raise_sequence(api, tokens):
    booked = book(api, tokens["userA"], "k1")
    path = f"/portal/service-requests/{booked['id']}/calendar.ics"
    headers = auth(tokens["userA"])
    _, first = parse(api.http.get(path, headers=headers))
    moved = api.http.post(f"/portal/service-requests/{booked['id']}/reschedule",
                          headers={**headers, "Content-Type": "application/json"},
                          body=json.dumps({"start": "2026-12-02T10:00:00-05:00"}))
    assert moved.status_code == 200, moved.body
    _, second = parse(api.http.get(path, headers=headers))
    assert str(second["UID"]) == str(first["UID"])
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])
    assert second.decoded("DTSTART").astimezone(UTC) == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    cancelled = api.http.post(f"/portal/service-requests/{booked['id']}/cancel",
                              headers={**headers, "Content-Type": "application/json"}, body="{}")
    assert cancelled.status_code == 200, cancelled.body
    cal, third = parse(api.http.get(path, headers=headers))
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(third["STATUS"]) == "CANCELLED"
    assert str(third["UID"]) == str(first["UID"])
    assert int(third["SEQUENCE"]) > int(second["SEQUENCE"])


def test_ics_link_serves_the_invite_without_login(api, tokens, app_container):
    booked = book(api, tokens["userA"], "k1")
    token = calendar.link_token(app_container, stored(app_container, booked["id"]), links.ICS)
    _, event = parse(api.http.get(f"/links/{token}/calendar.ics"))
    assert str(event["UID"]) == f"{booked['id']}@service-portal"


def test_cancel_link_cancels_its_request_and_is_audited(api, tokens, app_container):
    booked = book(api, tokens["userA"], "k1")
    token = calendar.link_token(app_container, stored(app_container, booked["id"]), links.CANCEL)
    response = api.http.post(f"/links/{token}/cancel", headers={"Content-Type": "application/json"},
                             body=json.dumps({"reason": "plans changed"}))
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["status"] == "CANCELLED"
    assert stored(app_container, booked["id"]).status is Status.CANCELLED
    entries = app_container.audit.for_entity(f"SR#{booked['id']}")
    cancel_entries = [e for e in entries if e["action"] == "service_request.cancelled"]
    assert [e["actor"] for e in cancel_entries] == [f"link:{booked['id']}"]
    again = api.http.post(f"/links/{token}/cancel", headers={"Content-Type": "application/json"}, body="{}")
    assert again.status_code == 200 and json.loads(again.body) == json.loads(response.body)  # a repeat: unchanged
    assert len(app_container.audit.for_entity(f"SR#{booked['id']}")) == len(entries)


def _forge(token: str, request_id: str) -> str:
    """Same MAC, payload rewritten to point at another request."""
    payload, mac = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    version, _, purpose, expiry = raw.split("|")
    new = base64.urlsafe_b64encode(f"{version}|{request_id}|{purpose}|{expiry}".encode()).rstrip(b"=").decode()
    return f"{new}.{mac}"


def test_a_token_for_x_cannot_cancel_y(api, tokens, app_container):
    x = book(api, tokens["userA"], "kx")
    y = book(api, tokens["userB"], "ky", start="2026-12-01T10:00:00-05:00")
    token_x = calendar.link_token(app_container, stored(app_container, x["id"]), links.CANCEL)
    forged = api.http.post(f"/links/{_forge(token_x, y['id'])}/cancel", body="{}",
                           headers={"Content-Type": "application/json"})
    assert forged.status_code == 404 and error_code(forged) == "NOT_FOUND"
    assert stored(app_container, y["id"]).status is Status.CONFIRMED
    assert stored(app_container, x["id"]).status is Status.CONFIRMED
    # X's genuine token cancels X and only X.
    genuine = api.http.post(f"/links/{token_x}/cancel", body="{}", headers={"Content-Type": "application/json"})
    assert genuine.status_code == 200 and json.loads(genuine.body)["id"] == x["id"]
    assert stored(app_container, y["id"]).status is Status.CONFIRMED


def test_bad_tokens_all_get_the_same_404(api, tokens, app_container):
    booked = book(api, tokens["userA"], "k1")
    request = stored(app_container, booked["id"])
    cancel_token = calendar.link_token(app_container, request, links.CANCEL)
    ics_token = calendar.link_token(app_container, request, links.ICS)
    tampered = cancel_token[:-2] + ("AA" if not cancel_token.endswith("AA") else "BB")
    foreign = links.sign("some-other-secret", booked["id"], links.CANCEL, request.placement.start)
    answers = [
        api.http.post(f"/links/{tampered}/cancel", body="{}", headers={"Content-Type": "application/json"}),
        api.http.post(f"/links/{ics_token}/cancel", body="{}", headers={"Content-Type": "application/json"}),
        api.http.post(f"/links/{foreign}/cancel", body="{}", headers={"Content-Type": "application/json"}),
        api.http.post("/links/not-a-token/cancel", body="{}", headers={"Content-Type": "application/json"}),
        api.http.get(f"/links/{cancel_token}/calendar.ics"),
        api.http.get(f"/links/{tampered}/calendar.ics"),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert len({a.body for a in answers}) == 1  # identical bodies: nothing says why
    assert stored(app_container, booked["id"]).status is Status.CONFIRMED


def test_links_expire_at_the_appointment_start(api, tokens, app_container):
    booked = book(api, tokens["userA"], "k1")
    request = stored(app_container, booked["id"])
    token = calendar.link_token(app_container, request, links.CANCEL)
    app_container.override(clock=lambda: request.placement.start + timedelta(minutes=1))
    late = api.http.post(f"/links/{token}/cancel", body="{}", headers={"Content-Type": "application/json"})
    assert late.status_code == 404
    assert stored(app_container, booked["id"]).status is Status.CONFIRMED


def test_link_routes_are_in_the_openapi_document(api):
    document = json.loads(api.http.get("/openapi.json").body)
    assert "/links/{token}/cancel" in document["paths"]
    assert "text/calendar" in json.dumps(document["paths"]["/links/{token}/calendar.ics"])
