"""Disputes as Stripe sends them (charge.dispute.*, the Dispute with empty metadata), matched by PaymentIntent:
the request is flagged for an admin with the evidence due date, stays flagged when the dispute is lost, leaves the
flagged list when it is won; reversed and duplicated deliveries, and a dispute that arrives before the checkout's
completion (parked, applied after), end the same. The payment state is untouched."""
from __future__ import annotations

import pytest

from chalicelib.domain.booking import PaymentStatus, Status
from tests.integration.payments_support import (auth, body_of, book, deliver, gateway, pay_api,  # noqa: F401
                                                pay_catalog, stored, stub, users)
from tests.integration.test_refund_webhooks import SECRET, outcome, paid_booking


def disputed(stub, session_id: str) -> tuple[str, list[str]]:
    """The bank disputes the charge: (dispute id, [created, funds_withdrawn] event ids), not delivered."""
    dispute, events = stub.dispute_session(session_id)
    assert [stub.events[e]["type"] for e in events] == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    assert stub.events[events[0]]["data"]["object"]["metadata"] == {}
    return dispute["id"], events


def closed(stub, dispute_id: str, result: str) -> list[str]:
    _, events = stub.close_dispute(dispute_id, result)
    return events


def dispute_notes(request_id: str) -> list:
    return [n for n in stored(request_id).payment.reconciliation_notes if n.kind == "dispute"]


def flagged_ids(pay_api, users) -> set[str]:
    response = pay_api.http.get("/admin/reconciliation/flagged", headers=auth(users["admin"]))
    assert response.status_code == 200, response.body
    return {item["id"] for item in body_of(response)["items"]}


def test_a_dispute_flags_the_paid_request_until_the_bank_decides(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "d1", 8)
    assert outcome(pay_api, stub, completed) == "changed"
    dispute_id, opened = disputed(stub, session_id)
    assert [outcome(pay_api, stub, e) for e in opened] == ["changed", "unchanged"]

    [note] = dispute_notes(request_id)
    assert note.is_open and note.details["disputeId"] == dispute_id and note.details["amount"] == 10000
    assert note.details["status"] == "needs_response" and note.details["dueBy"]
    assert request_id in flagged_ids(pay_api, users)
    response = pay_api.http.get(f"/admin/service-requests/{request_id}", headers=auth(users["admin"]))
    shown = [n for n in body_of(response)["reconciliationNotes"] if n["kind"] == "dispute"]
    assert shown[0]["open"] is True and shown[0]["dueBy"] == note.details["dueBy"]

    [lost] = closed(stub, dispute_id, "lost")
    assert outcome(pay_api, stub, lost) == "changed"
    [note] = dispute_notes(request_id)
    assert note.details["status"] == "lost" and note.is_open
    assert request_id in flagged_ids(pay_api, users)
    request = stored(request_id)
    assert (request.status, request.payment_status) == (Status.CONFIRMED, PaymentStatus.PAID)


def test_a_won_dispute_leaves_the_flagged_list(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "d2", 9)
    outcome(pay_api, stub, completed)
    dispute_id, opened = disputed(stub, session_id)
    for event_id in opened:
        outcome(pay_api, stub, event_id)
    reinstated, won = closed(stub, dispute_id, "won")
    assert stub.events[reinstated]["type"] == "charge.dispute.funds_reinstated"
    # Both carry the Dispute as won: the first to arrive settles it, the other is no news.
    assert [outcome(pay_api, stub, reinstated), outcome(pay_api, stub, won)] == ["changed", "unchanged"]
    [note] = dispute_notes(request_id)
    assert note.details["status"] == "won" and not note.is_open and note.resolved_by == "stripe"
    assert request_id not in flagged_ids(pay_api, users)


@pytest.mark.parametrize("result", ["won", "lost"])
def test_reversed_and_duplicated_deliveries_end_the_same(pay_api, users, stub, result):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, f"r{result}", 10)
    outcome(pay_api, stub, completed)
    dispute_id, opened = disputed(stub, session_id)
    events = opened + closed(stub, dispute_id, result)
    for event_id in events[::-1] + events:  # newest first, then each again (second time: "duplicate")
        outcome(pay_api, stub, event_id)
    for event_id in events:  # Stripe's redelivery of the same event is recognised by its id
        assert outcome(pay_api, stub, event_id) == "duplicate"
    [note] = dispute_notes(request_id)
    assert (note.details["status"], note.is_open) == (result, result == "lost")


def test_a_dispute_before_the_completion_is_parked_then_applied(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "p2", 11)
    _, opened = disputed(stub, session_id)
    assert outcome(pay_api, stub, opened[0]) == "parked"
    assert dispute_notes(request_id) == []
    assert outcome(pay_api, stub, completed) == "changed"
    [note] = dispute_notes(request_id)
    assert note.is_open and stored(request_id).payment_status is PaymentStatus.PAID


def test_a_dispute_with_a_bad_signature_changes_nothing(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "s1", 12)
    outcome(pay_api, stub, completed)
    _, opened = disputed(stub, session_id)
    response = deliver(pay_api, stub.events[opened[0]], "whsec_wrong")
    assert response.status_code == 400, response.body
    assert body_of(response)["error"]["code"] == "SIGNATURE_INVALID"
    assert dispute_notes(request_id) == []
