"""One Checkout Session for a card series: one line per occurrence (its date and its own price), one payment.

The customer pays a series once. Its occurrences share the session, its expiry as their hold, and later its
PaymentIntent; each keeps its own line's amount (`Payment.amount`) and the session's total (`Payment.session_total`,
which marks the payment as shared). The session's `client_reference_id` and metadata carry the series id, so its
events reach every occurrence (services/payments/shared.py). Cancelling one paid occurrence refunds that
occurrence's amount only, as a partial refund of the shared PaymentIntent (domain/refunds.py attributes refunds).

Opening is idempotent per series and attempt (`checkout-<series id>-<attempt>`); occurrences a crashed attempt left
unbound are bound to the session already open, so a series never has two payable sessions.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol, Sequence

from chalicelib.domain.booking import OPEN_PAYMENT, PaymentMethod, ServiceRequest, Status
from chalicelib.domain.errors import DomainError, InvalidState, NotFound
from chalicelib.domain.payment import amount_due, decide_checkout_opened, decide_session
from chalicelib.domain.principal import Principal
from chalicelib.domain.zones import load_zone
from chalicelib.observability import count, logger
from chalicelib.services import booking
from chalicelib.services.payments import checkout
from chalicelib.services.payments.transition import TransitionDeps, apply_transition
from chalicelib.services.ports import PaymentGateway

ABOUT_TO_EXPIRE_SECONDS = 60


class SeriesGateway(PaymentGateway, Protocol):
    """Stripe with multi-line sessions (adapters/stripe_gateway.py)."""

    def create_series_checkout_session(self, *, series_id: str, lines: list[tuple[str, str, int]], currency: str,
                                       expires_at: datetime | int, customer_email: str | None = None,
                                       attempt: int = 1) -> dict:
        """Idempotent per (series_id, attempt). Raises ValidationFailed, InvalidState, PaymentProviderUnavailable."""


class SeriesCheckoutDeps(TransitionDeps, Protocol):
    stripe: SeriesGateway


def awaiting_card(requests: Sequence[ServiceRequest]) -> list[ServiceRequest]:
    """The occurrences still waiting for a card payment (holding capacity, nothing paid)."""
    return [r for r in requests if r.payment_method is PaymentMethod.CARD and r.status is Status.PENDING_PAYMENT
            and r.payment_status in OPEN_PAYMENT and not r.payment.awaiting_settlement]


def checkout_series(deps: SeriesCheckoutDeps, series_id: str, requests: Sequence[ServiceRequest],
                    raise_on_error: bool = False) -> list[ServiceRequest]:
    """Bind every occurrence waiting for card payment to the series' one open session (opening it, attempt + 1,
    when none is open). Returns `requests` as stored. A Stripe failure is recorded on each occurrence (as for a
    single booking) unless `raise_on_error`."""
    due = awaiting_card(requests)
    if not due:
        return list(requests)
    now = deps.clock()
    amounts = {r.id: amount_due(r) for r in due}
    free = {r.id for r in due if amounts[r.id][0] == 0}
    if free:  # occurrences with nothing to pay are confirmed without Stripe; the others share the session
        settled = {r.id: checkout.settle_nothing_due(deps, r, amounts[r.id][1], now) for r in due if r.id in free}
        requests = [settled.get(r.id, r) for r in requests]
        due = [r for r in due if r.id not in free]
        if not due:
            return list(requests)
    currency = amounts[due[0].id][1]
    attempt = max(r.payment.attempt or 0 for r in due)
    try:
        if any(c != currency for _, c in amounts.values()):
            raise InvalidState("A series is paid in one currency.", {"seriesId": series_id})
        session = _open_session_of(deps, due, now)
        if session is not None and session.get("status") != "open":
            return _apply_to_each(deps, requests, due, lambda _: decide_session(session, None, now))
        if session is None:
            attempt += 1
            session = _create(deps, series_id, due, amounts, currency, now, attempt)
            count("CheckoutSessionCreated")
    except DomainError as exc:
        count("CheckoutSessionFailed", code=exc.code)
        logger.warning("series checkout not created", extra={"seriesId": series_id, "code": exc.code})
        if raise_on_error:
            raise
        due_ids = {r.id for r in due}
        return [checkout.record_checkout_error(deps, r, attempt, exc) if r.id in due_ids else r for r in requests]
    hold = datetime.fromtimestamp(int(session["expires_at"]), timezone.utc)
    total = int(session.get("amount_total") or sum(a for a, _ in amounts.values()))
    return _apply_to_each(deps, requests, due, lambda r: decide_checkout_opened(
        session, amounts[r.id][0], currency, attempt, now, hold_until=hold, session_total=total))


def _open_session_of(deps: SeriesCheckoutDeps, due: list[ServiceRequest], now: datetime) -> dict | None:
    """The shared session an occurrence is bound to, if it can still be used: open (and not about to expire), or
    paid/completed (then its state is applied). None: a new attempt is needed."""
    session_id = next((r.payment.session_id for r in due if r.payment.shared and r.payment.session_id), None)
    if session_id is None:
        return None
    try:
        session = deps.stripe.retrieve_session(session_id)
    except NotFound:
        return None
    if session.get("status") == "open" and int(session.get("expires_at") or 0) > now.timestamp() + \
            ABOUT_TO_EXPIRE_SECONDS:
        return session
    if session.get("status") == "open":  # about to expire: close it so two payable sessions never exist
        session = deps.stripe.expire_session(session_id)
    return session if session.get("status") == "complete" else None


def _create(deps: SeriesCheckoutDeps, series_id: str, due: list[ServiceRequest], amounts: dict, currency: str,
            now: datetime, attempt: int) -> dict:
    expires = max([now + checkout.SESSION_MIN_LIFETIME] + [r.hold_expires_at for r in due if r.hold_expires_at])
    lines = [(r.id, line_name(r), amounts[r.id][0]) for r in sorted(due, key=lambda r: r.placement.start)]
    try:
        return deps.stripe.create_series_checkout_session(series_id=series_id, lines=lines, currency=currency,
                                                          expires_at=expires, customer_email=due[0].customer_email,
                                                          attempt=attempt)
    except InvalidState:
        # This attempt's session exists (an invocation created it and died before storing it): adopt it.
        known = {r.payment.session_id for r in due}
        since = min(r.updated_at for r in due) - checkout.STRIPE_CLOCK_MARGIN
        for page in deps.stripe.list_sessions(since):
            for found in page:
                if found.get("client_reference_id") == series_id and found.get("id") not in known:
                    return found
        raise


def line_name(request: ServiceRequest) -> str:
    """What the customer reads on Stripe's page for one occurrence: the service and its local date and time."""
    start = request.placement.start.astimezone(load_zone(request.placement.timezone))
    return f"{request.service_id}, {start:%Y-%m-%d %H:%M} ({request.placement.timezone})"


