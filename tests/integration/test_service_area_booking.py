"""Bookings routed by the customer's location, on the demo catalog (cleaning is done by the New York and the
London crews; plumbing emergencies by on-call members of both): a New York ZIP books the New York crew, a
London postcode the London crew, an uncovered code is 422 SERVICE_AREA_NOT_COVERED and writes nothing."""
from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone

import pytest

from chalicelib.clock import FixedClock, system_clock
from tests.integration.conftest import auth


def a_tuesday_ahead() -> datetime:
    """14:00 UTC (09:00 in New York, 14:00 in London: both crews work) on a Tuesday 8 to 14 days ahead of the
    clock, never New Year's Day (a demo blackout)."""
    day = system_clock().date() + timedelta(days=8)
    day += timedelta(days=(1 - day.weekday()) % 7)
    if (day.month, day.day) == (1, 1):
        day += timedelta(days=7)
    return datetime.combine(day, time(14), timezone.utc)


@pytest.fixture
def slot(app_container) -> datetime:
    start = a_tuesday_ahead()
    app_container.override(clock=FixedClock(start - timedelta(days=7)))
    return start


def post(client, path, token, body, key):
    return client.http.post(path, body=json.dumps(body), headers={
        **auth(token), "Content-Type": "application/json", "Idempotency-Key": key})


def book(client, token, start, key, **location):
    return post(client, "/portal/service-requests", token,
                {"serviceId": "cleaning", "start": start.isoformat(), "paymentMethod": "COD", **location}, key)


def own(client, token) -> list[dict]:
    return json.loads(client.http.get("/portal/service-requests", headers=auth(token)).body)["items"]


@pytest.mark.parametrize("location, team", [({"postalCode": "10001"}, "team-nyc"),
                                            ({"postalCode": "10118-0110", "country": "US"}, "team-nyc"),
                                            ({"postalCode": "sw1a 1aa"}, "team-london"),
                                            ({"postalCode": "E1W 1AA", "country": "GB"}, "team-london")])
def test_the_location_decides_which_crew_books_it(client, tokens, slot, location, team):
    response = book(client, tokens["userA"], slot, "loc-1", **location)
    assert response.status_code == 201, response.body
    body = json.loads(response.body)
    assert body["teamId"] == team
    assert body["location"]["postalCode"] == location["postalCode"].replace(" ", "").upper().split("-")[0]


@pytest.mark.parametrize("location", [{"postalCode": "11201"}, {"postalCode": "E14 5AB"},
                                      {"postalCode": "75001", "country": "FR"}])
def test_an_uncovered_location_is_422_and_books_nothing(client, tokens, slot, location):
    response = book(client, tokens["userA"], slot, "loc-2", **location)
    assert response.status_code == 422, response.body
    error = json.loads(response.body)["error"]
    assert error["code"] == "SERVICE_AREA_NOT_COVERED" and error["details"]["serviceId"] == "cleaning"
    assert own(client, tokens["userA"]) == []


def test_a_malformed_postal_code_is_400_and_books_nothing(client, tokens, slot):
    response = book(client, tokens["userA"], slot, "loc-3", postalCode="1000")
    assert response.status_code == 400, response.body
    assert own(client, tokens["userA"]) == []


