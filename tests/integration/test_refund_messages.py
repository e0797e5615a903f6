"""The "refund issued" e-mail against moto (DynamoDB, its requests stream, SES) and the Stripe stub: one per refund
state reached, whether the webhook or reconciliation reports it, however often and in whatever order Stripe's
events arrive and however often the stream delivers a batch."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.adapters.notifier import MESSAGE_ID_HEADER
from chalicelib.api import streams
from devtools.seed import verify_sender
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, booking_day, deliver, gateway, pay_api,  # noqa: F401
                                                pay_catalog, stored, stub, users)
from tests.integration.test_cancel_refunds import SECRET, at, cancel
from tests.integration.test_outbox import sent
from tests.integration.test_refund_refusals import reconcile
from tests.integration.test_stream_poller import Recorder, poller
from tests.locations import AT_HOME


@pytest.fixture
def stream(pay_api, settings):
    """The requests stream as Lambda reads it; `deliver(times)` hands each batch to the app that many times."""
    verify_sender(settings)
    recorder = Recorder()
    reader = poller(settings, recorder)

    def deliver_batches(times: int = 1) -> None:
        reader.poll_once()
        for event in recorder.events:
            for _ in range(times):
                streams.on_requests_stream(event)
        recorder.events.clear()

    return deliver_batches


def paid_booking(pay_api, users, stub, key: str, hour: int, language: str = "en") -> str:
    body = {"serviceId": "svc", "start": (booking_day() + timedelta(hours=hour)).isoformat(), "paymentMethod": "CARD",
            "customerEmail": "ana@example.com", "language": language, **AT_HOME}
    created = pay_api.http.post("/portal/service-requests", body=json.dumps(body), headers={
        **auth(users["a"]), "Content-Type": "application/json", "Idempotency-Key": key})
    assert created.status_code == 201, created.body
    request_id = body_of(created)["id"]
    _, [completed] = stub.pay(stored(request_id).payment.session_id, "paid")
    deliver(pay_api, stub.events[completed], SECRET)
    return request_id


def ids() -> list[str]:
    return [str(m[MESSAGE_ID_HEADER]).strip() for m in sent()]  # a long id is folded onto its own header line


def refund_mails(request_id: str) -> list:
    return [m for m in sent() if str(m[MESSAGE_ID_HEADER]).strip().startswith(f"{request_id}.refund-issued.")]


def test_webhook_refund_events_in_any_order_and_repeated_send_one_message(pay_api, users, stub, stream):
    request_id = paid_booking(pay_api, users, stub, "m1", 9, language="es")
    stream()
    assert cancel(pay_api, users["a"], request_id).status_code == 200
    events = [stub.events[e] for e in stub.event_order if stub.events[e]["type"] in ("charge.refunded",
                                                                                      "refund.updated")]
    assert len(events) == 2
    for event in list(reversed(events)) + events:  # refund.updated first, then everything again
        deliver(pay_api, event, SECRET)
        stream(times=2)  # each batch delivered twice, as a Lambda retry does

    [mail] = refund_mails(request_id)
    assert str(mail[MESSAGE_ID_HEADER]).strip() == f"{request_id}.refund-issued.refunded-10000"
    assert mail["To"] == "ana@example.com" and mail["Subject"].startswith("Reembolso emitido: Cleaning")
    text, html = mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()
    for part in (text, html):
        assert "le devolvemos 100.00 USD a su tarjeta" in part and request_id in part
    kinds = [message_id.split(".")[1] for message_id in ids()]
    assert kinds == ["confirmation", "payment-received", "cancellation", "refund-issued"]
    cancellation = next(m for m in sent() if ".cancellation." in m[MESSAGE_ID_HEADER])
    assert "Le devolveremos 100.00 USD" in cancellation.get_body(("plain",)).get_content()


def test_a_refund_only_reconciliation_finds_sends_one_message_and_a_rerun_none(pay_api, users, stub, stream,
                                                                               app_container):
    request_id = paid_booking(pay_api, users, stub, "m2", 10)
    stream()
    at(app_container, stored(request_id).placement.start - timedelta(hours=2))  # late: half is kept
    assert body_of(cancel(pay_api, users["a"], request_id))["change"]["refund"] == 5000
    stream()  # its events are never delivered: only reconciliation learns the refund went through
    assert refund_mails(request_id) == []

    for _ in range(2):
        reconcile(pay_api, users)
        stream(times=2)
    [mail] = refund_mails(request_id)
    assert str(mail[MESSAGE_ID_HEADER]).strip() == f"{request_id}.refund-issued.partially_refunded-5000"
    text = mail.get_body(("plain",)).get_content()
    assert "Your refund has been issued: 50.00 USD of your payment of 100.00 USD" in text and request_id in text

    admin = pay_api.http.post(f"/admin/service-requests/{request_id}/refund", body=json.dumps({"reason": "fee waived"}),
                              headers={**auth(users["admin"]), "Content-Type": "application/json"})
    assert admin.status_code == 200, admin.body
    reconcile(pay_api, users)
    stream(times=2)
    assert [str(m[MESSAGE_ID_HEADER]).strip() for m in refund_mails(request_id)] == [
        f"{request_id}.refund-issued.partially_refunded-5000", f"{request_id}.refund-issued.refunded-10000"]
