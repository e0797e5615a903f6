"""Which changes warrant which messages, the templates (en/es, HTML escaped) and what the sender hands SES:
the ICS method and SEQUENCE, the Message-ID derived from the outbox id, retries and parking (fakes only)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import icalendar
import pytest

from bench.jobs import job_request
from chalicelib.adapters.ical import render as render_ics
from chalicelib.adapters.mail_templates import render_mail
from chalicelib.clock import FixedClock
from chalicelib.domain import messages as m
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Status
from chalicelib.domain.payment import RefundRecord
from chalicelib.domain.terms import Assessment
from chalicelib.domain.catalog import Catalog
from chalicelib.services import outbox
from chalicelib.settings import settings_from_env
from tests.outbox_fakes import FakeOutbox, RecordingNotifier

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def request(**changes):
    return job_request(7, start=NOW + timedelta(days=3), status="CONFIRMED", payment_status="COD_DUE", method="COD",
                       updated_at=NOW).with_changes(customer_email="c@example.com", **changes)


def kinds(old, new) -> list[tuple[str, str]]:
    return [(message.kind, message.version) for message in m.messages_for_change(old, new)]


def test_each_change_warrants_its_messages_and_a_repeat_none():
    booked = request()
    moved = booked.with_changes(sequence=1, placement=booked.placement.__class__(
        **{**booked.placement.__dict__, "start": booked.placement.start + timedelta(hours=2)}))
    cancelled = moved.with_changes(status=Status.CANCELLED, sequence=2)
    assert kinds(None, booked) == [("confirmation", "0")]
    assert kinds(booked, moved) == [("reschedule", "1")]
    assert kinds(moved, cancelled) == [("cancellation", "2")]
    assert kinds(booked, booked) == [] and kinds(cancelled, cancelled) == [] and kinds(booked, None) == []
    assert kinds(None, booked.with_changes(customer_email=None)) == []


def test_card_payments_confirm_and_failed_or_expired_payments_say_so():
    hold = request(status=Status.PENDING_PAYMENT, payment_status=PaymentStatus.UNPAID)
    assert kinds(None, hold) == []
    paid = hold.with_changes(status=Status.CONFIRMED, payment_status=PaymentStatus.PAID)
    assert kinds(hold, paid) == [("confirmation", "0"), ("payment-received", "paid")]
    expired = hold.with_changes(status=Status.EXPIRED, payment_status=PaymentStatus.EXPIRED)
    assert kinds(hold, expired) == [("payment-failed", "expired")]
    assert kinds(expired, expired) == []


def test_a_booking_with_nothing_to_pay_is_confirmed_without_a_receipt_for_nothing():
    hold = request(status=Status.PENDING_PAYMENT, payment_status=PaymentStatus.UNPAID)
    free = hold.with_changes(status=Status.CONFIRMED, payment_status=PaymentStatus.PAID,
                             payment=hold.payment.with_changes(amount=0, currency="USD", paid_at=NOW))
    assert free.payment.nothing_due
    assert kinds(hold, free) == [("confirmation", "0")]


def refunded(request, status, *refunds, charge=None):
    payment = request.payment.with_changes(amount=10000, currency="USD", amount_refunded=charge,
                                           refunds=tuple(RefundRecord(*r) for r in refunds))
    return request.with_changes(payment_status=status, payment=payment)


def test_each_refund_state_reached_warrants_one_refund_issued_message():
    paid = refunded(request(payment_method=PaymentMethod.CARD), PaymentStatus.PAID)
    asked = refunded(paid, PaymentStatus.REFUND_PENDING, ("", 4000, "requested", None, 1))
    part = refunded(paid, PaymentStatus.PARTIALLY_REFUNDED, ("re_1", 4000, "succeeded", None, 1))
    more = refunded(paid, PaymentStatus.REFUND_PENDING, ("re_1", 4000, "succeeded", None, 1),
                    ("", 1000, "requested", None, 2))
    refused = refunded(paid, PaymentStatus.PARTIALLY_REFUNDED, ("re_1", 4000, "succeeded", None, 1),
                       ("", 1000, "failed", None, 2))
    part2 = refunded(paid, PaymentStatus.PARTIALLY_REFUNDED, ("re_1", 4000, "succeeded", None, 1),
                     ("re_2", 1000, "succeeded", None, 2))
    full = refunded(paid, PaymentStatus.REFUNDED, charge=10000)
    assert kinds(paid, asked) == []  # asked for, not issued yet
    assert kinds(asked, part) == [("refund-issued", "partially_refunded-4000")]
    assert kinds(part, part.with_changes(sequence=part.sequence)) == []  # a write that changes no refund fact
    assert kinds(part, more) == [] and kinds(more, part2) == [("refund-issued", "partially_refunded-5000")]
    # A refused second refund brings back a state already announced: the same id, which the outbox stores once.
    assert kinds(more, refused) == kinds(asked, part)
    assert kinds(part2, full) == [("refund-issued", "refunded-10000")] and kinds(full, full) == []
    hold = paid.with_changes(status=Status.PENDING_PAYMENT, payment_status=PaymentStatus.PENDING)
    # A refund reported before the completion event: confirmed and refunded at once, never "payment received".
    assert kinds(hold, full) == [("confirmation", "0"), ("refund-issued", "refunded-10000")]
    assert kinds(full, full.with_changes(customer_email=None)) == []


@pytest.mark.parametrize("language,complete,phrases", [
    ("en", False, ("Refund issued: Cleaning", "Your refund has been issued: 40.00 USD of your payment of 100.00 USD")),
    ("en", True, ("Refund issued: Cleaning", "Your refund has been issued: 40.00 USD is on its way")),
    ("es", False, ("Reembolso emitido: Cleaning", "le devolvemos 40.00 USD de su pago de 100.00 USD")),
    ("es", True, ("Reembolso emitido: Cleaning", "le devolvemos 40.00 USD a su tarjeta")),
])
def test_the_refund_issued_message_states_amount_currency_and_reference(language, complete, phrases):
    title, text, html = render_mail(m.REFUND_ISSUED, language, {**CONTEXT, "refund_complete": complete})
    subject, phrase = phrases
    assert title.startswith(subject) and phrase in text and phrase in html
    assert "sr_1" in text and "sr_1" in html


def test_the_context_states_what_came_back_and_a_cancellation_the_refund_owed():
    d = deps()
    paid = refunded(request(payment_method=PaymentMethod.CARD), PaymentStatus.PARTIALLY_REFUNDED,
                    ("re_1", 2500, "succeeded", None, 1), charge=2500)
    values = outbox.context(d, m.Message(m.REFUND_ISSUED, m.refund_version(paid), paid))
    assert (values["refunded"], values["refund_complete"], values["reference"]) == ("25.00 USD", False, paid.id)
    cancelled = paid.with_changes(status=Status.CANCELLED, payment_status=PaymentStatus.REFUND_PENDING,
                                  cancellation=Assessment(True, False, 0, 7500, "USD", NOW))
    assert outbox.context(d, m.Message(m.CANCELLATION, "1", cancelled))["refund"] == "75.00 USD"


def test_a_refund_message_recorded_twice_is_stored_and_sent_once():
    d = deps()
    paid = refunded(request(payment_method=PaymentMethod.CARD, language="es"), PaymentStatus.PAID)
    full = refunded(paid, PaymentStatus.REFUNDED, charge=10000)
    changes = [(paid, full), (paid, full)]  # a redelivered stream batch
    first = outbox.record(d, [msg for old, new in changes for msg in m.messages_for_change(old, new)])
    assert first == [f"{full.id}.refund-issued.refunded-10000"]
    assert outbox.record(d, m.messages_for_change(paid, full)) == []
    assert outbox.send_due(d)["sent"] == 1 and outbox.send_due(d)["sent"] == 0
    [mail] = d.notifier.sent
    assert mail["subject"].startswith("Reembolso emitido") and mail["attachments"] == ()
    assert "100.00 USD" in mail["text"] and full.id in mail["text"]


def test_ids_name_request_kind_and_version_and_reminders_follow_the_start():
    booked = request()
    assert m.reminder(booked, "24h").id == f"{booked.id}.reminder-24h.{int(booked.placement.start.timestamp())}"
    later = booked.with_changes(placement=booked.placement.__class__(
        **{**booked.placement.__dict__, "start": booked.placement.start + timedelta(hours=1)}))
    assert m.reminder(later, "24h").id != m.reminder(booked, "24h").id
    with pytest.raises(ValueError):
        m.message_id("sr_1", "newsletter", "0")
    assert m.language_of("es") == "es" and m.language_of("fr") == "en" and m.language_of(None) == "en"


CONTEXT = {"service": "Cleaning <script>", "member": "Ava", "when": "2026-11-27 09:00 (UTC)",
           "address": "<b>1 Main St</b> & co", "reference": "sr_1", "price": "100.00 USD", "refund": "40.00 USD",
           "refunded": "40.00 USD", "refund_complete": False, "expired": False,
           "manage_url": "https://portal/requests/sr_1", "pay_again_url": "https://portal/x",
           "calendar_url": "https://portal/links/t/calendar.ics", "reschedule_url": "https://portal/links/t/reschedule",
           "cancel_url": None}


@pytest.mark.parametrize("language,subject,phrase", [("en", "Booking cancelled: Cleaning", "A refund of 40.00 USD"),
                                                     ("es", "Reserva cancelada: Cleaning", "Le devolveremos 40.00 USD")])
def test_templates_render_each_language_and_escape_html(language, subject, phrase):
    title, text, html = render_mail(m.CANCELLATION, language, CONTEXT)
    assert title.startswith(subject) and "\n" not in title
    assert phrase in text and phrase in html
    assert "<b>1 Main St</b> & co" in text  # the text part is not markup: shown as typed
    assert "&lt;b&gt;1 Main St&lt;/b&gt; &amp; co" in html and "<script>" not in html
    assert "/reschedule" in text and "Cancel" not in text.split("Reschedule")[-1]


@pytest.mark.parametrize("kind", m.KINDS)
def test_every_kind_renders_in_every_language(kind):
    for language in m.LANGUAGES:
        title, text, html = render_mail(kind, language, CONTEXT)
        assert title and text.strip() and html.strip()


class Secrets:
    def link_signing_secrets(self):
        return ["secret-0123456789abcdef"]


def deps(notifier=None):
    return SimpleNamespace(settings=settings_from_env({"STAGE": "test"}), secrets=Secrets(),
                           catalog=SimpleNamespace(get=lambda: Catalog()), clock=FixedClock(NOW),
                           render_ics=render_ics, outbox=FakeOutbox(), notifier=notifier or RecordingNotifier(),
                           render_mail=render_mail, new_id=iter(f"lease-{i}" for i in range(100)).__next__)


def test_the_sender_attaches_the_ics_with_method_and_sequence_and_a_stable_message_id():
    d = deps()
    cancelled = request(status=Status.CANCELLED, sequence=2, language="es")
    [message_id] = outbox.record(d, [m.Message(m.CANCELLATION, "2", cancelled)])
    assert outbox.send_due(d)["sent"] == 1 and outbox.send_due(d)["sent"] == 0
    [mail] = d.notifier.sent
    assert mail["message_id"] == message_id == f"{cancelled.id}.cancellation.2"
    assert mail["subject"].startswith("Reserva cancelada")
    [(name, content_type, body)] = mail["attachments"]
    calendar = icalendar.Calendar.from_ical(body)
    assert content_type == "text/calendar; method=CANCEL" and str(calendar["METHOD"]) == "CANCEL"
    assert int(calendar.walk("VEVENT")[0]["SEQUENCE"]) == 2


class Failing:
    def send(self, *args, **kwargs):
        raise RuntimeError("SES down")


def test_failures_back_off_then_park():
    d = deps(Failing())
    [message_id] = outbox.record(d, [m.Message(m.CONFIRMATION, "0", request())])
    outcomes = []
    for _ in range(outbox.MAX_ATTEMPTS):
        outcomes.append(outbox.deliver(d, message_id))
        assert outbox.deliver(d, message_id) == "skipped"  # not due again until its backoff passed
        d.clock.advance(hours=1)
    assert outcomes == ["failed"] * (outbox.MAX_ATTEMPTS - 1) + ["parked"]
    assert d.outbox.state(message_id) == "parked" and outbox.deliver(d, message_id) == "skipped"
