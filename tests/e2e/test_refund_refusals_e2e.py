"""Over the real local stack: a refund Stripe (the stub) refuses is flagged for an admin and not sent again by
reconciliation; a refund that goes through reaches the customer's mailbox as one "refund issued" e-mail."""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from devtools.stripe_stub.client import StubClient
from tests.e2e.test_messages_e2e import mailbox
from tests.e2e.test_refunds_e2e import SERVICE_ID, cancel, next_hour_in_hours, refund_service, wait_for  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture
def stub(stack) -> StubClient:
    return StubClient(stack.env["STRIPE_API_BASE"])


def book_and_pay(stack, to: str, hours_ahead: float) -> tuple[str, str]:
    """(request id, Checkout Session id) of a paid card booking e-mailed to `to`."""
    booked = requests.post(stack.url("/portal/service-requests"), timeout=60, headers={
        **stack.auth("userA"), "Idempotency-Key": uuid.uuid4().hex}, json={
        "serviceId": SERVICE_ID, "start": next_hour_in_hours(hours_ahead).isoformat(), "paymentMethod": "CARD",
        "postalCode": "10001", "customerEmail": to})
    assert booked.status_code == 201, booked.text
    body = booked.json()
    assert requests.get(body["checkoutUrl"] + "?outcome=paid&format=json", timeout=60).status_code == 200
    wait_for(stack, body["id"], "PAID")
    return body["id"], body["checkoutUrl"].rstrip("/").rsplit("/", 1)[-1]


def refund_posts(stub: StubClient) -> int:
    return sum(n for route, n in stub.stats()["by_route"].items() if route.startswith("POST /v1/refunds"))


def test_a_refused_refund_is_flagged_and_reconciliation_leaves_it(stack, refund_service, stub):
    request_id, session_id = book_and_pay(stack, f"{uuid.uuid4().hex[:10]}@example.com", 96)
    stub.dispute(session_id)
    before = refund_posts(stub)
    assert cancel(stack, request_id)["paymentStatus"] == "PAID"
    flagged = requests.get(stack.url("/admin/reconciliation/flagged"), headers=stack.auth("admin"), timeout=60)
    assert flagged.status_code == 200, flagged.text
    [item] = [i for i in flagged.json()["items"] if i["id"] == request_id]
    notes = {n["kind"]: n for n in item["reconciliationNotes"]}
    assert sorted(notes) == ["dispute", "refund_refused"]  # the dispute's webhook flagged it first
    assert notes["refund_refused"]["providerCode"] == "charge_disputed"
    run = requests.post(stack.url("/admin/jobs/reconcile"), json={}, headers=stack.auth("admin"), timeout=120)
    assert run.status_code == 200, run.text
    assert refund_posts(stub) == before + 1  # the one refused attempt; reconciliation sent nothing


def test_a_refund_reaches_the_mailbox_once(stack, refund_service):
    to = f"{uuid.uuid4().hex[:10]}@example.com"
    request_id, _ = book_and_pay(stack, to, 96)
    cancel(stack, request_id)
    wait_for(stack, request_id, "REFUNDED")
    mailbox(stack, to, 4)  # confirmation, payment received, cancellation, refund issued
    time.sleep(1)  # anything recorded twice would have been sent by now
    found = requests.get(stack.child("mailbox").url + "/messages", params={"to": to}, timeout=30).json()
    refunds = [m for m in found if ".refund-issued." in (m["messageId"] or "")]
    assert [m["messageId"] for m in refunds] == [f"{request_id}.refund-issued.refunded-{refund_amount(found)}"]
    assert request_id in refunds[0]["text"] and refunds[0]["subject"].startswith("Refund issued")


def refund_amount(messages: list[dict]) -> str:
    """The amount the refund e-mail's id names: what the booking's confirmation says was paid, in minor units."""
    confirmation = next(m for m in messages if ".confirmation." in (m["messageId"] or ""))
    line = next(line for line in confirmation["text"].splitlines() if line.startswith("Price:"))
    return str(round(float(line.split()[1]) * 100))
