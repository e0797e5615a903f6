"""Disputes as Stripe sends them (charge.dispute.*, the Dispute with empty metadata), matched by PaymentIntent:
the request is flagged for an admin with the evidence due date, stays flagged when the dispute is lost, leaves the
flagged list when it is won; reversed and duplicated deliveries, and a dispute that arrives before the checkout's
completion (parked, applied after), end the same. The payment state is untouched."""
from __future__ import annotations

import json

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


def resolve(pay_api, users, request_id: str, body: dict):
    return pay_api.http.post(f"/admin/service-requests/{request_id}/flags/resolve", body=json.dumps(body),
                             headers={**auth(users["admin"]), "Content-Type": "application/json"})


def test_an_admin_resolves_one_of_two_notes_of_a_kind_by_its_id(pay_api, users, stub):
    """A charge has one dispute at most, but a payment may have several failed refunds: one is settled by id."""
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "two", 13)
    outcome(pay_api, stub, completed)
    stub.configure({"refund_outcome": "failed"})
    refunds = []
    for amount in (1000, 2000):
        refund, events = stub.refund_session(session_id, amount)
        refunds.append(refund["id"])
        for event_id in events:
            outcome(pay_api, stub, event_id)
    shown = body_of(pay_api.http.get(f"/admin/service-requests/{request_id}",
                                     headers=auth(users["admin"])))["reconciliationNotes"]
    assert sorted(n["id"] for n in shown) == sorted(f"refund_failed:{r}" for r in refunds)

    for bad in ({"reason": "x", "ids": []}, {"reason": "x", "ids": ["no colon"]}, {"reason": "x", "ids": "refund_failed:a"},
                {"reason": "x", "ids": ["refund_failed:" + "a" * 400]}):
        answer = resolve(pay_api, users, request_id, bad)
        assert answer.status_code == 400, (bad, answer.body)
    answer = resolve(pay_api, users, request_id, {"reason": "paid back by bank transfer",
                                                  "ids": [f"refund_failed:{refunds[0]}"]})
    assert answer.status_code == 200, answer.body
    notes = stored(request_id).payment.reconciliation_notes
    assert {n.details["refundId"]: n.is_open for n in notes} == {refunds[0]: False, refunds[1]: True}
    assert request_id in flagged_ids(pay_api, users)  # the other one still needs settling

    again = resolve(pay_api, users, request_id, {"reason": "again", "ids": [f"refund_failed:{refunds[0]}"]})
    assert again.status_code == 409 and body_of(again)["error"]["code"] == "NOTHING_TO_RESOLVE"
    assert body_of(again)["error"]["details"]["openIds"] == [f"refund_failed:{refunds[1]}"]


def test_the_stub_disputes_a_charge_once_as_stripe_does(pay_api, users, stub):
    from devtools.stripe_stub.errors import ApiError
    _, session_id, _ = paid_booking(pay_api, users, stub, "once", 14)
    disputed(stub, session_id)
    with pytest.raises(ApiError) as refused:
        stub.dispute_session(session_id)
    assert refused.value.status == 400 and refused.value.code == "charge_already_disputed"