def _apply_to_each(deps: SeriesCheckoutDeps, requests: Sequence[ServiceRequest], due: list[ServiceRequest],
                   decide_for) -> list[ServiceRequest]:
    out, due_ids = [], {r.id for r in due}
    for request in requests:
        decide = decide_for(request) if request.id in due_ids else None
        if decide is None:
            out.append(request)
            continue
        _, saved = apply_transition(deps, request.id, decide, checkout.CHECKOUT_ACTOR)
        out.append(saved or request)
    return out


def resume_checkout(deps: SeriesCheckoutDeps, principal: Principal, request_id: str) -> ServiceRequest:
    """`POST .../checkout`: an occurrence of a card series resumes the series' checkout (the one session for
    every occurrence still waiting); any other request resumes its own (checkout.resume_checkout)."""
    current = booking.get_own(deps, principal, request_id)
    if current.series_id is None or not (current.payment.shared or current.payment.session_id is None):
        return checkout.resume_checkout(deps, principal, request_id)
    if not awaiting_card([current]):
        raise InvalidState(details={"status": current.status.value, "paymentStatus": current.payment_status.value})
    members = [r for r in deps.requests.by_series(current.series_id) if r.user_id == principal.user_id]
    stored = checkout_series(deps, current.series_id, members, raise_on_error=True)
    return next((r for r in stored if r.id == request_id), current)
