"""Webhook signature verification: StripeGateway.construct_event over the raw body (stripe SDK, 300 s tolerance).

Signatures are computed here with hmac directly (Stripe's documented scheme), not with the SDK's helper, so the
test also pins the wire format the app accepts.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from chalicelib.adapters.stripe_gateway import StripeGateway
from chalicelib.api.errors import status_for
from chalicelib.domain.errors import SignatureInvalid
from devtools.stripe_stub import sign_payload

SECRET = "whsec_unit_signature_secret"

EVENT = {
    "id": "evt_1TestSignature", "object": "event", "api_version": "2026-10-28.endive", "created": 1_790_000_000,
    "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
    "type": "checkout.session.completed",
    "data": {"object": {"id": "cs_test_abc", "object": "checkout.session", "amount_total": 12500,
                        "currency": "usd", "payment_status": "paid", "status": "complete",
                        "client_reference_id": "sr-1", "metadata": {"serviceRequestId": "sr-1"},
                        "line_items": None, "custom_fields": []}},
}
BODY = json.dumps(EVENT, indent=2).encode("utf-8")


def signature(body: bytes, secret: str = SECRET, timestamp: int | None = None, scheme: str = "v1") -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), str(ts).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"t={ts},{scheme}={mac}"


@pytest.fixture
def gateway() -> StripeGateway:
    return StripeGateway("sk_test_unit", SECRET)  # builds a client; no network I/O


def test_valid_signature_returns_the_event_as_plain_dicts(gateway):
    event = gateway.construct_event(BODY, signature(BODY))

    assert event == EVENT
    assert type(event) is dict and type(event["data"]["object"]) is dict  # no SDK objects leak out
    assert type(event["data"]["object"]["metadata"]) is dict


def test_tampered_body_is_rejected(gateway):
    header = signature(BODY)
    tampered = BODY.replace(b'"amount_total": 12500', b'"amount_total": 1')
    assert tampered != BODY

    with pytest.raises(SignatureInvalid):
        gateway.construct_event(tampered, header)


def test_signature_made_with_another_secret_is_rejected(gateway):
    with pytest.raises(SignatureInvalid):
        gateway.construct_event(BODY, signature(BODY, secret="whsec_someone_else"))


def test_timestamp_ten_minutes_old_is_rejected_even_with_a_correct_signature(gateway):
    old = int(time.time()) - 600

    with pytest.raises(SignatureInvalid) as caught:
        gateway.construct_event(BODY, signature(BODY, timestamp=old))
    assert "tolerance" in caught.value.details["reason"]


def test_timestamp_within_the_tolerance_is_accepted(gateway):
    four_minutes_ago = int(time.time()) - 240

    assert gateway.construct_event(BODY, signature(BODY, timestamp=four_minutes_ago))["id"] == EVENT["id"]


def test_one_valid_signature_among_several_is_accepted(gateway):
    """During secret rotation Stripe sends one v1 per active secret."""
    ts = int(time.time())
    other = signature(BODY, secret="whsec_old_secret", timestamp=ts).split(",")[1]
    header = f"{signature(BODY, timestamp=ts)},{other}"

    assert gateway.construct_event(BODY, header)["id"] == EVENT["id"]


@pytest.mark.parametrize("header", [
    None,
    "",
    "garbage",
    "t=notanumber,v1=abc",
    "v1=" + "0" * 64,  # no timestamp
])
def test_missing_or_malformed_header_is_rejected(gateway, header):
    with pytest.raises(SignatureInvalid):
        gateway.construct_event(BODY, header)


def test_signature_under_another_scheme_is_rejected(gateway):
    with pytest.raises(SignatureInvalid):
        gateway.construct_event(BODY, signature(BODY, scheme="v0"))


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe binary", json.dumps({"object": "list"}).encode()])
def test_correctly_signed_body_that_is_not_an_event_is_rejected(gateway, body):
    with pytest.raises(SignatureInvalid):
        gateway.construct_event(body, signature(body))


def test_signature_invalid_is_a_400():
    assert status_for(SignatureInvalid()) == 400


def test_local_stub_signs_what_the_gateway_accepts(gateway):
    """The stub's webhook signer and the SDK's verifier agree (the local stack depends on it)."""
    header = sign_payload(BODY.decode("utf-8"), SECRET, int(time.time()))

    assert gateway.construct_event(BODY, header) == EVENT
    with pytest.raises(SignatureInvalid):
        gateway.construct_event(BODY, sign_payload(BODY.decode("utf-8"), "whsec_other", int(time.time())))
