"""Scheduled jobs killed mid-run (after some of their writes stood): the next run finishes the work and does
nothing twice. Hold expiry and reconciliation release, change and audit each request once; reminders go through
the outbox (services/outbox.py): a crash anywhere before SES accepted a reminder still sends it exactly once, and
a crash after SES accepted it but before it was marked sent sends a copy with the same Message-ID."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from chalicelib.clock import system_clock
from chalicelib.domain.booking import PaymentStatus, Status
from chalicelib.services import outbox, payments, reminders
from tests.faults.crash import ProcessDied, dies_after, restart
from tests.faults.invariants import assert_consistent, stored_requests
from tests.integration.payments_support import body_of, book, booking_day, stored
from tests.integration.test_payments_reconcile import DEAD_WEBHOOK, _force
from tests.integration.test_reminders import NOW, api, booked, in_24h_window, sent_messages  # noqa: F401


def actions_by_request(app_container, ids) -> dict[str, list[str]]:
    return {rid: sorted(e["action"] for e in app_container.audit.for_entity(f"SR#{rid}")) for rid in ids}


def card_bookings(pay_api, users, count: int) -> list[str]:
    day = booking_day()
    return [body_of(book(pay_api, users["a"], f"hold-{i}", 9 + i, day=day))["id"] for i in range(count)]


@pytest.mark.parametrize("dependency,method", [("requests", "release"), ("stripe", "expire_session")])
def test_hold_expiry_killed_mid_run_is_finished_by_the_next_run(pay_api, users, stub, gateway, app_container,
                                                                dependency, method):
    ids = card_bookings(pay_api, users, 3)
    for request_id in ids:
        _force(request_id, hold_expires_at=stored(request_id).created_at - timedelta(minutes=1))
    dies_after(app_container, dependency, method, after=2)
    with pytest.raises(ProcessDied):
        payments.expire_holds(app_container)
    fresh = restart(app_container, stripe=gateway)

    summary = payments.expire_holds(fresh)
    assert summary["errors"] == 0 and summary["expired"] == (1 if method == "release" else 2), summary
    assert all((stored(r).status, stored(r).payment_status) == (Status.EXPIRED, PaymentStatus.EXPIRED) for r in ids)
    assert_consistent()  # every hold given back exactly once
    assert actions_by_request(fresh, ids) == {r: ["payment.checkout_opened", "payment.expired"] for r in ids}
    assert payments.expire_holds(fresh)["due"] == 0


# Which phase finds the payments: with no webhook endpoint Stripe counts its events delivered, so the open-payments
# phase does; with a dead endpoint they stay undelivered and the event-replay phase does.
PHASES = {"open": (None, "fixedPaid"), "events": (DEAD_WEBHOOK, "eventsReplayed")}


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("after", [1, 3])
def test_reconciliation_killed_mid_run_is_finished_by_the_next_run(pay_api, users, stub, gateway, app_container,
                                                                   phase, after):
    webhook_url, counted_as = PHASES[phase]
    ids = card_bookings(pay_api, users, 3)
    stub.webhook_url = webhook_url
    for request_id in ids:  # paid at Stripe; the webhooks never reached us
        stub.pay(stored(request_id).payment.session_id, "paid")
    stub.flush()
    dies_after(app_container, "requests", "save", after=after)
    with pytest.raises(ProcessDied):
        payments.reconcile_payments(app_container)
    # The next nightly run: the dead run's event claim is past its lease by then.
    fresh = restart(app_container, stripe=gateway, clock=lambda: system_clock() + timedelta(days=1))

    summary = payments.reconcile_payments(fresh)
    assert summary["complete"] is True and summary["errors"] == 0, summary
    assert summary[counted_as] == 3 - after and summary["changed"] == 3 - after, summary
    assert all(stored(r).payment_status is PaymentStatus.PAID for r in ids)
    assert_consistent()  # no claim left processing
    assert actions_by_request(fresh, ids) == {r: ["payment.checkout_opened", "payment.paid"] for r in ids}
    assert payments.reconcile_payments(fresh)["changed"] == 0


def reminders_sent() -> Counter:
    """E-mails per (booking, kind) as SES recorded them (the attachment is named after the booking)."""
    out: Counter = Counter()
    for raw in raw_messages():
        for request_id in (r.id for r in stored_requests()):
            if f"booking-{request_id}.ics" in raw:
                out[request_id] += 1
    return out


def raw_messages() -> list[str]:
    return [getattr(message, "raw_data", "") or "" for message in sent_messages()]


@pytest.mark.parametrize("dependency,method", [("requests", "save"), ("outbox", "add"), ("outbox", "claim"),
                                               ("notifier", "send")])
def test_reminders_killed_mid_run_are_sent_once_by_the_next_runs(api, booked, app_container, dependency, method):
    dies_after(app_container, dependency, method, after=2)
    with pytest.raises(ProcessDied):
        reminders.send_reminders(app_container, in_24h_window())
    fresh = restart(app_container, clock=lambda: NOW)

    reminders.send_reminders(fresh, in_24h_window() + timedelta(minutes=15))  # the next run
    fresh.override(clock=lambda: NOW + outbox.LEASE + timedelta(minutes=1))  # the dead run's lease has run out
    outbox.send_due(fresh)
    sent = reminders_sent()
    assert sorted(sent) == sorted(booked)  # none lost, whatever the crash
    if method == "send":  # SES took the second before the crash: sent again, recognisably the same message
        twice = [r for r, n in sent.items() if n == 2]
        assert len(twice) == 1 and sum(sent.values()) == len(booked) + 1
        ids = [line for raw in raw_messages() if f"booking-{twice[0]}.ics" in raw
               for line in raw.splitlines() if line.startswith("Message-ID:")]
        assert len(ids) == 2 and ids[0] == ids[1], ids
    else:
        assert all(n == 1 for n in sent.values()), sent
    assert reminders.send_reminders(fresh, in_24h_window() + timedelta(minutes=30))["sent"] == 0
    assert outbox.send_due(fresh)["sent"] == 0
