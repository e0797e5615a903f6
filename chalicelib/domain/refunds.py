"""Refunds of a card payment: what Stripe reported about them, and the payment state that follows.

The state is derived from facts, never stepped: the charge's `amount_refunded` (the highest reported, so an
older snapshot arriving late changes nothing) and each Refund by id with its last status (a terminal status is
never overwritten by `pending`). Whatever order `charge.refunded`, `refund.updated` and `refund.failed` arrive
in, and however often, the same facts give the same state:
REFUNDED when everything paid came back; REFUND_PENDING while a refund asked for is not confirmed;
PARTIALLY_REFUNDED when part came back; PAID otherwise. A failed refund is flagged for an admin, and so is one
Stripe refused to create (recorded failed, never sent again: an admin's retry is a new attempt).

A shared payment (one Checkout Session for a card series, `Payment.shared`) has one PaymentIntent and one charge
for every occurrence, so the charge's `amount_refunded` says nothing about one occurrence: only refunds attributed
to the request count (its id in the refund's metadata, as every refund this app sends carries, or a refund id it
recorded). A refund of the shared PaymentIntent attributed to no occurrence (made in Stripe's dashboard) changes
no occurrence's state: it is flagged (`unattributed_refund`) for an admin, on the occurrence the service routes
it to (services/payments/shared.py).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping

from chalicelib.domain.booking import PAYMENT_ALLOWED_FROM, STATUS_ALLOWED_FROM, PaymentStatus, ServiceRequest, Status
from chalicelib.domain.errors import InvalidState
from chalicelib.domain.payment import Change, Decide, Payment, ReconciliationNote, RefundRecord, amount_due

P, S = PaymentStatus, Status
REFUND_STATES = frozenset({P.PAID, P.REFUND_PENDING, P.PARTIALLY_REFUNDED, P.REFUNDED})
FAILED_STATES = frozenset({"failed", "canceled"})
# "requested": decided here, not yet confirmed created by Stripe; it counts as on its way.
TERMINAL_STATES = FAILED_STATES | {"succeeded"}


def paid_amount(request: ServiceRequest) -> int:
    """What the customer paid by card (the session's amount; the quote when no session amount was kept)."""
    return request.payment.amount if request.payment.amount is not None else amount_due(request)[0]


def refundable(request: ServiceRequest) -> int:
    """What can still be refunded: paid minus what came back or is on its way."""
    if request.payment_status not in REFUND_STATES:
        return 0
    return max(0, paid_amount(request) - max(_expected(request.payment), request.payment.amount_refunded or 0))


def _expected(payment: Payment) -> int:
    return sum(r.amount for r in payment.refunds if r.status not in FAILED_STATES)


def refunded_amount(payment: Payment) -> int:
    """What came back to the customer as far as Stripe told us (the amount a "refund issued" message states)."""
    succeeded = sum(r.amount for r in payment.refunds if r.status == "succeeded")
    # After a failure the charge's snapshot may still count the failed amount: trust confirmed refunds only.
    # A refund Stripe refused to create (no id) never reached the charge, so it casts no such doubt.
    failed = any(r.status in FAILED_STATES and r.id for r in payment.refunds)
    return succeeded if failed else max(succeeded, payment.amount_refunded or 0)


def derived_status(payment: Payment, paid: int) -> PaymentStatus:
    refunded = refunded_amount(payment)
    if paid > 0 and refunded >= paid:
        return P.REFUNDED
    if refunded < _expected(payment):
        return P.REFUND_PENDING
    return P.PARTIALLY_REFUNDED if refunded > 0 else P.PAID


def with_refund(payment: Payment, refund: Mapping[str, Any], request_id: str | None = None) -> Payment:
    """`payment` knowing `refund` (a Stripe Refund) at its reported status. A refund this app asked for is
    recognised by the attempt in its metadata even before its id was recorded (only when the metadata names
    `request_id` or no request: attempt numbers are per request, and a series' occurrences share a PaymentIntent)."""
    rid = str(refund.get("id") or "")
    status = str(refund.get("status") or "pending")
    named = named_request(refund)
    attempt = _attempt_of(refund) if named is None or named == request_id else None
    old = next((r for r in payment.refunds if r.id == rid or (attempt is not None and r.attempt == attempt)), None)
    if old is not None and old.id == rid and (
            old.status == status or (old.status in TERMINAL_STATES and status not in FAILED_STATES)):
        return payment
    if old is not None and old.status in TERMINAL_STATES and status not in TERMINAL_STATES:
        status = old.status  # the id is news, the status is older than what an event told already
    record = RefundRecord(rid, int(refund.get("amount") or 0), status,
                          refund.get("reason") or (old.reason if old else None), old.attempt if old else attempt)
    others = tuple(r for r in payment.refunds if r is not old)
    return replace(payment, refunds=others + (record,))


def named_request(refund: Mapping[str, Any]) -> str | None:
    """The service request a refund's metadata names (every refund this app sends carries it)."""
    metadata = refund.get("metadata") if isinstance(refund.get("metadata"), dict) else {}
    value = metadata.get("serviceRequestId")
    return value if isinstance(value, str) and value else None


def attributed_to(payment: Payment, refund: Mapping[str, Any], request_id: str) -> bool:
    """The refund is this request's: its metadata names the request, or the request recorded its id."""
    return named_request(refund) == request_id or any(r.id and r.id == refund.get("id") for r in payment.refunds)


def _attempt_of(refund: Mapping[str, Any]) -> int | None:
    metadata = refund.get("metadata") if isinstance(refund.get("metadata"), dict) else {}
    value = metadata.get("refundAttempt")
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 6 else None


def decide_refund_facts(charge: Mapping[str, Any] | None, refund: Mapping[str, Any] | None, event_id: str | None,
                        now: datetime) -> Decide:
    """charge.refunded (a charge) or refund.updated / refund.failed (a refund). A refund proves the payment, so
    an open payment becomes PAID (and the request CONFIRMED) in the same write."""
    def decide(current: ServiceRequest) -> Change | None:
        if current.payment_status not in REFUND_STATES | PAYMENT_ALLOWED_FROM[P.PAID]:
            return None
        before = current.payment
        payment = before
        status = current.status
        if current.payment_status not in REFUND_STATES:
            payment = payment.with_changes(paid_at=payment.paid_at or now)
            status = S.CONFIRMED if current.status in STATUS_ALLOWED_FROM[S.CONFIRMED] else current.status
        if charge is not None:
            # A shared charge's amount_refunded sums every occurrence's refunds: it is not this request's.
            reported = int(charge.get("amount_refunded") or 0)
            payment = payment.with_changes(
                amount_refunded=payment.amount_refunded if payment.shared else max(reported,
                                                                                   payment.amount_refunded or 0),
                charge_id=payment.charge_id or charge.get("id"),
                payment_intent_id=payment.payment_intent_id or charge.get("payment_intent"))
        if refund is not None and payment.shared and not attributed_to(payment, refund, current.id):
            if named_request(refund) is not None:
                return None  # another occurrence's refund
            payment = _flag_unattributed(payment, refund, now)
        elif refund is not None:
            payment = with_refund(payment, refund, current.id)
            payment = _flag_failure(payment, refund, now) if refund.get("status") in FAILED_STATES else payment
        new_status = derived_status(payment, paid_amount(current))
        if payment == before and new_status is current.payment_status:
            return None
        if new_status is P.REFUNDED and current.payment_status is not P.REFUNDED:
            payment = payment.with_changes(refunded_at=now)
        flagged = len(payment.reconciliation_notes) > len(before.reconciliation_notes)
        action = ("payment.refund_failed" if _newly_failed(before, payment)
                  else "payment.refund_unattributed" if flagged and new_status is current.payment_status
                  else f"payment.{new_status.value.lower()}")
        return Change(current.with_changes(payment_status=new_status, status=status, payment=payment.seen(event_id)),
                      action)
    return decide


def _newly_failed(before: Payment, after: Payment) -> bool:
    return len([r for r in after.refunds if r.status in FAILED_STATES]) > \
        len([r for r in before.refunds if r.status in FAILED_STATES])


def _flag_failure(payment: Payment, refund: Mapping[str, Any], now: datetime) -> Payment:
    """A failed refund is an admin's to settle (the customer did not get the money back): one note per refund."""
    rid = refund.get("id")
    if any(n.kind == "refund_failed" and n.details.get("refundId") == rid for n in payment.reconciliation_notes):
        return payment
    note = ReconciliationNote("refund_failed", payment.paid_session_id or payment.session_id, now, {
        "refundId": rid, "amount": refund.get("amount"), "failureReason": refund.get("failure_reason")})
    return replace(payment, reconciliation_notes=payment.reconciliation_notes + (note,))


def _flag_unattributed(payment: Payment, refund: Mapping[str, Any], now: datetime) -> Payment:
    """A refund of a series' shared PaymentIntent that names no occurrence (made in Stripe's dashboard): which
    occurrence it was for is an admin's call, so no state changes; one note per refund."""
    rid = refund.get("id")
    if any(n.kind == "unattributed_refund" and n.details.get("refundId") == rid
           for n in payment.reconciliation_notes):
        return payment
    note = ReconciliationNote("unattributed_refund", payment.paid_session_id or payment.session_id, now, {
        "refundId": rid, "amount": refund.get("amount"), "status": refund.get("status")})
    return replace(payment, reconciliation_notes=payment.reconciliation_notes + (note,))


def with_requested_refund(request: ServiceRequest, amount: int, reason: str | None) -> ServiceRequest:
    """`request` with a refund of `amount` decided on (recorded as `requested`, the next attempt number, not yet
    sent to Stripe): REFUND_PENDING until Stripe confirms it. Sending it (services/payments/refunds.py) uses the
    recorded attempt as idempotency key, so a crash anywhere between this write and Stripe's answer is retried
    without a second refund."""
    payment = request.payment
    attempt = (payment.refund_attempts or 0) + 1
    payment = payment.with_changes(refund_attempts=attempt,
                                   refunds=payment.refunds + (RefundRecord("", amount, "requested", reason, attempt),))
    return request.with_changes(payment=payment, payment_status=derived_status(payment, paid_amount(request)))


def decide_refund_requested(amount: int, reason: str | None) -> Decide:
    """An admin's refund of `amount` (at most what is refundable; the caller checked, this checks again)."""
    def decide(current: ServiceRequest) -> Change | None:
        if amount <= 0 or amount > refundable(current):
            raise InvalidState("Nothing (or not that much) is left to refund.",
                               {"refundable": refundable(current), "amount": amount})
        return Change(with_requested_refund(current, amount, reason), "payment.refund_requested", reason)
    return decide


def decide_refund_sent(refund: Mapping[str, Any]) -> Decide:
    """Stripe answered the creation of one of this app's refunds: record its id (and status, unless an event
    already told a later one)."""
    def decide(current: ServiceRequest) -> Change | None:
        if named_request(refund) not in (None, current.id):
            return None  # another request's (a series' occurrences share a PaymentIntent)
        payment = with_refund(current.payment, refund, current.id)
        if payment == current.payment:
            return None
        return Change(current.with_changes(payment=payment,
                                           payment_status=derived_status(payment, paid_amount(current))),
                      "payment.refund_sent")
    return decide


def decide_refund_refused(attempt: int, why: Mapping[str, Any], now: datetime) -> Decide:
    """Stripe refused to create refund `attempt` (a 4xx: the charge is already refunded or disputed, the amount is
    more than is left...). Sending it again with the same key can never succeed, so it is recorded `failed` (no
    longer sent by anyone; an admin's new refund is a new attempt, so a new key) and flagged for an admin with
    Stripe's reason (`why`). Nothing to do when that attempt is no longer `requested` (an event or a concurrent
    send told its outcome first)."""
    def decide(current: ServiceRequest) -> Change | None:
        payment = current.payment
        record = next((r for r in payment.refunds if r.attempt == attempt and r.status == "requested"), None)
        if record is None:
            return None
        note = ReconciliationNote("refund_refused", payment.paid_session_id or payment.session_id, now,
                                  {**why, "attempt": attempt, "amount": record.amount})
        payment = replace(payment, refunds=tuple(replace(r, status="failed") if r is record else r
                                                 for r in payment.refunds),
                          reconciliation_notes=payment.reconciliation_notes + (note,))
        return Change(current.with_changes(payment=payment,
                                           payment_status=derived_status(payment, paid_amount(current))),
                      "payment.refund_refused", why.get("providerCode") or why.get("providerMessage"))
    return decide


def unsent(request: ServiceRequest) -> list[RefundRecord]:
    """Refunds decided on here that Stripe has not confirmed creating (to send, or send again: same key)."""
    return [r for r in request.payment.refunds if r.status == "requested" and r.attempt is not None]
