"""Over the real local stack: a cardholder's dispute (the stub's signed charge.dispute.* webhooks) puts the paid
booking on the admin's flagged list with the evidence deadline; a lost dispute keeps it there until an admin
resolves it; a won one takes it off; a dispute whose webhooks were never delivered is found by reconciliation."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.test_refund_refusals_e2e import book_and_pay, stub  # noqa: F401
from tests.e2e.test_refunds_e2e import refund_service  # noqa: F401

pytestmark = pytest.mark.e2e


def dispute_note(stack, request_id: str) -> dict | None:
    """The request's dispute note as the flagged list shows it (None: not listed)."""
    flagged = requests.get(stack.url("/admin/reconciliation/flagged"), headers=stack.auth("admin"), timeout=60)
    assert flagged.status_code == 200, flagged.text
    items = [i for i in flagged.json()["items"] if i["id"] == request_id]
    if not items:
        return None
    [note] = [n for n in items[0]["reconciliationNotes"] if n["kind"] == "dispute"]
    return note


def email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


def test_a_lost_dispute_stays_flagged_until_an_admin_resolves_it(stack, refund_service, stub):
    request_id, session_id = book_and_pay(stack, email(), 120)
    opened = stub.dispute(session_id)
    assert [d["status"] for d in opened["deliveries"]] == [200, 200]
    note = dispute_note(stack, request_id)
    assert note["open"] and note["status"] == "needs_response" and note["disputeId"] == opened["object"]["id"]
    assert note["dueBy"] and note["amount"] == opened["object"]["amount"]

    stub.close_dispute(opened["object"]["id"], "lost")
    note = dispute_note(stack, request_id)
    assert note["open"] and note["status"] == "lost"
    request = requests.get(stack.url(f"/admin/service-requests/{request_id}"), headers=stack.auth("admin"),
                           timeout=60).json()
    assert request["paymentStatus"] == "PAID"  # a dispute is not a refund

    resolved = requests.post(stack.url(f"/admin/service-requests/{request_id}/flags/resolve"),
                             headers=stack.auth("admin"), json={"reason": "loss booked", "notes": ["dispute"]},
                             timeout=60)
    assert resolved.status_code == 200, resolved.text
    assert dispute_note(stack, request_id) is None


def test_a_won_dispute_leaves_the_flagged_list(stack, refund_service, stub):
    request_id, session_id = book_and_pay(stack, email(), 121)
    opened = stub.dispute(session_id)
    assert dispute_note(stack, request_id)["open"]
    stub.close_dispute(opened["object"]["id"], "won")
    assert dispute_note(stack, request_id) is None


def test_reconciliation_finds_a_dispute_whose_webhooks_never_arrived(stack, refund_service, stub):
    request_id, session_id = book_and_pay(stack, email(), 122)
    opened = stub.dispute(session_id, deliver=False)
    assert opened["deliveries"] == []
    assert dispute_note(stack, request_id) is None
    run = requests.post(stack.url("/admin/jobs/reconcile"), json={}, headers=stack.auth("admin"), timeout=120)
    assert run.status_code == 200, run.text
    note = dispute_note(stack, request_id)
    assert note["open"] and note["disputeId"] == opened["object"]["id"]
