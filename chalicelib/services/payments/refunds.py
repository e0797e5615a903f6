"""Refunds this app sends to Stripe: after a cancel (the amount the terms allow) or an admin's decision.

The refund is decided and recorded first (`requested`, with its attempt number, in the same write as the cancel
or the admin's request, so it is audited), then sent with the idempotency key `refund-<request>-<attempt>`,
then its Stripe id recorded. A crash or a transient Stripe failure (network, 5xx, rate limit) anywhere in between
leaves the record `requested`; the next send (a repeated cancel, the admin route, reconciliation) uses the same key,
so Stripe answers the refund it already made instead of making a second. A refusal (RefundRefused: Stripe answered
4xx, e.g. already refunded in the dashboard, disputed, more than is left) is final for that attempt: it is recorded
failed and flagged for an admin, and nothing sends it again; the admin's refund route opens a new attempt (new key).
Events (charge.refunded, refund.updated) settle the state.
"""
from __future__ import annotations

from typing import Protocol

from chalicelib.domain.booking import PaymentMethod, ServiceRequest
from chalicelib.domain.errors import DomainError, InvalidState, NotFound, RefundRefused
from chalicelib.domain.principal import Principal
from chalicelib.domain.refunds import (REFUND_STATES, decide_refund_refused, decide_refund_requested,
                                      decide_refund_sent, refundable, unsent)
from chalicelib.observability import count, logger
from chalicelib.services.payments.transition import TransitionDeps, apply_transition
from chalicelib.services.ports import PaymentGateway


class RefundGateway(PaymentGateway, Protocol):
    """Stripe with refunds (adapters/stripe_gateway.py)."""

    def create_refund(self, *, request_id: str, payment_intent: str, amount: int, attempt: int,
                      reason: str | None = None) -> dict:
        """Idempotent per (request_id, attempt). Raises RefundRefused (final for this attempt),
        PaymentProviderUnavailable (retry with the same attempt)."""

    def list_refunds(self, payment_intent: str) -> list[dict]:
        """Every Refund of the PaymentIntent. Raises PaymentProviderUnavailable."""


class RefundDeps(TransitionDeps, Protocol):
    stripe: RefundGateway


def send_unsent(deps: RefundDeps, request: ServiceRequest, actor: str) -> ServiceRequest:
    """Send every refund decided on and not yet confirmed created. A transient failure is logged and counted and
    the refund stays `requested` for the next send (the answer still shows REFUND_PENDING); a refusal is recorded
    (`refused`)."""
    for record in unsent(request):
        try:
            intent = request.payment.payment_intent_id or _intent_of_session(deps, request)
            refund = deps.stripe.create_refund(request_id=request.id, payment_intent=intent, amount=record.amount,
                                               attempt=int(record.attempt or 0), reason="requested_by_customer")
        except RefundRefused as exc:
            request = refused(deps, request, int(record.attempt or 0), exc, actor)
            continue
        except DomainError as exc:
            count("RefundSendFailed", code=exc.code)
            logger.warning("refund not sent", extra={"serviceRequestId": request.id, "attempt": record.attempt,
                                                     "error_code": exc.code})
            continue
        applied = apply_transition(deps, request.id, decide_refund_sent(refund), actor)
        request = applied.request or request
        count("RefundSent")
    return request


def refused(deps: RefundDeps, request: ServiceRequest, attempt: int, exc: RefundRefused,
            actor: str) -> ServiceRequest:
    """Record that Stripe refused refund `attempt`: failed, flagged with Stripe's reason, counted (alarmed)."""
    why = {key: exc.details.get(key) for key in ("providerCode", "providerType", "providerStatus", "param",
                                                 "providerMessage") if exc.details.get(key) is not None}
    applied = apply_transition(deps, request.id, decide_refund_refused(attempt, why, deps.clock()), actor)
    if applied.outcome == "changed":
        count("RefundRefused")  # alarmed; the code is in the log and the note, off the alarm's dimensions
        logger.warning("refund refused by Stripe", extra={"serviceRequestId": request.id, "attempt": attempt,
                                                          "stripe_code": why.get("providerCode")})
    return applied.request or request


def _intent_of_session(deps: RefundDeps, request: ServiceRequest) -> str:
    session_id = request.payment.paid_session_id or request.payment.session_id
    intent = deps.stripe.retrieve_session(session_id).get("payment_intent") if session_id else None
    if not isinstance(intent, str) or not intent:
        # No payment at Stripe to refund: asking again cannot change that, so it is a refusal like Stripe's own.
        message = "Stripe has no payment for this request to refund."
        raise RefundRefused(message, {"providerCode": "no_payment_intent", "providerMessage": message,
                                      "serviceRequestId": request.id})
    return intent


def refund_by_admin(deps: RefundDeps, admin: Principal, request_id: str, amount: int | None,
                    reason: str) -> ServiceRequest:
    """Refund `amount` (None: all that is left) of a card payment, audited with `reason`. Each call is a new
    attempt (a new idempotency key), so it is also how an admin retries a refund Stripe refused. Raises NotFound,
    InvalidState (not a paid card payment, or more than is left), RefundRefused (Stripe refused this one: it is
    recorded failed and flagged like any refusal, and the admin is told why at once)."""
    request = deps.requests.get(request_id)
    if request is None:
        raise NotFound(details={"serviceRequestId": request_id})
    if request.payment_method is not PaymentMethod.CARD or request.payment_status not in REFUND_STATES:
        raise InvalidState("Only a paid card payment can be refunded.",
                           {"paymentStatus": request.payment_status.value})
    wanted = amount if amount is not None else refundable(request)
    applied = apply_transition(deps, request_id, decide_refund_requested(wanted, reason), admin.actor)
    requested = applied.request or request
    sent = send_unsent(deps, requested, admin.actor)
    attempt = requested.payment.refund_attempts
    refusal = next((n for n in sent.payment.reconciliation_notes
                    if n.kind == "refund_refused" and n.details.get("attempt") == attempt), None)
    if refusal is not None:
        raise RefundRefused(details={"serviceRequestId": request_id, **refusal.details})
    return sent
