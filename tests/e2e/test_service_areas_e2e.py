"""Service areas over real HTTP on the local stack's demo data: `team-nyc` covers US 100-102 prefixes,
`team-london` covers SW1A, EC1, E1, N1 and W1. The customer's location decides which crews are offered and at
which prices, every step before booking agrees with booking, and an uncovered location is refused everywhere."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.e2e

DEMO_LOCATIONS = [pytest.param({"postalCode": "10001", "country": "US"}, "team-nyc", "USD", id="new-york"),
                  pytest.param({"postalCode": "SW1A 1AA", "country": "GB"}, "team-london", "GBP", id="london")]
LONDON_ON_CALL_PLUMBERS = {"member-dan"}  # devtools/seed.py (New York's is member-ben)


def window() -> dict:
    """Seven days starting two days ahead of the stack's (wall) clock: past cleaning's 12-hour lead time, and
    always with London weekdays in it."""
    first = datetime.now(timezone.utc).date() + timedelta(days=2)
    return {"from": first.isoformat(), "to": (first + timedelta(days=6)).isoformat(), "tz": "UTC"}


def offered(stack, http, location: dict) -> list[dict]:
    response = http.get(stack.url("/services/cleaning/availability"), params={**window(), **location})
    assert response.status_code == 200, response.text
    return [s for day in response.json()["days"] for s in day["slots"]]


def post(stack, http, path: str, body: dict, who: str = "userA"):
    return http.post(stack.url(path), json=body,
                     headers={**stack.auth(who), "Idempotency-Key": f"areas-{uuid.uuid4()}"})


@pytest.mark.parametrize("location, team, currency", DEMO_LOCATIONS)
def test_a_location_sees_only_its_crews_and_the_first_offer_is_priced_the_same_up_to_booking(
        stack, http, location, team, currency):
    slots = offered(stack, http, location)
    assert slots and {s["teamId"] for s in slots} == {team}, slots  # never the other continent's crew
    first = next(s for s in slots if s["remaining"] > 0)
    offer = {"serviceId": "cleaning", "start": first["start"], "teamId": first["teamId"], **location}

    quoted = http.post(stack.url("/pricing/quote"), json={**offer, "tz": "UTC"})
    assert quoted.status_code == 200, quoted.text
    previewed = post(stack, http, "/portal/recurring/preview", {**offer, "tz": "UTC", "rrule": "FREQ=WEEKLY;COUNT=2"})
    assert previewed.status_code == 200, previewed.text
    validated = post(stack, http, "/portal/service-requests/validate", {**offer, "paymentMethod": "COD"})
    assert validated.status_code == 200, validated.text
    booked = post(stack, http, "/portal/service-requests", {**offer, "paymentMethod": "COD"})
    assert booked.status_code == 201, booked.text

    quote, preview, checked, request = quoted.json(), previewed.json(), validated.json(), booked.json()
    assert quote["teamId"] == preview["teamId"] == checked["teamId"] == request["teamId"] == team
    assert preview["series"]["occurrences"][0]["availability"] == "AVAILABLE"
    # Amounts are not pinned: other tests on the shared stack may add promotions.
    assert quote["quote"]["total"] == checked["price"]["total"] == request["price"]["total"]
    assert quote["quote"]["currency"] == checked["price"]["currency"] == request["price"]["currency"] == currency
    assert request["start"] == checked["start"] and request["location"]["country"] == location["country"]


def test_a_london_emergency_goes_to_the_london_on_call_crew(stack, http):
    response = post(stack, http, "/portal/emergency-requests", {
        "serviceId": "plumbing", "address": "10 Downing St", "paymentMethod": "COD", "postalCode": "SW1A 2AA"})
    assert response.status_code == 201, response.text
    request = response.json()
    assert request["priority"] == "EMERGENCY" and request["teamId"] == "team-london"
    assert request["memberId"] in LONDON_ON_CALL_PLUMBERS and request["price"]["currency"] == "GBP"
    assert request["location"] == {"postalCode": "SW1A2AA", "country": "GB"}


def customer_routes(start: str, location: dict) -> dict:
    """Every customer route that takes a location: (method, path, body or query)."""
    visit = {"serviceId": "cleaning", "start": start, **location}
    return {
        "availability": ("GET", "/services/cleaning/availability", {**window(), **location}),
        "quote": ("POST", "/pricing/quote", {**visit, "tz": "UTC"}),
        "preview": ("POST", "/portal/recurring/preview", {**visit, "tz": "UTC", "rrule": "FREQ=WEEKLY;COUNT=2"}),
        "validate": ("POST", "/portal/service-requests/validate", {**visit, "paymentMethod": "COD"}),
        "booking": ("POST", "/portal/service-requests", {**visit, "paymentMethod": "COD"}),
        "series": ("POST", "/portal/service-requests", {**visit, "paymentMethod": "COD",
                                                        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"}}),
        "emergency": ("POST", "/portal/emergency-requests", {"serviceId": "plumbing", "address": "1 Main St",
                                                             "paymentMethod": "COD", **location}),
    }


ROUTES = ("availability", "quote", "preview", "validate", "booking", "series", "emergency")


@pytest.mark.parametrize("location, normalised", [({"postalCode": "11201"}, {"postalCode": "11201", "country": "US"}),
                                                  ({"postalCode": "e14 5ab", "country": "gb"},
                                                   {"postalCode": "E145AB", "country": "GB"})])
def test_an_uncovered_location_is_422_on_every_customer_route_and_books_nothing(stack, http, location, normalised):
    start = f"{window()['from']}T14:00:00Z"  # 09:00 New York / 14:00 London: hours either crew might work
    routes = customer_routes(start, location)
    assert set(routes) == set(ROUTES)
    before = http.get(stack.url("/portal/service-requests"), headers=stack.auth("userB")).json()["items"]
    for name in ROUTES:
        method, path, payload = routes[name]
        if method == "GET":
            response = http.get(stack.url(path), params=payload)
        else:
            response = post(stack, http, path, payload, who="userB")
        assert response.status_code == 422, (name, response.text)
        error = response.json()["error"]
        assert error["code"] == "SERVICE_AREA_NOT_COVERED", (name, error)
        assert {k: error["details"].get(k) for k in normalised} == normalised, (name, error)
    after = http.get(stack.url("/portal/service-requests"), headers=stack.auth("userB")).json()["items"]
    assert after == before
