"""Paying for a booking: the card Checkout Session opened after booking or resumed by the customer, and cash
collected by an admin.

A Stripe failure while opening the session at booking time does NOT fail the booking: it is 201 with
`checkoutUrl: null` and `paymentError`, the request stays PENDING_PAYMENT/UNPAID with its hold still expiring
(expire_holds releases it), and `POST .../checkout` retries. Failing with 503 would make the client retry the
booking while the first one already holds capacity.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol

from chalicelib.domain.booking import OPEN_PAYMENT, PaymentMethod, ServiceRequest, Status
from chalicelib.domain.errors import DomainError, InvalidState, NotFound
from chalicelib.domain.payment import (CheckoutError, amount_due, decide_checkout_opened, decide_cod_collected,
                                       decide_nothing_due, decide_session)
from chalicelib.domain.principal import Principal
from chalicelib.observability import count, logger
from chalicelib.services import booking
from chalicelib.services.payments.transition import TransitionDeps, apply_transition
from chalicelib.services.ports import PaymentGateway, StaleRevision

SESSION_MIN_LIFETIME = timedelta(minutes=31)  # Stripe's minimum is 30 minutes; one more absorbs clock skew
CHECKOUT_ACTOR = "system:checkout"
STRIPE_CLOCK_MARGIN = timedelta(minutes=5)  # a session's `created` is Stripe's clock, not ours


class CheckoutDeps(TransitionDeps, Protocol):
    """What opening, resuming and settling a payment reads (its state changes go through apply_transition)."""
    stripe: PaymentGateway


def checkout_after_booking(deps: CheckoutDeps, request: ServiceRequest) -> ServiceRequest:
    """The BookingCreated handler (services/handlers.py): opens the Checkout Session of a new CARD request. Never
    raises for a Stripe failure (the request keeps UNPAID, its hold keeps expiring, `payment.error` says why).
    An occurrence of a series is left alone: the series opens one session for all of them (series_checkout)."""
    if request.payment_method is not PaymentMethod.CARD or request.status is not Status.PENDING_PAYMENT \
            or request.series_id is not None:
        return request
    return _open_session(deps, request, attempt=1, raise_on_error=False)


def resume_checkout(deps: CheckoutDeps, principal: Principal, request_id: str) -> ServiceRequest:
    """Reuse the open session, or open a fresh one (attempt + 1, new hold) if it expired or never opened.
    Raises NotFound, InvalidState (not an unpaid card request, or its hold was already released),
    PaymentProviderUnavailable (state unchanged; retry)."""
    current = booking.get_own(deps, principal, request_id)
    if (current.payment_method is not PaymentMethod.CARD or current.status is not Status.PENDING_PAYMENT
            or current.payment_status not in OPEN_PAYMENT):
        raise InvalidState(details={"status": current.status.value, "paymentStatus": current.payment_status.value})
    if current.payment.awaiting_settlement:
        return current  # paid with a delayed method; nothing to pay until it settles
    now = deps.clock()
    session_id = current.payment.session_id
    if session_id:
        try:
            session = deps.stripe.retrieve_session(session_id)
        except NotFound:
            session = {"id": session_id, "status": "expired"}
        if session.get("status") == "open" and int(session.get("expires_at") or 0) > now.timestamp() + 60:
            return current
        if session.get("status") == "open":
            # About to expire: close it first, so two payable sessions never exist for one request.
            session = deps.stripe.expire_session(session_id)
        decide = decide_session(session, None, now)
        if session.get("status") != "expired" and decide is not None:
            _, updated = apply_transition(deps, request_id, decide, principal.actor)
            return updated or current
    return _open_session(deps, current, attempt=(current.payment.attempt or 0) + 1, raise_on_error=True)


def _open_session(deps: CheckoutDeps, current: ServiceRequest, attempt: int, raise_on_error: bool) -> ServiceRequest:
    amount, currency = amount_due(current)
    now = deps.clock()
    if amount == 0:
        return settle_nothing_due(deps, current, currency, now)
    expires = max(current.hold_expires_at or now, now + SESSION_MIN_LIFETIME)
    try:
        try:
            session = deps.stripe.create_checkout_session(
                request_id=current.id, amount=amount, currency=currency, description=f"Service {current.service_id}",
                expires_at=expires, customer_email=current.customer_email, attempt=attempt)
        except InvalidState:
            # This attempt's session exists: an invocation created it and died before storing it (the retry's
            # expiry differs, so Stripe refuses to replay it). Adopt it rather than ever opening a second one.
            session = _unstored_session(deps, current)
    except DomainError as exc:
        count("CheckoutSessionFailed", code=exc.code)
        logger.warning("checkout session not created", extra={"serviceRequestId": current.id, "code": exc.code})
        if raise_on_error:
            raise
        return record_checkout_error(deps, current, attempt, exc)
    hold = datetime.fromtimestamp(int(session["expires_at"]), timezone.utc)
    decide = decide_checkout_opened(session, amount, currency, attempt, now, hold_until=hold)
    _, saved = apply_transition(deps, current.id, decide, CHECKOUT_ACTOR)
    count("CheckoutSessionCreated")
    return saved or current


def _unstored_session(deps: CheckoutDeps, current: ServiceRequest) -> dict:
    """The newest session of `current` at Stripe other than the stored one, created since the request was last
    written (less a margin for Stripe's clock). Raises InvalidState if there is none."""
    since = current.updated_at - STRIPE_CLOCK_MARGIN
    for page in deps.stripe.list_sessions(since):
        for session in page:  # newest first
            if session.get("client_reference_id") == current.id and session.get("id") != current.payment.session_id:
                return session
    raise InvalidState("This payment attempt's session could not be found.", {"serviceRequestId": current.id})


def record_checkout_error(deps: CheckoutDeps, current: ServiceRequest, attempt: int,
                           exc: DomainError) -> ServiceRequest:
    error = CheckoutError(exc.code, exc.message, at=deps.clock(), attempt=attempt)
    failed = current.with_changes(payment=current.payment.with_changes(attempt=attempt, error=error))
    try:
        return deps.requests.save(current, failed)
    except (StaleRevision, DomainError):
        logger.exception("could not record the checkout error", extra={"serviceRequestId": current.id})
        return failed  # the response still tells the client; the stored state is UNPAID either way


def cod_collected(deps: CheckoutDeps, principal: Principal, request_id: str,
                  note: str | None = None) -> ServiceRequest:
    """COD_DUE -> COD_COLLECTED (audited). Repeating it returns the request unchanged.
    Raises NotFound, InvalidState (not a COD request due)."""
    decide = decide_cod_collected(principal.actor, deps.clock(), note)
    _, saved = apply_transition(deps, request_id, decide, principal.actor)
    if saved is None:
        raise NotFound(details={"serviceRequestId": request_id})
    return saved


def settle_nothing_due(deps: CheckoutDeps, current: ServiceRequest, currency: str, now: datetime) -> ServiceRequest:
    """A card request with a total of 0: confirmed and paid without Stripe (domain decide_nothing_due)."""
    _, saved = apply_transition(deps, current.id, decide_nothing_due(currency, now), CHECKOUT_ACTOR)
    count("PaymentNothingDue")
    return saved or current
