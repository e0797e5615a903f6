"""POST /pricing/quote over chalice.test.Client + moto, with the demo catalog (devtools.seed)."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.integration.conftest import auth

JSON = {"Content-Type": "application/json"}
# Wednesday 2026-12-02 10:00 in New York (15:00 in London): business hours for both demo teams.
WEDNESDAY_10AM_NY = "2026-12-02T15:00:00Z"


def post_quote(client, **body):
    doc = {"serviceId": "cleaning", "start": WEDNESDAY_10AM_NY, "tz": "America/New_York", **body}
    return client.http.post("/pricing/quote", headers=JSON, body=json.dumps(doc))


def add_rule(client, tokens, **body):
    response = client.http.post("/admin/promo-rules", headers={**JSON, **auth(tokens["admin"])},
                                body=json.dumps({"kind": "percent", "value": 1000, **body}))
    assert response.status_code == 201, response.json_body
    return response.json_body


def test_plain_quote_with_options_is_public_and_explained(client):
    response = post_quote(client, options=["oven", "deep-clean"])
    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert (body["teamId"], body["teamTimezone"], body["series"]) == ("team-nyc", "America/New_York", None)
    assert body["localStart"] == "2026-12-02T10:00:00-05:00"
    q = body["quote"]
    assert [(line["kind"], line["code"], line["amount"]) for line in q["lines"]] == [
        ("BASE", "cleaning", 8900), ("OPTION", "oven", 2500), ("OPTION", "deep-clean", 4000)]
    assert (q["currency"], q["subtotal"], q["discount"], q["total"]) == ("USD", 15400, 0, 15400)


def test_quote_equals_the_resolver_for_the_same_input(client, tokens, app_container):
    """The route adds nothing of its own: the booking, calling the same resolver, stores the same price."""
    from chalicelib.domain.pricing import price

    add_rule(client, tokens, id="auto", kind="fixed", value=700, priority=1)
    add_rule(client, tokens, id="code", code="TEN", priority=2)
    body = {"start": "2026-12-05T23:30:00Z", "options": ["oven"], "promoCodes": ["ten"], "emergency": True}
    served = post_quote(client, **body).json_body["quote"]
    catalog = app_container.catalog.get()
    expected = price(catalog.services["cleaning"], datetime.fromisoformat(body["start"]), "America/New_York",
                     option_ids=["oven"], promo_codes=["ten"], emergency=True,
                     rules=app_container.promotions.list_rules(), policy=app_container.pricing_policy)
    assert served == expected.to_dict()
    assert served["appliedRules"] == ["auto", "code"]
    assert {line["code"] for line in served["lines"] if line["kind"] == "SURCHARGE"} == {
        "WEEKEND", "AFTER_HOURS", "EMERGENCY"}  # Saturday 18:30 in New York


def test_surcharges_follow_the_chosen_team_zone(client):
    # 12:00 UTC on a Wednesday: 07:00 in New York (after hours), 12:00 in London (business hours).
    nyc = post_quote(client, start="2026-12-02T12:00:00Z", postalCode="10001").json_body
    london = post_quote(client, start="2026-12-02T12:00:00Z", teamId="team-london").json_body
    assert nyc["teamId"] == "team-nyc"
    assert [line["code"] for line in nyc["quote"]["lines"] if line["kind"] == "SURCHARGE"] == ["AFTER_HOURS"]
    assert [line["code"] for line in london["quote"]["lines"] if line["kind"] == "SURCHARGE"] == []
    assert london["teamTimezone"] == "Europe/London"


def test_without_a_team_or_location_the_quote_judges_the_team_a_booking_would_try_first(client, app_container):
    """New York is closed at 07:00 its time, London is open: a booking of that instant goes to London."""
    from datetime import datetime, timezone

    from chalicelib.clock import FixedClock
    app_container.override(clock=FixedClock(datetime(2026, 11, 25, 12, tzinfo=timezone.utc)))  # a week before
    anywhere = post_quote(client, start="2026-12-02T12:00:00Z").json_body
    assert anywhere["teamId"] == "team-london"
    assert [line["code"] for line in anywhere["quote"]["lines"] if line["kind"] == "SURCHARGE"] == []


@pytest.mark.parametrize("body", [{"postalCode": "11201"}, {"postalCode": "SW1A 1AA", "teamId": "team-nyc"}])
def test_a_quote_for_an_uncovered_location_is_422(client, body):
    response = post_quote(client, **body)
    assert response.status_code == 422, response.json_body
    assert response.json_body["error"]["code"] == "SERVICE_AREA_NOT_COVERED"


@pytest.mark.parametrize("body,status,code", [
    ({"options": ["oven", "jacuzzi"]}, 400, "VALIDATION_ERROR"),
    ({"serviceId": "gardening"}, 404, "NOT_FOUND"),
    ({"teamId": "team-paris"}, 400, "VALIDATION_ERROR"),
    ({"tz": "Moon/Base"}, 400, "VALIDATION_ERROR"),
    ({"start": "2026-12-02T10:00:00"}, 400, "VALIDATION_ERROR"),
    ({"emergency": "yes"}, 400, "VALIDATION_ERROR"),
    ({"recurrence": "FREQ=DAILY;COUNT=3"}, 400, "VALIDATION_ERROR"),
    ({"recurrence": "FREQ=WEEKLY;COUNT=53"}, 400, "VALIDATION_ERROR"),
    ({"promoCodes": ["NOSUCH"]}, 422, "PROMO_INVALID"),
])
def test_bad_input_is_4xx_with_the_contract_body(client, body, status, code):
    response = post_quote(client, **body)
    assert response.status_code == status, response.json_body
    assert response.json_body["error"]["code"] == code


def test_unknown_option_details(client):
    details = post_quote(client, options=["jacuzzi"]).json_body["error"]["details"]
    assert details["unknownOptions"] == ["jacuzzi"] and details["validOptions"] == ["deep-clean", "oven"]


def test_promo_invalid_says_why_for_each_code(client, tokens):
    add_rule(client, tokens, id="plumb", code="PLUMB", serviceIds=["plumbing"])
    add_rule(client, tokens, id="old", code="OLD", validTo="2026-11-01T00:00:00Z")
    add_rule(client, tokens, id="big", code="BIG", minSubtotal=50000)
    response = post_quote(client, promoCodes=["plumb", "old", "big", "nope"])
    assert response.status_code == 422
    assert response.json_body["error"]["details"]["codes"] == [
        {"code": "PLUMB", "reason": "OUT_OF_SCOPE"}, {"code": "OLD", "reason": "EXPIRED"},
        {"code": "BIG", "reason": "MIN_SUBTOTAL_NOT_MET"}, {"code": "NOPE", "reason": "UNKNOWN"}]


def test_exclusive_code_and_automatic_rule(client, tokens):
    add_rule(client, tokens, id="auto", kind="fixed", value=500, priority=10)
    add_rule(client, tokens, id="vip", code="VIP", value=5000, stackable=False, priority=1, maxDiscount=2000)
    q = post_quote(client, promoCodes=["vip"]).json_body["quote"]
    assert q["appliedRules"] == ["vip"] and q["discount"] == 2000 and q["total"] == 6900
    assert q["notApplied"] == [{"ruleId": "auto", "code": None, "reason": "NOT_COMBINABLE"}]
    assert q["lines"][-1] == {"kind": "DISCOUNT", "code": "VIP", "description": "Code VIP", "amount": -2000}


def test_weekly_series_over_the_dst_change_keeps_9am_and_sums(client, tokens):
    add_rule(client, tokens, id="nov", kind="fixed", value=1000, validFrom="2026-11-01T00:00:00Z")
    response = post_quote(client, start="2026-10-19T13:00:00Z", recurrence="FREQ=WEEKLY;COUNT=4")
    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert body["quote"] is None
    series = body["series"]
    assert [o["localStart"] for o in series["occurrences"]] == [
        "2026-10-19T09:00:00-04:00", "2026-10-26T09:00:00-04:00",
        "2026-11-02T09:00:00-05:00", "2026-11-09T09:00:00-05:00"]
    assert [o["start"] for o in series["occurrences"]][2] == "2026-11-02T14:00:00Z"
    totals = [o["quote"]["total"] for o in series["occurrences"]]
    assert totals == [8900, 8900, 7900, 7900]  # the automatic rule only applies from November
    assert (series["count"], series["total"], series["discount"]) == (4, sum(totals), 2000)
    assert series["subtotal"] == sum(o["quote"]["subtotal"] for o in series["occurrences"])


def test_series_promo_error_names_the_occurrence(client, tokens):
    add_rule(client, tokens, id="short", code="SHORT", validTo="2026-12-10T00:00:00Z")
    response = post_quote(client, promoCodes=["short"], recurrence="FREQ=WEEKLY;COUNT=3")
    assert response.status_code == 422
    details = response.json_body["error"]["details"]
    assert details["occurrence"] == 2 and details["start"] == "2026-12-16T15:00:00Z"


def test_openapi_documents_the_routes(client):
    paths = client.http.get("/openapi.json").json_body["paths"]
    assert "post" in paths["/pricing/quote"]
    assert {"get", "post"} <= set(paths["/admin/promo-rules"])
    assert {"get", "put", "delete"} <= set(paths["/admin/promo-rules/{rule_id}"])
    assert "422" in paths["/pricing/quote"]["post"]["responses"]


# --- POST /portal/recurring/preview ------------------------------------------------------------------------------
def _next_wednesday_10am_ny() -> datetime:
    """A Wednesday 10:00 in New York at least two weeks ahead (past the lead time whatever the date)."""
    from datetime import date, time, timedelta
    from zoneinfo import ZoneInfo

    day = date.today() + timedelta(days=14)
    day += timedelta(days=(2 - day.weekday()) % 7)
    return datetime.combine(day, time(10, 0), ZoneInfo("America/New_York"))


def preview(client, token, **body):
    doc = {"serviceId": "cleaning", "start": _next_wednesday_10am_ny().isoformat(), "tz": "America/New_York",
           "rrule": "FREQ=WEEKLY;COUNT=4", **body}
    return client.http.post("/portal/recurring/preview", headers={**JSON, **auth(token)}, body=json.dumps(doc))


def test_preview_needs_a_signed_in_customer(client):
    response = client.http.post("/portal/recurring/preview", headers=JSON, body=json.dumps({}))
    assert response.status_code == 401


def test_preview_reports_availability_and_price_per_occurrence(client, tokens, app_container):
    from datetime import timedelta

    start = _next_wednesday_10am_ny()
    full_day = (start + timedelta(weeks=2)).date().isoformat()
    app_container.capacity_overrides.set("team-nyc", full_day, 0, "staff party")
    # Wednesdays are open 08:00-18:00; Sundays are closed in New York.
    response = preview(client, tokens["userA"], rrule="FREQ=WEEKLY;BYDAY=WE,SU;COUNT=6")
    assert response.status_code == 200, response.json_body
    body = response.json_body
    rows = body["series"]["occurrences"]
    expected = []
    for row in rows:
        local = datetime.fromisoformat(row["localStart"])
        assert (local.hour, local.minute) == (10, 0)
        if local.weekday() == 6 or (local.month, local.day) == (1, 1):  # closed, or the New Year blackout
            expected.append("SLOT_UNAVAILABLE")
        elif local.date().isoformat() == full_day:
            expected.append("SLOT_FULL")
        else:
            expected.append("AVAILABLE")
    assert [row["availability"] for row in rows] == expected
    assert expected.count("SLOT_FULL") == 1 and expected.count("AVAILABLE") >= 1
    assert (body["available"], body["conflicts"]) == (expected.count("AVAILABLE"), 6 - expected.count("AVAILABLE"))
    assert body["series"]["total"] == sum(row["quote"]["total"] for row in rows)
    sunday = next(row for row in rows if datetime.fromisoformat(row["localStart"]).weekday() == 6)
    assert [line["code"] for line in sunday["quote"]["lines"] if line["kind"] == "SURCHARGE"] == ["WEEKEND"]


def test_preview_rejects_unsupported_rules(client, tokens):
    response = preview(client, tokens["userA"], rrule="FREQ=WEEKLY;UNTIL=20991231")
    assert response.status_code == 400
    assert response.json_body["error"]["details"]["fields"][0]["field"] == "rrule.UNTIL"
