"""A request's payment as a value, and the decisions that move it forward.

`Payment` is what the request knows about its money: the current Checkout Session (id, url, attempt, what it
asked for), what Stripe reported (paid, refunded, awaiting settlement), cash collection, the last checkout error
and the notes left for an admin. It is stored as the request's `payment` map (`codec.payment_to_doc`); a field
that is None was never set and is not stored.

Each `decide_*` returns a `Decide`: given the request as just read, the `Change` to write, or None when nothing
needs to change. The payment services run them under a conditional write and decide again after a lost race,
so late, duplicated and reordered events converge on the same final state.

Stripe objects (Checkout Sessions, charges) arrive as plain dicts in Stripe's shapes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping

from chalicelib.domain.booking import (OPEN_PAYMENT, PAYMENT_ALLOWED_FROM, STATUS_ALLOWED_FROM, PaymentMethod,
                                       PaymentStatus, ServiceRequest, Status)
from chalicelib.domain.errors import CardAmountTooSmall, InvalidState

P, S = PaymentStatus, Status

# Checkout Session `payment_status` values meaning the customer owes nothing more.
PAID_SESSION_STATES = frozenset({"paid", "no_payment_required"})


def session_is_paid(session: Mapping[str, Any]) -> bool:
    """Stripe says the money is in (the one test of a paid Checkout Session)."""
    return session.get("payment_status") in PAID_SESSION_STATES


@dataclass(frozen=True)
class CheckoutError:
    """Why the last Checkout Session could not be opened (shown to the client as `paymentError`)."""
    code: str
    message: str
    at: datetime | None = None
    attempt: int | None = None


# Every kind of note the payment code leaves (an admin may resolve them by kind).
NOTE_KINDS = ("amount_mismatch", "dispute", "paid_after_release", "paid_not_in_stripe", "refund_failed",
              "refund_refused", "unattributed_refund")
NOTE_SUBJECTS = ("disputeId", "refundId", "attempt")  # detail keys that name what a note is about


@dataclass(frozen=True)
class ReconciliationNote:
    """Something an admin must look at (one of NOTE_KINDS). `details` holds what the kind records besides the
    session and time (expected/received amounts, Stripe's status...). An admin resolving it sets `resolved_*`;
    the note stays in the request's history, and stays there so that its kind and session are not flagged again
    for the same fact (`Payment.with_note`)."""
    kind: str
    session_id: str | None
    at: datetime | None
    details: Mapping[str, Any] = field(default_factory=dict)
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None  # the admin's reason

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def id(self) -> str:
        """Unique within its request (`with_note` and the kinds' own checks keep one note per kind and subject):
        the kind and what it is about, a dispute, a refund, a refund attempt, else the session."""
        subject = next((str(self.details[k]) for k in NOTE_SUBJECTS if self.details.get(k) not in (None, "")), None)
        return f"{self.kind}:{subject or self.session_id or '-'}"


@dataclass(frozen=True)
class RefundRecord:
    """One refund: Stripe's id and its last reported status (pending, succeeded, failed, canceled...), or, for one
    this app decided on and has not been told the id of yet, id "" and status "requested". `attempt`: this
    app's refund attempt number (its Stripe idempotency key and metadata); None for refunds made elsewhere."""
    id: str
    amount: int
    status: str
    reason: str | None = None
    attempt: int | None = None


@dataclass(frozen=True)
class Payment:
    session_id: str | None = None  # the current attempt's Checkout Session
    checkout_url: str | None = None
    amount: int | None = None  # minor units asked for in the current session (this request's line of it)
    # The whole session's amount when one session pays for several requests (a card series: one line per
    # occurrence); None when the session is this request's alone. Set, the payment is shared: its PaymentIntent and
    # charge belong to the series, so refunds count for this request only when they are attributed to it.
    session_total: int | None = None
    currency: str | None = None
    attempt: int | None = None  # Checkout Session attempts so far (part of Stripe's idempotency key)
    session_created_at: datetime | None = None
    awaiting_settlement: bool | None = None  # completed with a delayed method; the hold stays until it settles
    paid_at: datetime | None = None
    paid_session_id: str | None = None
    payment_intent_id: str | None = None
    last_event_id: str | None = None
    amount_refunded: int | None = None  # the charge's amount_refunded, the highest Stripe reported
    refunded_at: datetime | None = None
    charge_id: str | None = None
    refunds: tuple[RefundRecord, ...] = ()  # by Stripe refund id (domain/refunds.py)
    refund_attempts: int | None = None  # refunds this app asked Stripe for (part of their idempotency keys)
    collected_at: datetime | None = None  # cash on delivery
    collected_by: str | None = None
    error: CheckoutError | None = None
    reconciliation_notes: tuple[ReconciliationNote, ...] = ()
    # Stored keys this code does not know, kept so that rewriting a request never drops them.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> Payment:
        return replace(self, **changes)

    def seen(self, event_id: str | None) -> Payment:
        """Remember the Stripe event that moved the payment (none when reconciliation did)."""
        return replace(self, last_event_id=event_id) if event_id else self

    def with_note(self, note: ReconciliationNote) -> Payment | None:
        """The payment with `note` added, or None if a note of that kind about that session is already there."""
        if any(n.kind == note.kind and n.session_id == note.session_id for n in self.reconciliation_notes):
            return None
        return replace(self, reconciliation_notes=self.reconciliation_notes + (note,))

    @property
    def open_notes(self) -> tuple[ReconciliationNote, ...]:
        """The notes no admin has resolved yet: while there is one, the request is flagged."""
        return tuple(n for n in self.reconciliation_notes if n.is_open)

    @property
    def nothing_due(self) -> bool:
        """A card request whose total was 0: settled here without Stripe, so Stripe knows nothing of it."""
        return self.amount == 0 and self.session_id is None and self.paid_at is not None

    @property
    def shared(self) -> bool:
        """One Checkout Session (and PaymentIntent) pays for this request and others of its series."""
        return self.session_total is not None

    def bound_to_another_session(self, session_id: str | None) -> bool:
        """A session of an older attempt: the request has moved on to `self.session_id`."""
        return self.session_id is not None and self.session_id != session_id


# Stripe's smallest card charge per currency, in minor units (docs.stripe.com/currencies, "Minimum and maximum
# charge amounts"); a Checkout Session for less is refused. A currency not listed here is left to Stripe.
CARD_MINIMUM = {"USD": 50, "CAD": 50, "AUD": 50, "NZD": 50, "EUR": 50, "CHF": 50, "SGD": 50, "BRL": 50, "INR": 50,
                "JPY": 50, "GBP": 30, "MXN": 1000}


def check_card_amount(amount: int, currency: str) -> None:
    """Raises CardAmountTooSmall for a total a card cannot be charged: above 0 (nothing due is settled without
    Stripe) and below Stripe's minimum for the currency. Booking checks it before anything is written, so the
    customer is told at once instead of holding a slot whose payment can never open."""
    minimum = CARD_MINIMUM.get(currency.upper())
    if minimum is not None and 0 < amount < minimum:
        raise CardAmountTooSmall(details={"amount": amount, "currency": currency.upper(), "minimum": minimum})


def check_card_total(request: ServiceRequest) -> None:
    """check_card_amount for a single card booking; a series' occurrences are one charge, checked on their sum
    (services/series.py)."""
    if request.payment_method is PaymentMethod.CARD and request.series_id is None:
        check_card_amount(*amount_due(request))


def amount_due(request: ServiceRequest) -> tuple[int, str]:
    """(minor units, upper-case currency) the customer owes, from the stored quote."""
    price = request.price or {}
    total = price.get("total")
    if isinstance(total, dict):
        return int(total["amount"]), str(total["currency"]).upper()
    return int(total or 0), str(price.get("currency") or "USD").upper()


@dataclass(frozen=True)
class Change:
    new: ServiceRequest
    action: str  # the audit action, e.g. "payment.paid"
    reason: str | None = None


Decide = Callable[[ServiceRequest], "Change | None"]


# --- card checkout and cash ----------------------------------------------------------------------------------
def decide_checkout_opened(session: Mapping[str, Any], amount: int, currency: str, attempt: int, now: datetime,
                           hold_until: datetime, session_total: int | None = None) -> Decide:
    """A new Checkout Session was created: bind it (and its expiry as the hold) to a still-unpaid request.
    `session_total`: the session's whole amount when it pays for a series (`amount` is this request's line)."""
    def decide(current: ServiceRequest) -> Change | None:
        if current.status is not S.PENDING_PAYMENT or current.payment_status not in OPEN_PAYMENT:
            return None
        if current.payment.session_id == session["id"]:
            return None
        payment = current.payment.with_changes(
            session_id=session["id"], checkout_url=session.get("url"), amount=amount, currency=currency,
            attempt=attempt, session_created_at=now, awaiting_settlement=False, error=None,
            session_total=session_total)
        return Change(current.with_changes(payment_status=P.PENDING, payment=payment, hold_expires_at=hold_until),
                      "payment.checkout_opened", f"attempt {attempt}")
    return decide


def decide_nothing_due(currency: str, now: datetime) -> Decide:
    """A card request whose total is 0 (a 100 % promotion): there is nothing for Stripe to collect (it refuses a
    0 amount), so it is confirmed and PAID with amount 0 at once, and its hold ends. Any other state: no change."""
    def decide(current: ServiceRequest) -> Change | None:
        if current.status is not S.PENDING_PAYMENT or current.payment_status not in OPEN_PAYMENT:
            return None
        payment = current.payment.with_changes(amount=0, currency=currency, paid_at=now, error=None)
        return Change(current.with_changes(status=S.CONFIRMED, payment_status=P.PAID, payment=payment,
                                           hold_expires_at=None), "payment.nothing_due", "the total is 0")
    return decide


def decide_cod_collected(actor: str, now: datetime, note: str | None) -> Decide:
    """COD_DUE -> COD_COLLECTED; already collected is no change. Raises InvalidState for any other payment."""
    def decide(current: ServiceRequest) -> Change | None:
        if current.payment_status is P.COD_COLLECTED:
            return None
        if current.payment_status not in PAYMENT_ALLOWED_FROM[P.COD_COLLECTED]:
            raise InvalidState(details={"paymentStatus": current.payment_status.value, "target": "COD_COLLECTED"})
        payment = current.payment.with_changes(collected_at=now, collected_by=actor)
        return Change(current.with_changes(payment_status=P.COD_COLLECTED, payment=payment), "payment.cod_collected",
                      note)
    return decide


# --- what Stripe reports ---------------------------------------------------------------------------------------
def decide_paid(session: Mapping[str, Any], event_id: str | None, now: datetime) -> Decide:
    """The session is paid: PAID (+ CONFIRMED if still pending), unless amount/currency differ from what we
    asked for, in which case the request is flagged for an admin and stays unpaid."""
    def decide(current: ServiceRequest) -> Change | None:
        if current.payment_status not in PAYMENT_ALLOWED_FROM[P.PAID]:
            return None  # already PAID/REFUNDED (or not a card payment)
        payment = current.payment
        if payment.shared:  # a series' session: Stripe reports the whole session's amount
            expected_amount, expected_currency = payment.session_total, payment.currency
        elif payment.amount is not None:
            expected_amount, expected_currency = payment.amount, payment.currency
        else:
            expected_amount, expected_currency = amount_due(current)
        got_amount, got_currency = session.get("amount_total"), str(session.get("currency") or "").upper()
        if got_amount != expected_amount or got_currency != str(expected_currency).upper():
            flagged = payment.with_note(ReconciliationNote("amount_mismatch", session.get("id"), now, {
                "expected": {"amount": expected_amount, "currency": expected_currency},
                "received": {"amount": got_amount, "currency": got_currency}, "eventId": event_id}))
            if flagged is None:
                return None
            return Change(current.with_changes(payment=flagged), "payment.mismatch_flagged",
                          "Stripe reported a different amount or currency; not marked paid")
        payment = payment.with_changes(paid_at=now, paid_session_id=session.get("id"),
                                       payment_intent_id=session.get("payment_intent"),
                                       awaiting_settlement=False).seen(event_id)
        status = current.status
        if current.status in STATUS_ALLOWED_FROM[S.CONFIRMED]:
            status = S.CONFIRMED
        elif not current.holds_capacity:
            # Money arrived after the hold was released: keep the money state right and tell an admin.
            note = ReconciliationNote("paid_after_release", session.get("id"), now, {"status": current.status.value})
            payment = payment.with_note(note) or payment
        return Change(current.with_changes(payment_status=P.PAID, status=status, payment=payment), "payment.paid")
    return decide


def decide_awaiting_settlement(session: Mapping[str, Any], event_id: str | None) -> Decide:
    """Completed but unpaid (delayed payment methods): PENDING, and the hold is kept until it settles."""
    def decide(current: ServiceRequest) -> Change | None:
        payment = current.payment
        if current.payment_status not in OPEN_PAYMENT or payment.awaiting_settlement:
            return None
        if payment.bound_to_another_session(session.get("id")):
            return None
        payment = payment.with_changes(awaiting_settlement=True, session_id=session.get("id"),
                                       payment_intent_id=session.get("payment_intent")).seen(event_id)
        return Change(current.with_changes(payment_status=P.PENDING, payment=payment), "payment.awaiting_settlement")
    return decide


def decide_ended(target: PaymentStatus, session_id: str | None, event_id: str | None, action: str,
                 reason: str) -> Decide:
    """Payment FAILED or EXPIRED: the hold is released (status EXPIRED) if the request still holds it.
    Events about an older attempt's session are ignored (a fresh session may be open)."""
    def decide(current: ServiceRequest) -> Change | None:
        payment = current.payment
        if current.payment_status not in PAYMENT_ALLOWED_FROM[target]:
            return None
        if session_id is not None and payment.bound_to_another_session(session_id):
            return None
        if target is P.EXPIRED and payment.awaiting_settlement:
            return None  # a completed session does not expire; settlement decides
        status = S.EXPIRED if current.status in STATUS_ALLOWED_FROM[S.EXPIRED] else current.status
        return Change(current.with_changes(payment_status=target, status=status, payment=payment.seen(event_id)),
                      action, reason)
    return decide


def decide_paid_not_in_stripe(session_id: str | None, stripe_status: str, now: datetime) -> Decide:
    """PAID here while Stripe has no paid session: flag it for an admin once (the money state is not guessed)."""
    note = ReconciliationNote("paid_not_in_stripe", session_id, now, {"stripeStatus": stripe_status})

    def decide(current: ServiceRequest) -> Change | None:
        if current.payment_status is not P.PAID:
            return None
        flagged = current.payment.with_note(note)
        if flagged is None:
            return None
        return Change(current.with_changes(payment=flagged), "payment.flagged_paid_not_in_stripe",
                      "PAID here but Stripe has no paid session")
    return decide


def decide_session(session: Mapping[str, Any], event_id: str | None, now: datetime) -> Decide | None:
    """What a session's own state says about the request (reconciliation, resume, hold expiry)."""
    if session_is_paid(session):
        return decide_paid(session, event_id, now)
    if session.get("status") == "complete":
        return decide_awaiting_settlement(session, event_id)
    if session.get("status") == "expired":
        return decide_ended(P.EXPIRED, session.get("id"), event_id, "payment.expired", "Checkout Session expired")
    return None


def hold_due_at(request: ServiceRequest) -> datetime | None:
    """When hold expiry must act on `request`: the end of its hold while it waits for payment, or its last change
    if it was cancelled with a Checkout Session that may still be payable. None when there is nothing to end: the
    payment is final, there is no hold, or a completed session awaits settlement (settlement decides). The
    adapter keys the sparse holds index by it, so the job reads only the requests due."""
    if request.payment_status not in OPEN_PAYMENT or request.payment.awaiting_settlement:
        return None
    if request.status is not S.PENDING_PAYMENT:
        return request.updated_at if request.payment.session_id else None
    return request.hold_expires_at
