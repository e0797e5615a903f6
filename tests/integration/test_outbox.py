"""Customer messages through the outbox, against moto (DynamoDB, its requests stream, SES v2): one message per
action even when the stream delivers a batch twice, one delivery when a sender dies between claim and send, one
send when two senders race, and parking after repeated failures."""
from __future__ import annotations

import email
import email.policy
import json
import threading
from datetime import timedelta

import icalendar
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.adapters.notifier import MESSAGE_ID_HEADER
from chalicelib.api import streams
from chalicelib.domain import messages
from chalicelib.services import outbox
from devtools.seed import verify_sender
from tests.faults.crash import ProcessDied, dies_after, restart
from tests.integration.conftest import auth
from tests.integration.test_booking_api import NOW, api, book, body_of, slot, small_catalog, users  # noqa: F401
from tests.integration.test_stream_poller import Recorder, poller


def sent() -> list[email.message.EmailMessage]:
    return [email.message_from_string(m.raw_data, policy=email.policy.default)
            for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages]


def ics_of(message) -> icalendar.Event | None:
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar":
            calendar = icalendar.Calendar.from_ical(part.get_content())
            return calendar["METHOD"], next(iter(calendar.walk("VEVENT")))
    return None


@pytest.fixture
def stream(api, settings):
    """The requests stream, read as Lambda would; `deliver()` hands what it read to the app's stream handler."""
    verify_sender(settings)
    recorder = Recorder()
    reader = poller(settings, recorder)

    def deliver(times: int = 1) -> None:
        reader.poll_once()
        for event in recorder.events:
            for _ in range(times):  # a redelivered batch (Lambda retries a failed batch)
                streams.on_requests_stream(event)
        recorder.events.clear()

    return deliver


def change(api, token, request_id: str, action: str, body: dict | None = None):
    response = api.http.post(f"/portal/service-requests/{request_id}/{action}",
                             headers={**auth(token), "Content-Type": "application/json"},
                             body=json.dumps(body) if body else "")
    assert response.status_code == 200, response.body
    return body_of(response)


