"""Customer messages over the real local stack: book, reschedule and cancel over HTTP; the stream poller hands
each change to the app's stream handler, which records and sends the messages; the mailbox lists what SES got:
one message per action, each with the right ICS method and SEQUENCE."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, time as wall, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e

NY = ZoneInfo("America/New_York")
SERVICE_ID = "e2e-messages"


def start_at(days_ahead: int, hour: int) -> str:
    return datetime.combine(datetime.now(NY).date() + timedelta(days=days_ahead), wall(hour), tzinfo=NY).isoformat()


def mailbox(stack, to: str, expected: int) -> list[dict]:
    """The recipient's messages once `expected` arrived (the stream poller works on its own schedule)."""
    url = stack.child("mailbox").url + "/messages"
    deadline = time.monotonic() + 60
    while True:
        found = requests.get(url, params={"to": to}, timeout=30).json()
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_book_reschedule_cancel_each_send_one_message_with_its_invite(stack):
    stack.add_service(SERVICE_ID, "team-e2e-messages", members=2, slot_capacity=2)
    to = f"{uuid.uuid4().hex[:10]}@example.com"
    headers = stack.auth("userA")
    booked = requests.post(stack.url("/portal/service-requests"), timeout=60, json={
        "serviceId": SERVICE_ID, "start": start_at(9, 10), "paymentMethod": "COD", "customerEmail": to,
        "language": "es", "postalCode": "10001"}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert booked.status_code == 201, booked.text
    request_id = booked.json()["id"]
    assert len(mailbox(stack, to, 1)) == 1
    moved = requests.post(stack.url(f"/portal/service-requests/{request_id}/reschedule"), timeout=60,
                          json={"start": start_at(9, 12)}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert len(mailbox(stack, to, 2)) == 2
    cancelled = requests.post(stack.url(f"/portal/service-requests/{request_id}/cancel"), timeout=60,
                              headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert len(mailbox(stack, to, 3)) == 3
    time.sleep(1)  # the poller has since handled whatever followed; anything sent twice would show up by now
    found = requests.get(stack.child("mailbox").url + "/messages", params={"to": to}, timeout=30).json()
    assert [m["messageId"] for m in found] == [f"{request_id}.confirmation.0", f"{request_id}.reschedule.1",
                                               f"{request_id}.cancellation.2"]
    assert [(a["method"], a["sequence"]) for m in found for a in m["attachments"]] == [
        ("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)]
    assert found[0]["subject"].startswith("Reserva confirmada") and "/links/" in found[0]["text"]
    page = requests.get(stack.child("mailbox").url + "/", timeout=30)
    assert page.status_code == 200 and request_id in page.text
