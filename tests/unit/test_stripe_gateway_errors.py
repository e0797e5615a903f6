"""StripeGateway: stripe errors become DomainErrors once; invalid input is refused before any API call."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import stripe

from chalicelib.adapters.stripe_errors import translate_error
from chalicelib.adapters.stripe_gateway import StripeGateway, idempotency_key_for
from chalicelib.api.errors import status_for
from chalicelib.domain.errors import InvalidState, NotFound, PaymentProviderUnavailable, RefundRefused, ValidationFailed


@pytest.mark.parametrize("error, expected, status", [
    (stripe.APIConnectionError("connection refused"), PaymentProviderUnavailable, 503),
    (stripe.APIError("boom", http_status=500), PaymentProviderUnavailable, 503),
    (stripe.APIError("lock timeout", http_status=409), PaymentProviderUnavailable, 503),
    (stripe.RateLimitError("slow down", http_status=429), PaymentProviderUnavailable, 503),
    (stripe.AuthenticationError("bad key", http_status=401), PaymentProviderUnavailable, 503),
    (stripe.PermissionError("restricted key", http_status=403), PaymentProviderUnavailable, 503),
    (stripe.InvalidRequestError("No such checkout.session", "session", code="resource_missing", http_status=404),
     NotFound, 404),
    (stripe.InvalidRequestError("Invalid currency", "currency", code="parameter_invalid_string", http_status=400),
     ValidationFailed, 400),
    (stripe.IdempotencyError("Keys can only be used with the same parameters", http_status=400), InvalidState, 409),
])
def test_stripe_errors_translate_to_domain_errors(error, expected, status):
    translated = translate_error(stripe, error)

    assert type(translated) is expected
    assert status_for(translated) == status
    assert translated.details["provider"] == "stripe"


def _refused_body(code: str) -> dict:
    return {"error": {"type": "invalid_request_error", "code": code, "message": "Charge ch_1 was refunded."}}


@pytest.mark.parametrize("error", [
    stripe.InvalidRequestError("Charge ch_1 has already been refunded.", None, code="charge_already_refunded",
                               http_status=400, json_body=_refused_body("charge_already_refunded")),
    stripe.InvalidRequestError("Charge ch_1 has been charged back", None, code="charge_disputed", http_status=400),
    stripe.InvalidRequestError("Refund amount is greater than unrefunded amount", "amount", code="amount_too_large",
                               http_status=400),
    stripe.InvalidRequestError("No such payment_intent: 'pi_x'", "payment_intent", code="resource_missing",
                               http_status=404),
    stripe.IdempotencyError("Keys can only be used with the same parameters", http_status=400),
    stripe.CardError("Your card was declined.", None, "card_declined", http_status=402),
])
def test_what_stripe_refuses_becomes_the_operations_refusal_with_stripes_reason(error):
    refused = translate_error(stripe, error, RefundRefused)
    assert type(refused) is RefundRefused and not refused.transient and status_for(refused) == 409
    assert refused.details["providerCode"] == error.code and refused.details["providerStatus"] == error.http_status
    assert refused.details["providerMessage"] == str(error.user_message)
    assert type(translate_error(stripe, error)) is not RefundRefused  # other operations keep their translation


def test_a_refusal_keeps_stripes_error_type():
    error = stripe.InvalidRequestError("already refunded", None, code="charge_already_refunded", http_status=400,
                                       json_body=_refused_body("charge_already_refunded"))
    assert translate_error(stripe, error, RefundRefused).details["providerType"] == "invalid_request_error"


@pytest.mark.parametrize("error", [
    stripe.APIConnectionError("connection reset"),
    stripe.APIError("boom", http_status=500),
    stripe.APIError("lock timeout", http_status=409),
    stripe.RateLimitError("slow down", http_status=429),
    stripe.RateLimitError("slow down", http_status=400, code="rate_limit"),
    stripe.AuthenticationError("bad key", http_status=401),
])
def test_what_retrying_may_fix_is_never_a_refusal(error):
    translated = translate_error(stripe, error, RefundRefused)
    assert type(translated) is PaymentProviderUnavailable and translated.transient


def test_transient_failures_carry_retry_after_and_honour_stripes_header():
    assert translate_error(stripe, stripe.APIConnectionError("timeout")).retry_after >= 1
    limited = stripe.RateLimitError("slow down", http_status=429, headers={"Retry-After": "7"})
    assert translate_error(stripe, limited).retry_after == 7


@pytest.fixture
def gateway() -> StripeGateway:
    # An address nothing listens on: if validation let a call through, it would fail differently.
    return StripeGateway("sk_test_unit", "whsec_unit", api_base="http://127.0.0.1:9", max_network_retries=0)


def later(minutes: int) -> int:
    return int(time.time()) + minutes * 60


@pytest.mark.parametrize("overrides", [
    {"amount": 0},
    {"amount": -100},
    {"amount": 10.5},
    {"amount": True},
    {"currency": "US"},
    {"currency": "U$D"},
    {"expires_at": later(29)},  # Stripe's minimum is 30 minutes
    {"expires_at": datetime(2030, 1, 1, 12, 0)},  # naive datetime: ambiguous instant
    {"attempt": 0},
])
def test_invalid_checkout_input_is_refused_without_calling_stripe(gateway, overrides):
    args = {"request_id": "sr-1", "amount": 5000, "currency": "USD", "description": "Deep clean",
            "expires_at": later(45), **overrides}

    with pytest.raises(ValidationFailed):
        gateway.create_checkout_session(**args)
    assert gateway.calls == 0


def test_unreachable_stripe_is_provider_unavailable_not_a_crash(gateway):
    with pytest.raises(PaymentProviderUnavailable) as caught:
        gateway.create_checkout_session(request_id="sr-1", amount=5000, currency="usd", description="Deep clean",
                                        expires_at=datetime.now(timezone.utc) + timedelta(minutes=45))
    assert caught.value.retry_after and gateway.calls == 1


def test_idempotency_key_is_per_request_and_attempt():
    assert idempotency_key_for("sr-1", 1) == idempotency_key_for("sr-1", 1)
    assert len({idempotency_key_for("sr-1", 1), idempotency_key_for("sr-1", 2),
                idempotency_key_for("sr-2", 1)}) == 3
