"""Refund events as Stripe sends them (charges with empty metadata; a dashboard refund with none either), matched
by PaymentIntent, in every order, duplicated, and before the checkout's completion (parked, applied after)."""
from __future__ import annotations

import itertools

import pytest

from chalicelib.domain.booking import PaymentStatus, Status
from tests.integration.payments_support import (body_of, book, deliver, gateway, pay_api, pay_catalog,  # noqa: F401
                                                stored, stub, users)

SECRET = "whsec_test"


def paid_booking(pay_api, users, stub, key: str, hour: int) -> tuple[str, str, str]:
    """(request id, session id, completion event id): paid at the stub, the completion not delivered yet."""
    created = body_of(book(pay_api, users["a"], key, hour))
    session_id = stored(created["id"]).payment.session_id
    _, [completed] = stub.pay(session_id, "paid")
    return created["id"], session_id, completed


def dashboard_refund(stub, session_id: str, amount: int | None) -> list[str]:
    """A refund made in Stripe's dashboard: no metadata anywhere. Events: charge.refunded, refund.updated."""
    _, events = stub.refund_session(session_id, amount)
    assert [stub.events[e]["type"] for e in events] == ["charge.refunded", "refund.updated"]
    assert stub.events[events[0]]["data"]["object"]["metadata"] == {}
    assert stub.events[events[1]]["data"]["object"]["metadata"] == {}
    return events


def outcome(pay_api, stub, event_id: str) -> str:
    response = deliver(pay_api, stub.events[event_id], SECRET)
    assert response.status_code == 200, response.body
    return body_of(response)["outcome"]


@pytest.mark.parametrize("amount,final,refunded", [(4000, PaymentStatus.PARTIALLY_REFUNDED, 4000),
                                                    (None, PaymentStatus.REFUNDED, 10000)])
def test_every_order_duplicated_reaches_the_same_state(pay_api, users, stub, amount, final, refunded):
    for n, order in enumerate(itertools.permutations(range(3))):
        request_id, session_id, completed = paid_booking(pay_api, users, stub, f"o{amount}{n}", 8 + n)
        events = [completed, *dashboard_refund(stub, session_id, amount)]
        for i in order + order[::-1]:  # each event twice, the second round reversed
            outcome(pay_api, stub, events[i])
        request = stored(request_id)
        assert (request.status, request.payment_status) == (Status.CONFIRMED, final), order
        assert request.payment.amount_refunded == refunded
        assert [(r.amount, r.status) for r in request.payment.refunds] == [(refunded, "succeeded")]


def test_refund_before_completion_is_parked_then_applied(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "p1", 9)
    charge_refunded, refund_updated = dashboard_refund(stub, session_id, 2500)

    assert outcome(pay_api, stub, charge_refunded) == "parked"
    assert outcome(pay_api, stub, refund_updated) == "parked"
    assert stored(request_id).payment_status is PaymentStatus.PENDING  # nothing known yet

    assert outcome(pay_api, stub, completed) == "changed"
    request = stored(request_id)
    assert request.payment_status is PaymentStatus.PARTIALLY_REFUNDED and request.payment.amount_refunded == 2500
    pi = stub.get_session(session_id)["payment_intent"]
    from chalicelib.adapters.dynamodb.payments_repository import DynamoPaymentStore
    assert DynamoPaymentStore().parked_events(pi) == []  # applied, not kept to be applied twice
    assert outcome(pay_api, stub, charge_refunded) == "duplicate"


def test_charge_of_an_unknown_payment_intent_is_parked_and_changes_nothing(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "u1", 10)
    outcome(pay_api, stub, completed)
    event = dict(stub.events[dashboard_refund(stub, session_id, None)[0]])
    event["id"] = "evt_other"
    event["data"] = {"object": {**event["data"]["object"], "payment_intent": "pi_someone_else"}}
    response = deliver(pay_api, event, SECRET)
    assert body_of(response)["outcome"] == "parked"
    assert stored(request_id).payment_status is PaymentStatus.PAID


def test_a_failed_refund_is_flagged_for_an_admin(pay_api, users, stub):
    request_id, session_id, completed = paid_booking(pay_api, users, stub, "f1", 11)
    outcome(pay_api, stub, completed)
    stub.configure({"refund_outcome": "failed"})
    _, events = stub.refund_session(session_id, 3000)
    assert [stub.events[e]["type"] for e in events] == ["refund.updated", "refund.failed"]
    for event_id in events[::-1]:
        outcome(pay_api, stub, event_id)
    request = stored(request_id)
    assert request.payment_status is PaymentStatus.PAID
    [note] = request.payment.reconciliation_notes
    assert note.kind == "refund_failed" and note.details["amount"] == 3000
