"""send_reminders against moto (DynamoDB reminders GSI + SES v2): exactly one e-mail per reminder, even when
runs overlap; failed sends are released and retried by the next run."""
from __future__ import annotations

import email
import email.policy
import json
import threading
from datetime import datetime, timedelta, timezone

import icalendar
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.services import outbox, reminders
from tests.integration.conftest import auth

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# Tuesday 2026-12-01: two cleanings at 08:30 New York (two crews) and a plumbing job at 14:00 London, i.e.
# 13:30Z, 13:30Z, 14:00Z: two teams, two UTC-hour buckets, all inside one one-hour reminder window.
BOOKINGS = [("cleaning", "team-nyc", "2026-12-01T08:30:00-05:00"), ("cleaning", "team-nyc", "2026-12-01T08:30:00-05:00"),
            ("plumbing", "team-london", "2026-12-01T14:00:00+00:00")]
POSTAL_CODES = {"team-nyc": "10001", "team-london": "SW1A 1AA"}  # a location each crew covers
FIRST_START = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
LAST_START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def sent_messages() -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


@pytest.fixture
def api(client, app_container):
    """The demo seed verified MAIL_FROM in (mocked) SES, as the local stack does."""
    app_container.override(clock=lambda: NOW)
    return client


@pytest.fixture
def booked(api, tokens) -> list[str]:
    ids = []
    for i, (service_id, team_id, start) in enumerate(BOOKINGS):
        body = {"serviceId": service_id, "teamId": team_id, "start": start, "paymentMethod": "COD",
                "address": f"{i + 1} Main St", "postalCode": POSTAL_CODES[team_id]}
        user = tokens["userA" if i % 2 == 0 else "userB"]
        response = api.http.post("/portal/service-requests", body=json.dumps(body),
                                 headers={**auth(user), "Content-Type": "application/json",
                                          "Idempotency-Key": f"k{i}"})
        assert response.status_code == 201, response.body
        ids.append(json.loads(response.body)["id"])
    return ids


def in_24h_window() -> datetime:
    """A run time whose 24 h window (now+23h, now+24h] holds all three bookings (the last one at its edge)."""
    return LAST_START - timedelta(hours=24)


def run_concurrently(deps, now: datetime, runs: int) -> list[dict]:
    barrier = threading.Barrier(runs)
    results: list[dict] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            results.append(reminders.send_reminders(deps, now))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_overlapping_runs_send_exactly_one_email_per_reminder(app_container, booked):
    results = run_concurrently(app_container, in_24h_window(), runs=4)
    messages = sent_messages()
    assert len(messages) == len(booked)  # one e-mail per booking, not one per run
    assert sum(r["sent"] for r in results) == len(booked)
    assert sum(r["failed"] for r in results) == 0
    # Every run met every booking once: it either won the claim or saw it taken.
    assert sum(r["sent"] + r["skipped"] for r in results) == 4 * len(booked)
    for request_id in booked:
        assert app_container.requests.get(request_id).reminders_sent == ("24h",)
    # A later run inside the same window finds nothing left to send.
    again = reminders.send_reminders(app_container, in_24h_window() + timedelta(minutes=15))
    assert again["sent"] == 0 and len(sent_messages()) == len(booked)


def test_the_email_carries_the_invite_and_the_cancel_link(app_container, booked, settings):
    reminders.send_reminders(app_container, in_24h_window())
    by_recipient = {}
    for raw in sent_messages():
        message = email.message_from_string(raw.raw_data, policy=email.policy.default)
        by_recipient.setdefault(message["To"], []).append(message)
    assert set(by_recipient) == {"user-a@example.com", "user-b@example.com"}
    message = by_recipient["user-b@example.com"][0]
    assert message["From"] == settings.mail_from
    parts = {part.get_content_type(): part for part in message.walk()}
    text = parts["text/plain"].get_content()
    assert "/links/" in text and "/cancel" in text and "Home cleaning" in text
    cal = icalendar.Calendar.from_ical(parts["text/calendar"].get_payload(decode=True))
    (event,) = cal.walk("VEVENT")
    assert str(event["UID"]) == f"{booked[1]}@service-portal"
    assert event.decoded("DTSTART").astimezone(UTC) == FIRST_START


def test_24h_then_2h_reminders_and_the_index_forgets_finished_requests(app_container, booked):
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem

    reminders.send_reminders(app_container, in_24h_window())
    two_hours_before = LAST_START - timedelta(hours=2)
    result = reminders.send_reminders(app_container, two_hours_before)
    assert result["sent"] == len(booked)
    assert len(sent_messages()) == 2 * len(booked)
    for request_id in booked:
        assert set(app_container.requests.get(request_id).reminders_sent) == {"24h", "2h"}
        assert ServiceRequestItem.get(request_id).reminderBucket is None  # dropped out of the sparse index


def test_outside_the_windows_nothing_is_sent(app_container, booked):
    assert reminders.send_reminders(app_container, FIRST_START - timedelta(hours=30))["sent"] == 0
    assert reminders.send_reminders(app_container, FIRST_START - timedelta(hours=12))["sent"] == 0
    assert sent_messages() == []


def test_cancelled_requests_get_no_reminder(api, app_container, booked, tokens):
    response = api.http.post(f"/portal/service-requests/{booked[0]}/cancel", body="{}",
                             headers={**auth(tokens["userA"]), "Content-Type": "application/json"})
    assert response.status_code == 200
    result = reminders.send_reminders(app_container, in_24h_window())
    assert result["sent"] == len(booked) - 1
    assert app_container.requests.get(booked[0]).reminders_sent == ()


class FlakyNotifier:
    """Fails the first `failures` sends, then delegates to the real SES notifier."""

    def __init__(self, real, failures: int) -> None:
        self.real, self.failures = real, failures

    def send(self, *args, **kwargs):
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("SES unavailable")
        return self.real.send(*args, **kwargs)


def test_a_failed_send_stays_in_the_outbox_and_its_sender_retries_it(app_container, booked):
    app_container.override(notifier=FlakyNotifier(app_container.notifier, failures=1))
    first = reminders.send_reminders(app_container, in_24h_window())
    assert (first["sent"], first["deferred"], first["failed"]) == (len(booked) - 1, 1, 0)
    assert len(sent_messages()) == len(booked) - 1
    second = reminders.send_reminders(app_container, in_24h_window() + timedelta(minutes=15))
    assert (second["sent"], second["deferred"]) == (0, 0)  # recorded once: the next run adds nothing
    assert outbox.send_due(app_container)["sent"] == 0  # backing off (2 minutes after the first failure)
    app_container.override(clock=lambda: NOW + timedelta(minutes=3))
    assert outbox.send_due(app_container)["sent"] == 1
    assert len(sent_messages()) == len(booked)


def test_scheduled_handler_runs_the_job(api, app_container, booked):
    app_container.override(clock=in_24h_window)
    event = api.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    # chalice.test gives each invocation 3 s of Lambda time, so the job may stop at its deadline (a second of work
    # at least); the next invocation continues it.
    results = [api.lambda_.invoke("send_reminders", event).payload]
    while not results[-1]["complete"] and len(results) < 10:
        results.append(api.lambda_.invoke("send_reminders", event).payload)
    assert results[-1]["complete"] and sum(r["sent"] for r in results) == len(booked)
    assert sum(r["failed"] for r in results) == 0
    assert len(sent_messages()) == len(booked)
