"""A card series over real HTTP with the Stripe stub: three weekly occurrences -> one Checkout Session with three
lines -> paid once at the stub (its signed webhook delivered to the API) -> all three PAID -> one cancelled inside
the free window -> that one REFUNDED (a partial refund of the shared payment), the other two still PAID."""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e

SERVICE_ID = "e2e-series-card"
TEAM_ID = "team-e2e-series-card"
NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def series_service(stack):
    return stack.add_service(SERVICE_ID, TEAM_ID, members=2, slot_capacity=2)


def request_of(stack, request_id: str) -> dict:
    answer = requests.get(stack.url(f"/portal/service-requests/{request_id}"), headers=stack.auth("userA"),
                          timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(stack, ids: list[str], wanted: list[str], limit: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + limit
    while True:
        found = [request_of(stack, i) for i in ids]
        if [f["paymentStatus"] for f in found] == wanted or time.monotonic() > deadline:
            assert [f["paymentStatus"] for f in found] == wanted, found
            return found
        time.sleep(0.2)


def stripe_session(stack, session_id: str) -> dict:
    answer = requests.get(f"{stack.env['STRIPE_API_BASE'].rstrip('/')}/v1/checkout/sessions/{session_id}",
                          params={"expand[]": "line_items"}, timeout=60,
                          headers={"Authorization": f"Bearer {stack.env.get('STRIPE_API_KEY', 'sk_test_local')}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_paid_card_series_refunds_only_the_cancelled_occurrence(stack, series_service):
    start = (datetime.now(NY) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    booked = requests.post(stack.url("/portal/service-requests"), timeout=60, headers={
        **stack.auth("userA"), "Idempotency-Key": "e2e-series-card"}, json={
        "serviceId": SERVICE_ID, "start": start.isoformat(), "paymentMethod": "CARD", "postalCode": "10001",
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3", "tz": "America/New_York"}})
    assert booked.status_code == 201, booked.text
    body = booked.json()
    ids = [item["id"] for item in body["items"]]
    assert len(ids) == 3 and body["checkoutUrl"]
    assert {item["checkoutUrl"] for item in body["items"]} == {body["checkoutUrl"]}  # one checkout for all

    session = stripe_session(stack, body["checkoutUrl"].rstrip("/").split("/")[-1])
    prices = [item["price"]["total"] for item in body["items"]]
    assert [line["amount_total"] for line in session["line_items"]["data"]] == prices
    assert session["amount_total"] == sum(prices) and session["metadata"]["seriesId"] == body["seriesId"]

    paid = requests.get(body["checkoutUrl"] + "?outcome=paid&format=json", timeout=60)
    assert paid.status_code == 200, paid.text
    assert [r["status"] for r in wait_for(stack, ids, ["PAID"] * 3)] == ["CONFIRMED"] * 3

    cancelled = requests.post(stack.url(f"/portal/service-requests/{ids[1]}/cancel"), headers=stack.auth("userA"),
                              json={"reason": "away that week"}, timeout=60)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["change"]["refund"] == prices[1]
    final = wait_for(stack, ids, ["PAID", "REFUNDED", "PAID"])
    assert [r["status"] for r in final] == ["CONFIRMED", "CANCELLED", "CONFIRMED"]
