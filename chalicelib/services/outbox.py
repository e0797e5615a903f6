"""Customer e-mails, each sent once: recorded in the outbox, then claimed, sent and marked sent by a sender.

- Recording: every message has an id derived from what it reports (domain/messages.py) and is stored with a
  conditional put, so the same change recorded twice (a redelivered stream record, two reminder runs) is one item.
- Sending: a sender claims a due message with a lease (a conditional write only one sender can win), sends it
  through SES with headers derived from the message id (Message-ID, X-Portal-Message-Id: a resent copy is
  recognisable as the same message), then marks it sent under that lease. A sender that dies after claiming
  leaves the message leased; once the lease runs out the next run claims and sends it. Only a death between
  SES accepting the message and the mark can send it twice, and that copy carries the same Message-ID.
- Failures: a failed send is retried with backoff; after MAX_ATTEMPTS claims the message is parked (never
  retried), counted as OutboxParked (alarmed) and logged for an operator.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable, Protocol

from chalicelib.domain import links
from chalicelib.domain import messages as m
from chalicelib.domain.booking import PaymentStatus, ServiceRequest, Status
from chalicelib.domain.invite import format_money, price_total
from chalicelib.domain.refunds import refunded_amount
from chalicelib.domain.zones import load_zone
from chalicelib.observability import count, logger
from chalicelib.services import calendar
from chalicelib.services.deadline import Deadline, out_of_time
from chalicelib.services.ports import Notifier, OutboxStore

LEASE = timedelta(minutes=5)  # far above one SES call; a sender dead for this long has lost the message
MAX_ATTEMPTS = 5
BATCH = 50


class OutboxDeps(calendar.CalendarDeps, Protocol):
    outbox: OutboxStore
    notifier: Notifier
    render_mail: Callable[[str, str, dict], tuple[str, str, str]]
    new_id: Callable[[], str]


def record(deps: OutboxDeps, messages: Iterable[m.Message]) -> list[str]:
    """Store each message unless it is already stored; returns the ids stored by this call."""
    pending = list(messages)
    if not pending:
        return []
    now = deps.clock()
    return [message.id for message in pending
            if deps.outbox.add(message, m.language_of(message.request.language), now)]


def send_due(deps: OutboxDeps, deadline: Deadline = None) -> dict:
    """One scheduled run: send every message due now (and those whose sender died), until the deadline."""
    result = {"sent": 0, "failed": 0, "parked": 0, "skipped": 0, "complete": True}
    for message_id in deps.outbox.due(deps.clock(), BATCH):
        if out_of_time(deadline):
            result["complete"] = False
            break
        result[deliver(deps, message_id)] += 1
    logger.info("outbox run", extra=result)
    return result


def send_now(deps: OutboxDeps, message_ids: Iterable[str]) -> list[str]:
    """Send messages just recorded without waiting for the scheduled run; a failure is left to that run.
    Returns each message's outcome (`deliver`; 'failed' also when the outbox could not be reached)."""
    outcomes = []
    for message_id in message_ids:
        try:
            outcomes.append(deliver(deps, message_id))
        except Exception:  # noqa: BLE001 - the message stays in the outbox; the scheduled sender retries it
            logger.exception("outbox send deferred", extra={"messageId": message_id})
            outcomes.append("failed")
    return outcomes


def deliver(deps: OutboxDeps, message_id: str) -> str:
    """Claim, send and mark one message: 'sent', 'failed' (retried later), 'parked' or 'skipped' (not ours)."""
    now = deps.clock()
    lease = deps.new_id()
    entry = deps.outbox.claim(message_id, now, now + LEASE, lease)
    if entry is None:
        return "skipped"  # sent, parked, not yet due, or another sender holds it
    if entry.attempts > MAX_ATTEMPTS:  # earlier senders died holding it (or it keeps crashing the sender)
        return _fail(deps, entry, now, "too many attempts")
    try:
        provider_id = _send(deps, entry)
    except Exception as exc:  # noqa: BLE001 - any failure: retried with backoff, parked after MAX_ATTEMPTS
        return _fail(deps, entry, now, f"{type(exc).__name__}: {exc}")
    if not deps.outbox.mark_sent(message_id, lease, provider_id, deps.clock()):
        logger.error("outbox lease lost before the send was recorded", extra={"messageId": message_id})
    count("OutboxSent")
    return "sent"


def _fail(deps: OutboxDeps, entry: m.OutboxEntry, now: datetime, error: str) -> str:
    park = entry.attempts >= MAX_ATTEMPTS
    retry_at = now + timedelta(minutes=2 ** entry.attempts)
    deps.outbox.release(entry.message.id, entry.lease, retry_at, error, park)
    if park:
        count("OutboxParked")
        logger.error("outbox message parked", extra={"messageId": entry.message.id, "error": error})
        return "parked"
    count("OutboxFailed")
    logger.warning("outbox send failed", extra={"messageId": entry.message.id, "error": error})
    return "failed"


def _send(deps: OutboxDeps, entry: m.OutboxEntry) -> str:
    message = entry.message
    request = message.request
    subject, text, html = deps.render_mail(message.kind, entry.language, context(deps, message))
    attachments = ()
    method = m.ICS_METHOD[message.kind]
    if method:
        ics = deps.render_ics(calendar.invite_for(deps, request))
        attachments = ((f"booking-{request.id}.ics", f"text/calendar; method={method}", ics),)
    return deps.notifier.send(request.customer_email, subject, text, attachments, html=html,
                              message_id=message.id)


def _link(deps: OutboxDeps, request: ServiceRequest, purpose: str, tail: str) -> str | None:
    """A signed link valid until the appointment as this message states it starts (a moved booking's links
    are issued again, for its new start); None once the appointment began or the booking no longer stands."""
    if request.status not in (Status.PENDING_PAYMENT, Status.CONFIRMED) or request.placement.start <= deps.clock():
        return None
    token = calendar.link_token(deps, request, purpose)
    return f"{deps.settings.portal_base_url.rstrip('/')}/links/{token}/{tail}"


def context(deps: OutboxDeps, message: m.Message) -> dict:
    """What the templates may show: plain, already formatted values."""
    request = message.request
    catalog = deps.catalog.get()
    service = catalog.services.get(request.service_id)
    member = catalog.members.get(request.placement.member_id)
    local = request.placement.start.astimezone(load_zone(request.placement.timezone))
    amount, currency = price_total(request.price or {})
    paid_in = request.payment.currency or currency
    refunded = refunded_amount(request.payment)
    # A cancellation states the refund its terms allowed (on its way; Stripe has not reported it yet).
    owed = request.cancellation.refund if request.cancellation else 0
    return {
        "service": service.name if service else request.service_id,
        "member": member.display_name if member else "-",
        "when": f"{local:%Y-%m-%d %H:%M} ({request.placement.timezone})",
        "address": request.address, "reference": request.id, "price": format_money(amount, currency),
        "refund": format_money(owed or refunded, paid_in) if owed or refunded else None,
        "refunded": format_money(refunded, paid_in),
        "refund_complete": request.payment_status is PaymentStatus.REFUNDED,
        "expired": request.status is Status.EXPIRED,
        "manage_url": calendar.portal_url(deps, request.id),
        "pay_again_url": calendar.portal_url(deps, request.id),
        "calendar_url": _link(deps, request, links.ICS, "calendar.ics"),
        "reschedule_url": _link(deps, request, links.RESCHEDULE, "reschedule"),
        "cancel_url": _link(deps, request, links.CANCEL, "cancel"),
    }