def test_book_reschedule_cancel_send_one_message_each_even_when_the_stream_repeats(api, users, stream):
    created = body_of(book(api, users["a"], "k1", customerEmail="ana@example.com", language="es",
                           address="<b>1 Main St</b>"))
    stream(times=2)
    change(api, users["a"], created["id"], "reschedule", {"start": slot(11)})
    stream(times=2)
    change(api, users["a"], created["id"], "cancel")
    stream(times=2)

    mails = sent()
    assert [m[MESSAGE_ID_HEADER] for m in mails] == [f"{created['id']}.{kind}.{seq}" for kind, seq in
                                                      (("confirmation", 0), ("reschedule", 1), ("cancellation", 2))]
    assert all(m["To"] == "ana@example.com" for m in mails)
    assert mails[0]["Subject"].startswith("Reserva confirmada: Cleaning")
    assert [(method, int(event["SEQUENCE"])) for method, event in map(ics_of, mails)] == [
        ("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)]
    html = mails[0].get_body(("html",)).get_content()
    assert "&lt;b&gt;1 Main St&lt;/b&gt;" in html and "<b>1 Main St" not in html
    text = mails[1].get_body(("plain",)).get_content()
    assert "/reschedule" in text and "/cancel" in text and "/calendar.ics" in text
    assert "/cancel" not in mails[2].get_body(("plain",)).get_content()  # nothing left to cancel


def test_links_are_issued_again_for_the_new_start(api, users, stream, app_container):
    from chalicelib.domain import links
    created = body_of(book(api, users["a"], "k1", customerEmail="ana@example.com"))
    stream()
    change(api, users["a"], created["id"], "reschedule", {"start": slot(11)})
    stream()
    first, moved = (m.get_body(("plain",)).get_content() for m in sent())
    token = next(line.split("/links/")[1].split("/")[0] for line in moved.splitlines() if "Reschedule:" in line)
    secret = app_container.secrets.link_signing_secrets()[0]
    new_start = app_container.requests.get(created["id"]).placement.start
    assert links.verify(secret, token, links.RESCHEDULE, new_start - timedelta(seconds=1)) == created["id"]
    assert links.verify(secret, token, links.RESCHEDULE, new_start) is None
    assert token not in first


def test_a_sender_that_dies_between_claim_and_send_delivers_once_after_the_lease(api, users, stream, app_container):
    dies_after(app_container, "outbox", "claim")
    created = body_of(book(api, users["a"], "k1", customerEmail="ana@example.com"))
    with pytest.raises(ProcessDied):
        stream()
    fresh = restart(app_container, clock=lambda: NOW)
    assert outbox.send_due(fresh)["sent"] == 0 and sent() == []  # leased by the dead sender
    fresh.override(clock=lambda: NOW + outbox.LEASE + timedelta(seconds=1))
    assert outbox.send_due(fresh)["sent"] == 1
    assert outbox.send_due(fresh)["sent"] == 0
    assert [m[MESSAGE_ID_HEADER] for m in sent()] == [f"{created['id']}.confirmation.0"]


def test_two_concurrent_senders_send_each_message_once(api, users, app_container, settings):
    verify_sender(settings)
    requests = [app_container.requests.get(body_of(book(api, users["a"], f"k{i}", start=slot(9 + i),
                                                        customerEmail="ana@example.com"))["id"]) for i in range(3)]
    outbox.record(app_container, [messages.Message(messages.CONFIRMATION, "0", r) for r in requests])
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def run() -> None:
        barrier.wait()
        results.append(outbox.send_due(app_container))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["sent"] for r in results) == 3 and len(sent()) == 3
    assert sorted(m[MESSAGE_ID_HEADER] for m in sent()) == sorted(f"{r.id}.confirmation.0" for r in requests)


class DownNotifier:
    def send(self, *args, **kwargs):
        raise RuntimeError("SES down")


def test_a_message_failing_every_attempt_is_parked_and_alarmed(api, users, app_container, capsys):
    request = app_container.requests.get(body_of(book(api, users["a"], "k1", customerEmail="a@example.com"))["id"])
    app_container.override(notifier=DownNotifier())
    outbox.record(app_container, [messages.Message(messages.CONFIRMATION, "0", request)])
    outcomes = []
    for minute in range(0, 2 ** (outbox.MAX_ATTEMPTS + 1), 1):
        app_container.override(clock=lambda minute=minute: NOW + timedelta(minutes=minute))
        result = outbox.send_due(app_container)
        outcomes += [k for k in ("failed", "parked") for _ in range(result[k])]
    assert outcomes == ["failed"] * (outbox.MAX_ATTEMPTS - 1) + ["parked"]
    from chalicelib.observability import flush
    flush()
    assert '"OutboxParked"' in capsys.readouterr().out


def link_in(message, label: str) -> str:
    line = next(line for line in message.get_body(("plain",)).get_content().splitlines() if line.startswith(label))
    return line.split("/links/")[1].split("/")[0]


def test_the_reschedule_link_of_the_confirmation_moves_the_booking_and_only_that_one(api, users, stream,
                                                                                      app_container):
    created = body_of(book(api, users["a"], "k1", customerEmail="ana@example.com"))
    other = body_of(book(api, users["b"], "k2", customerEmail="bob@example.com", start=slot(10)))
    stream()
    token = link_in(sent()[0], "Reschedule:")
    headers = {"Content-Type": "application/json"}
    moved = api.http.post(f"/links/{token}/reschedule", headers=headers, body=json.dumps({"start": slot(12)}))
    assert moved.status_code == 200, moved.body
    assert body_of(moved)["id"] == created["id"] and body_of(moved)["start"].startswith("2026-12-01T17:00")
    assert app_container.requests.get(other["id"]).placement.start.hour == 15  # untouched
    entries = app_container.audit.for_entity(f"SR#{created['id']}")
    assert entries[-1]["actor"] == f"link:{created['id']}"
    assert api.http.post(f"/links/{token}/cancel", headers=headers, body="{}").status_code == 404  # wrong purpose
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api.http.post(f"/links/{tampered}/reschedule", headers=headers,
                         body=json.dumps({"start": slot(13)})).status_code == 404
    stream()
    assert [m[MESSAGE_ID_HEADER].split(".")[1] for m in sent()] == ["confirmation", "confirmation", "reschedule"]


class OutboxDown:
    def __init__(self, real) -> None:
        self.real = real

    def add(self, *args, **kwargs):
        from chalicelib.domain.errors import TemporarilyUnavailable
        raise TemporarilyUnavailable()

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_batch_whose_messages_cannot_be_recorded_fails_and_its_redelivery_sends_them(api, users, settings,
                                                                                      app_container):
    from chalicelib.domain.errors import TemporarilyUnavailable
    verify_sender(settings)
    recorder = Recorder()
    reader = poller(settings, recorder)
    created = body_of(book(api, users["a"], "k1", customerEmail="ana@example.com"))
    reader.poll_once()
    real = app_container.outbox
    app_container.override(outbox=OutboxDown(real))
    with pytest.raises(TemporarilyUnavailable):  # the stream keeps the batch and delivers it again
        streams.on_requests_stream(recorder.events[0])
    assert sent() == []
    app_container.override(outbox=real)
    streams.on_requests_stream(recorder.events[0])
    assert [m[MESSAGE_ID_HEADER] for m in sent()] == [f"{created['id']}.confirmation.0"]
