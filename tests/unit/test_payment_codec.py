"""The stored `payment` map <-> the Payment value: documents written before Payment existed load, and are written
back with the same keys and values (unknown keys included)."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

from chalicelib.domain import codec
from chalicelib.domain.payment import CheckoutError, Payment, ReconciliationNote, RefundRecord, session_is_paid

AT = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=timezone.utc)

# What the dict-based code stored for a card payment that was flagged, then paid, then partly refunded.
OLD_CARD = {
    "sessionId": "cs_2", "checkoutUrl": "https://pay/cs_2", "amount": 5000, "currency": "USD", "attempt": 2,
    "sessionCreatedAt": "2026-11-24T12:00:00.123456Z", "awaitingSettlement": False,
    "paidAt": "2026-11-24T12:05:00Z", "paidSessionId": "cs_2", "paymentIntentId": "pi_1", "lastEventId": "evt_9",
    "amountRefunded": 1000,
    "reconciliationNotes": [
        {"kind": "amount_mismatch", "sessionId": "cs_1", "at": "2026-11-24T11:00:00Z",
         "expected": {"amount": 5000, "currency": "USD"}, "received": {"amount": 1, "currency": "USD"},
         "eventId": None},
        {"kind": "paid_not_in_stripe", "sessionId": None, "at": "2026-11-25T01:00:00Z", "stripeStatus": "missing"},
    ],
}
OLD_FAILED_CHECKOUT = {"attempt": 1, "error": {"code": "PAYMENT_PROVIDER_UNAVAILABLE", "message": "down",
                                               "at": "2026-11-24T12:00:00Z", "attempt": 1}}
OLD_COD = {"collectedAt": "2026-11-24T12:00:00Z", "collectedBy": "user:admin-1"}


def test_old_documents_round_trip_unchanged():
    for doc in (OLD_CARD, OLD_FAILED_CHECKOUT, OLD_COD, {}):
        payment = codec.payment_from_doc(doc)
        assert codec.payment_to_doc(payment) == doc
        assert json.dumps(codec.payment_to_doc(payment), sort_keys=True) == json.dumps(doc, sort_keys=True)


def test_old_documents_load_as_typed_values():
    card = codec.payment_from_doc(OLD_CARD)
    assert (card.session_id, card.attempt, card.awaiting_settlement) == ("cs_2", 2, False)
    assert card.paid_at == datetime(2026, 11, 24, 12, 5, tzinfo=timezone.utc)
    assert [n.kind for n in card.reconciliation_notes] == ["amount_mismatch", "paid_not_in_stripe"]
    assert card.reconciliation_notes[0].details["received"] == {"amount": 1, "currency": "USD"}
    failed = codec.payment_from_doc(OLD_FAILED_CHECKOUT)
    assert failed.error == CheckoutError("PAYMENT_PROVIDER_UNAVAILABLE", "down",
                                         datetime(2026, 11, 24, 12, tzinfo=timezone.utc), 1)
    assert failed.session_id is None and failed.reconciliation_notes == ()
    assert codec.payment_from_doc(None) == Payment() == codec.payment_from_doc({})


def test_unknown_keys_are_kept_and_missing_keys_stay_missing():
    doc = {"sessionId": "cs_1", "refundReason": "duplicate", "legacy": {"nested": [1, 2]}}
    payment = codec.payment_from_doc(doc)
    assert payment.extra == {"refundReason": "duplicate", "legacy": {"nested": [1, 2]}}
    changed = payment.with_changes(attempt=3)
    assert codec.payment_to_doc(changed) == {"sessionId": "cs_1", "attempt": 3, "refundReason": "duplicate",
                                             "legacy": {"nested": [1, 2]}}


def test_a_stored_null_reads_as_not_set():
    assert codec.payment_from_doc({"paymentIntentId": None, "sessionId": "cs_1"}) == Payment(session_id="cs_1")


def test_every_field_survives_a_round_trip():
    """A field added to Payment without its key in the codec fails here."""
    full = Payment(session_id="cs", checkout_url="u", amount=1, currency="EUR", attempt=3, session_created_at=AT,
                   awaiting_settlement=True, paid_at=AT, paid_session_id="cs", payment_intent_id="pi",
                   last_event_id="evt", amount_refunded=1, refunded_at=AT, collected_at=AT, collected_by="me",
                   error=CheckoutError("X", "m", AT, 3),
                   reconciliation_notes=(ReconciliationNote("k", "cs", AT, {"status": "EXPIRED"}),),
                   charge_id="ch", refunds=(RefundRecord("re", 5, "pending", "requested_by_customer", 1),),
                   refund_attempts=2, session_total=3, extra={"other": 1})
    assert all(getattr(full, f.name) not in (None, ()) for f in dataclasses.fields(Payment))
    doc = codec.payment_to_doc(full)
    assert codec.payment_from_doc(json.loads(json.dumps(doc))) == full
    assert set(doc) == set(codec.PAYMENT_KEYS) | {"other"}


def test_the_request_document_carries_the_payment_map():
    from tests.unit.test_payments_transitions import card_request

    request = card_request().with_changes(payment=codec.payment_from_doc(OLD_CARD))
    doc = codec.request_to_doc(request)
    assert doc["payment"] == OLD_CARD
    assert codec.request_from_doc(json.loads(json.dumps(doc))).payment == request.payment


def test_paid_sessions():
    assert session_is_paid({"payment_status": "paid"}) and session_is_paid({"payment_status": "no_payment_required"})
    assert not session_is_paid({"payment_status": "unpaid", "status": "complete"}) and not session_is_paid({})
