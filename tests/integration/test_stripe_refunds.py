"""The gateway's refunds against the Stripe stub: idempotent per (request, attempt), listed per PaymentIntent,
and the stub's outcomes (succeeded, failed) in Stripe's event shapes."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidState, ValidationFailed
from tests.integration.test_stripe_gateway import (_hold_base, control, create, gateway,  # noqa: F401 - fixtures
                                                   receiver, stub_url)


def paid_intent(gateway, control, request_id: str = "sr-r") -> str:
    session = create(gateway, request_id)
    control.pay(session["id"])
    return gateway.retrieve_session(session["id"])["payment_intent"]


def test_same_attempt_returns_the_same_refund_and_never_refunds_twice(gateway, control):
    intent = paid_intent(gateway, control)
    first = gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=5000, attempt=1)
    again = gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=5000, attempt=1)

    assert again["id"] == first["id"] and first["status"] == "pending"
    assert first["metadata"] == {"serviceRequestId": "sr-r", "refundAttempt": "1"}
    assert [r["id"] for r in gateway.list_refunds(intent)] == [first["id"]]
    assert gateway.list_refunds(intent)[0]["status"] == "succeeded"


def test_same_attempt_with_another_amount_is_refused_not_refunded(gateway, control):
    intent = paid_intent(gateway, control)
    gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=5000, attempt=1)
    with pytest.raises(InvalidState):
        gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=6000, attempt=1)
    assert len(gateway.list_refunds(intent)) == 1


def test_more_than_what_is_left_is_a_validation_error(gateway, control):
    intent = paid_intent(gateway, control)
    gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=10000, attempt=1)
    with pytest.raises(ValidationFailed):
        gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=5000, attempt=2)


def test_a_failed_refund_emits_refund_updated_and_refund_failed_and_leaves_the_charge(gateway, control, receiver):
    intent = paid_intent(gateway, control)
    control.configure(refund_outcome="failed")
    refund = gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=5000, attempt=1)
    control.flush()

    events = receiver.events(gateway)
    assert [e["type"] for e in events][-2:] == ["refund.updated", "refund.failed"]
    assert "charge.refunded" not in [e["type"] for e in events]
    assert events[-1]["data"]["object"]["id"] == refund["id"]
    assert gateway.list_refunds(intent)[0]["status"] == "failed"
