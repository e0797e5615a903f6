"""The gateway's refunds against the Stripe stub: idempotent per (request, attempt), listed per PaymentIntent,
the stub's outcomes (succeeded, failed) in Stripe's event shapes, and Stripe's refusals (400
invalid_request_error) translated to RefundRefused with Stripe's code, while transient failures stay
PaymentProviderUnavailable."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import PaymentProviderUnavailable, RefundRefused
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
    with pytest.raises(RefundRefused) as refused:
        gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=6000, attempt=1)
    assert refused.value.details["providerType"] == "idempotency_error"
    assert len(gateway.list_refunds(intent)) == 1


@pytest.mark.parametrize("first, second, code", [(12500, 5000, "charge_already_refunded"),
                                                 (10000, 5000, "amount_too_large")])
def test_stripe_refusing_a_refund_is_a_refusal_with_stripes_code(gateway, control, first, second, code):
    intent = paid_intent(gateway, control)
    gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=first, attempt=1)
    with pytest.raises(RefundRefused) as refused:
        gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=second, attempt=2)
    details = refused.value.details
    assert (details["providerCode"], details["providerType"], details["providerStatus"]) == (
        code, "invalid_request_error", 400)
    assert details["providerMessage"] and len(gateway.list_refunds(intent)) == 1


def test_a_disputed_charge_refuses_refunds(gateway, control):
    session = create(gateway, "sr-d")
    control.pay(session["id"])
    control.dispute(session["id"])
    intent = gateway.retrieve_session(session["id"])["payment_intent"]
    with pytest.raises(RefundRefused) as refused:
        gateway.create_refund(request_id="sr-d", payment_intent=intent, amount=100, attempt=1)
    assert refused.value.details["providerCode"] == "charge_disputed"
    assert gateway.list_refunds(intent) == []


def test_a_server_error_is_transient_not_a_refusal(gateway, control):
    intent = paid_intent(gateway, control)
    control.faults(fail_next=1, fail_status=500, path_prefix="/v1/refunds")
    with pytest.raises(PaymentProviderUnavailable):
        gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=100, attempt=1)
    assert gateway.create_refund(request_id="sr-r", payment_intent=intent, amount=100, attempt=1)["amount"] == 100


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
