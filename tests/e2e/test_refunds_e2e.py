"""Card booking -> pay at the stub -> cancel, over real HTTP: refunded in full inside the free window; inside the
late window the fee is kept (PARTIALLY_REFUNDED); the refund's events redelivered in reverse and twice converge."""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from devtools.stripe_stub.client import StubClient

pytestmark = pytest.mark.e2e

SERVICE_ID = "e2e-refunds"
TEAM_ID = "team-e2e-refunds"
NY = ZoneInfo("America/New_York")
# add_service's service has the default terms: free until 24 h before, then 50 % of what was paid.


@pytest.fixture(scope="module")
def refund_service(stack):
    return stack.add_service(SERVICE_ID, TEAM_ID, members=4, slot_capacity=4)


@pytest.fixture
def stub(stack) -> StubClient:
    return StubClient(stack.env["STRIPE_API_BASE"])


def book_and_pay(stack, key: str, start: datetime, sessions: list[str] | None = None) -> tuple[str, int]:
    """(request id, amount paid: the quote, surcharges included); the Checkout Session's id is added to
    `sessions` (the stub's hosted page is /pay/{session id})."""
    booked = requests.post(stack.url("/portal/service-requests"), timeout=60, headers={
        **stack.auth("userA"), "Idempotency-Key": key}, json={
        "serviceId": SERVICE_ID, "start": start.isoformat(), "paymentMethod": "CARD", "postalCode": "10001"})
    assert booked.status_code == 201, booked.text
    body = booked.json()
    if sessions is not None:
        sessions.append(body["checkoutUrl"].rstrip("/").rsplit("/", 1)[1])
    paid = requests.get(body["checkoutUrl"] + "?outcome=paid&format=json", timeout=60)
    assert paid.status_code == 200, paid.text
    assert wait_for(stack, body["id"], "PAID")["status"] == "CONFIRMED"
    return body["id"], body["price"]["total"]


def wait_for(stack, request_id: str, payment_status: str, limit: float = 30.0) -> dict:
    deadline = time.monotonic() + limit
    while True:
        body = requests.get(stack.url(f"/portal/service-requests/{request_id}"), headers=stack.auth("userA"),
                            timeout=60).json()
        if body["paymentStatus"] == payment_status or time.monotonic() > deadline:
            assert body["paymentStatus"] == payment_status, body
            return body
        time.sleep(0.2)


def cancel(stack, request_id: str) -> dict:
    answer = requests.post(stack.url(f"/portal/service-requests/{request_id}/cancel"), headers=stack.auth("userA"),
                           json={"reason": "e2e"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def next_hour_in_hours(hours_ahead_min: float) -> datetime:
    """The first whole hour at least `hours_ahead_min` from now that the 08:00-18:00 New York team works."""
    t = (datetime.now(NY) + timedelta(hours=hours_ahead_min)).replace(minute=0, second=0, microsecond=0)
    t += timedelta(hours=1)
    while not 8 <= t.hour < 18:
        t += timedelta(hours=1)
    return t


def test_free_window_cancel_is_refunded_in_full(stack, refund_service):
    request_id, paid = book_and_pay(stack, "e2e-refund-free", next_hour_in_hours(72))
    assert cancel(stack, request_id)["change"]["refund"] == paid
    assert wait_for(stack, request_id, "REFUNDED")["status"] == "CANCELLED"


def test_late_window_keeps_the_fee_whatever_the_event_order(stack, refund_service, stub):
    request_id, paid = book_and_pay(stack, "e2e-refund-late", next_hour_in_hours(1))
    stub.faults(webhook_drop_next=2)  # charge.refunded and refund.updated recorded, not sent
    change = cancel(stack, request_id)["change"]
    assert (change["late"], change["fee"], change["refund"]) == (True, paid // 2, paid - paid // 2)
    stub.flush()
    dropped = [d["event_id"] for d in stub.deliveries() if not d["ok"]][-2:]
    for event_id in dropped[::-1] + dropped:  # reversed, then again in order
        stub.redeliver(event_id)
    assert wait_for(stack, request_id, "PARTIALLY_REFUNDED")["status"] == "CANCELLED"


def test_reconciliation_finds_a_refund_made_in_the_dashboard_that_no_webhook_delivered(stack, refund_service, stub):
    sessions: list[str] = []
    request_id, paid = book_and_pay(stack, "e2e-refund-dashboard", next_hour_in_hours(96), sessions)
    stub.refund(sessions[0], amount=paid // 4, deliver=False)  # made at Stripe; its events are never sent
    time.sleep(1)  # what a late webhook would have needed: the request must still be PAID
    assert wait_for(stack, request_id, "PAID")["status"] == "CONFIRMED"

    run = requests.post(stack.url("/admin/jobs/reconcile"), headers=stack.auth("admin"), json={}, timeout=120)
    assert run.status_code == 200, run.text
    summary = run.json()
    # Found by replaying the events Stripe holds as undelivered, or by listing the PaymentIntent's refunds.
    assert summary["eventsReplayed"] + summary["refunded"] >= 1 and summary["errors"] == 0, summary
    assert wait_for(stack, request_id, "PARTIALLY_REFUNDED")["status"] == "CONFIRMED"
