"""Which customer messages a change of a service request warrants, and each message's stable identity.

A message is identified by (request id, kind, version): the version names the change it reports (the request's
SEQUENCE for a confirmation, reschedule or cancellation, the payment state reached, the refund state and amount
reached, the appointment start a reminder is for). The same change seen twice (a redelivered stream record, two
reminder runs) yields the same id, so the outbox stores it once and the customer gets it once.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.booking import PaymentStatus, ServiceRequest, Status
from chalicelib.domain.refunds import refunded_amount

CONFIRMATION = "confirmation"
RESCHEDULE = "reschedule"
CANCELLATION = "cancellation"
PAYMENT_RECEIVED = "payment-received"
PAYMENT_FAILED = "payment-failed"
REFUND_ISSUED = "refund-issued"
REMINDER_24H = "reminder-24h"
REMINDER_2H = "reminder-2h"
KINDS = (CONFIRMATION, RESCHEDULE, CANCELLATION, PAYMENT_RECEIVED, PAYMENT_FAILED, REFUND_ISSUED, REMINDER_24H,
         REMINDER_2H)
REMINDER_KINDS = {"24h": REMINDER_24H, "2h": REMINDER_2H}
LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
# ICS METHOD each kind attaches (None: no invite). A cancellation cancels the event; the others (re)state it.
ICS_METHOD = {CONFIRMATION: "REQUEST", RESCHEDULE: "REQUEST", CANCELLATION: "CANCEL", REMINDER_24H: "REQUEST",
              REMINDER_2H: "REQUEST", PAYMENT_RECEIVED: None, PAYMENT_FAILED: None, REFUND_ISSUED: None}
REFUNDED_STATES = (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class Message:
    """One message to send about `request` (the request as of the change the message reports)."""
    kind: str
    version: str
    request: ServiceRequest

    @property
    def id(self) -> str:
        return message_id(self.request.id, self.kind, self.version)


def message_id(request_id: str, kind: str, version: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    return f"{request_id}.{kind}.{version}"


def language_of(value: str | None) -> str:
    """The customer's language if we have templates for it, else English."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def _confirmed_now(old: ServiceRequest | None, new: ServiceRequest) -> bool:
    return new.status is Status.CONFIRMED and (old is None or old.status is not Status.CONFIRMED)


def refund_version(request: ServiceRequest | None) -> str | None:
    """The refund state a "refund issued" message reports ("refunded-10000", "partially_refunded-4000": state and
    amount back so far), None while nothing came back. A second partial refund is a new version, so a new message;
    the same state and amount reached again (e.g. after a refused refund) is the same message, sent once."""
    if request is None or request.payment_status not in REFUNDED_STATES:
        return None
    return f"{request.payment_status.value.lower()}-{refunded_amount(request.payment)}"


def messages_for_change(old: ServiceRequest | None, new: ServiceRequest | None) -> list[Message]:
    """The messages a change from `old` to `new` (None: absent) warrants, in the order to send them. A request
    without a customer e-mail gets none."""
    if new is None or not new.customer_email:
        return []
    out: list[Message] = []
    if _confirmed_now(old, new):
        out.append(Message(CONFIRMATION, str(new.sequence), new))
    elif (old is not None and new.status is Status.CONFIRMED and new.sequence > old.sequence
          and new.placement.start != old.placement.start):
        out.append(Message(RESCHEDULE, str(new.sequence), new))
    if new.status is Status.CANCELLED and (old is None or old.status is not Status.CANCELLED):
        out.append(Message(CANCELLATION, str(new.sequence), new))
    was = old.payment_status if old is not None else None
    # Nothing due (a total of 0): nothing was paid, so no receipt for 0.00; the confirmation says it all.
    if new.payment_status is PaymentStatus.PAID and was is not PaymentStatus.PAID and not new.payment.nothing_due:
        out.append(Message(PAYMENT_RECEIVED, "paid", new))
    if new.payment_status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED) and was is not new.payment_status:
        out.append(Message(PAYMENT_FAILED, new.payment_status.value.lower(), new))
    refund = refund_version(new)
    if refund is not None and refund != refund_version(old):
        out.append(Message(REFUND_ISSUED, refund, new))
    return out


def reminder(request: ServiceRequest, lead: str) -> Message:
    """The `lead` ("24h" | "2h") reminder for the appointment as it now stands: a moved appointment gets its own."""
    return Message(REMINDER_KINDS[lead], str(int(request.placement.start.timestamp())), request)


@dataclass(frozen=True)
class OutboxEntry:
    """A stored message as a sender claimed it: what to send, in which language, and how often it was tried."""
    message: Message
    language: str
    attempts: int
    lease: str  # the claim's token: only its holder marks the message sent