def test_a_series_from_london_keeps_london_wall_time_and_crew(client, tokens, slot):
    response = book(client, tokens["userA"], slot, "loc-4", postalCode="N1 9GU",
                    recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"})
    assert response.status_code == 201, response.body
    body = json.loads(response.body)
    assert body["tz"] == "Europe/London"
    assert {o["teamId"] for o in body["items"]} == {"team-london"}


@pytest.mark.parametrize("postal_code, team", [("SW1A 2AA", "team-london"), ("10001", "team-nyc")])
def test_an_emergency_goes_to_an_on_call_member_of_the_crew_covering_it(client, tokens, slot, postal_code, team):
    """Both crews have plumbing on-call members (Ben, Dan): whichever is earliest overall, the location decides."""
    response = post(client, "/portal/emergency-requests", tokens["userA"],
                    {"serviceId": "plumbing", "address": "1 Main St", "paymentMethod": "COD",
                     "postalCode": postal_code}, "sos-" + postal_code)
    assert response.status_code == 201, response.body
    assert json.loads(response.body)["teamId"] == team


@pytest.mark.parametrize("postal_code, team, currency", [("10001", "team-nyc", "USD"),
                                                         ("SW1A 1AA", "team-london", "GBP")])
def test_the_quote_and_preview_judge_the_crew_and_price_the_booking_then_charges(client, tokens, slot, postal_code,
                                                                                  team, currency):
    quoted = client.http.post("/pricing/quote", headers={"Content-Type": "application/json"}, body=json.dumps(
        {"serviceId": "cleaning", "start": slot.isoformat(), "tz": "UTC", "postalCode": postal_code}))
    assert quoted.status_code == 200, quoted.body
    previewed = post(client, "/portal/recurring/preview", tokens["userA"], {
        "serviceId": "cleaning", "start": slot.isoformat(), "tz": "UTC", "rrule": "FREQ=WEEKLY;COUNT=2",
        "postalCode": postal_code}, "unused")
    assert previewed.status_code == 200, previewed.body
    booked = book(client, tokens["userA"], slot, "offer-" + postal_code, postalCode=postal_code)
    assert booked.status_code == 201, booked.body

    quote, preview, request = json.loads(quoted.body), json.loads(previewed.body), json.loads(booked.body)
    assert quote["teamId"] == preview["teamId"] == request["teamId"] == team
    assert preview["series"]["occurrences"][0]["availability"] == "AVAILABLE"
    assert quote["quote"]["total"] == request["price"]["total"]
    assert quote["quote"]["currency"] == request["price"]["currency"] == currency  # the area's prices
    assert preview["series"]["occurrences"][0]["quote"]["total"] == request["price"]["total"]


def validate(client, token, start, **extra):
    return post(client, "/portal/service-requests/validate", token,
                {"serviceId": "cleaning", "start": start.isoformat(), "paymentMethod": "COD", **extra}, "unused")


@pytest.mark.parametrize("postal_code, team", [("10001", "team-nyc"), ("SW1A 1AA", "team-london")])
def test_validate_answers_the_request_booking_then_creates_and_writes_nothing(client, tokens, slot, postal_code,
                                                                              team):
    checked = validate(client, tokens["userA"], slot, postalCode=postal_code)
    assert checked.status_code == 200, checked.body
    assert own(client, tokens["userA"]) == []  # nothing written
    booked = book(client, tokens["userA"], slot, "after-validate", postalCode=postal_code)
    assert booked.status_code == 201, booked.body
    answer, request = json.loads(checked.body), json.loads(booked.body)
    assert answer["teamId"] == request["teamId"] == team
    assert (answer["start"], answer["end"]) == (request["start"], request["end"])
    assert answer["price"]["total"] == request["price"]["total"] and "usageClaims" not in answer["price"]
    assert answer["memberId"] is None  # not pinned: booking picks the member


def test_validate_gives_the_codes_booking_gives(client, tokens, slot):
    assert json.loads(validate(client, tokens["userA"], slot, postalCode="11201").body)["error"]["code"] == \
        "SERVICE_AREA_NOT_COVERED"
    closed = slot.replace(hour=3)  # 03:00 UTC: neither crew works
    assert json.loads(validate(client, tokens["userA"], closed, postalCode="10001").body)["error"]["code"] == \
        "SLOT_UNAVAILABLE"
    # London has one crew: once it is booked, validate and booking both say SLOT_FULL.
    assert book(client, tokens["userB"], slot, "take-london", postalCode="E1 6AN").status_code == 201
    full = validate(client, tokens["userA"], slot, postalCode="E1 6AN")
    assert full.status_code == 409 and json.loads(full.body)["error"]["code"] == "SLOT_FULL"
    refused = book(client, tokens["userA"], slot, "london-full", postalCode="E1 6AN")
    assert json.loads(refused.body)["error"]["code"] == "SLOT_FULL"


def availability(client, day, **location):
    query = "&".join([f"from={day}", f"to={day}", "tz=UTC"] + [f"{k}={v}" for k, v in location.items()])
    return client.http.get(f"/services/cleaning/availability?{query}")


@pytest.mark.parametrize("postal_code, team", [("10001", "team-nyc"), ("SW1A%201AA", "team-london")])
def test_availability_for_a_location_lists_only_the_crews_covering_it(client, slot, postal_code, team):
    response = availability(client, slot.date().isoformat(), postalCode=postal_code)
    assert response.status_code == 200, response.body
    slots = [s for d in json.loads(response.body)["days"] for s in d["slots"]]
    assert slots and {s["teamId"] for s in slots} == {team}


def test_without_a_location_every_slot_names_its_team_and_teams_are_never_merged(client, slot, tokens):
    slots = [s for d in json.loads(availability(client, slot.date().isoformat()).body)["days"] for s in d["slots"]]
    both = [s for s in slots if s["start"] == slot.isoformat().replace("+00:00", "Z")
            or s["start"] == slot.isoformat()]
    assert {s["teamId"] for s in both} == {"team-nyc", "team-london"}  # 14:00 UTC: both crews work
    assert {s["remaining"] for s in both if s["teamId"] == "team-london"} == {1}  # London has one crew
    offer = next(s for s in both if s["teamId"] == "team-london")
    booked = book(client, tokens["userA"], slot, "from-the-offer", postalCode="E1 6AN", teamId=offer["teamId"])
    assert booked.status_code == 201 and json.loads(booked.body)["teamId"] == "team-london"


def test_availability_for_an_uncovered_location_is_422(client, slot):
    response = availability(client, slot.date().isoformat(), postalCode="11201")
    assert response.status_code == 422 and json.loads(response.body)["error"]["code"] == "SERVICE_AREA_NOT_COVERED"


NO_LOCATION = {  # each route's body, complete but for the location
    "booking": ("/portal/service-requests", {"serviceId": "cleaning", "paymentMethod": "COD"}),
    "series": ("/portal/service-requests", {"serviceId": "cleaning", "paymentMethod": "COD",
                                            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"}}),
    "emergency": ("/portal/emergency-requests", {"serviceId": "plumbing", "address": "1 Main St",
                                                 "paymentMethod": "COD"}),
    "validate": ("/portal/service-requests/validate", {"serviceId": "cleaning", "paymentMethod": "COD"}),
}


@pytest.mark.parametrize("route", sorted(NO_LOCATION))
@pytest.mark.parametrize("missing", [{}, {"country": "US"}, {"postalCode": ""}])
def test_booking_or_validating_without_a_location_is_400_and_writes_nothing(client, tokens, slot, route, missing):
    path, body = NO_LOCATION[route]
    body = {**body, **({} if route == "emergency" else {"start": slot.isoformat()}), **missing}
    response = post(client, path, tokens["userA"], body, "no-location")
    assert response.status_code == 400, response.body
    error = json.loads(response.body)["error"]
    assert error["code"] == "VALIDATION_ERROR" and set(error) == {"code", "message", "details"}
    assert [f["field"] for f in error["details"]["fields"]] == ["postalCode"]
    assert own(client, tokens["userA"]) == []
    # Not even the submission was recorded: the key is free, and the same body with a location books.
    assert client.http.get("/portal/submissions/no-location", headers=auth(tokens["userA"])).status_code == 404
    if route != "validate":
        booked = post(client, path, tokens["userA"], {**body, "postalCode": "10001"}, "no-location")
        assert booked.status_code == 201, booked.body


def test_the_document_requires_a_location_to_book_and_validate_only(client):
    document = json.loads(client.http.get("/openapi.json").body)
    schemas, paths = document["components"]["schemas"], document["paths"]
    assert "postalCode" in schemas["CreateServiceRequestIn"]["required"]  # booking, series and validate
    assert "postalCode" in schemas["EmergencyRequestIn"]["required"]
    for name in ("QuoteIn", "RecurringPreviewIn"):
        assert "postalCode" in schemas[name]["properties"] and "postalCode" not in schemas[name].get("required", [])
    query = {p["name"]: p for p in paths["/services/{service_id}/availability"]["get"]["parameters"]}
    assert query["postalCode"]["required"] is False
    for path in ("/portal/service-requests", "/portal/service-requests/validate", "/portal/emergency-requests"):
        answers = paths[path]["post"]["responses"]
        assert "VALIDATION_ERROR" in answers["400"]["description"]
        assert "SERVICE_AREA_NOT_COVERED" in answers["422"]["description"]
