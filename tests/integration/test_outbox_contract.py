"""The in-memory outbox (tests/outbox_fakes.py) and the DynamoDB one behave alike: stored once, claimed by one
sender at a time, claimable again when a lease runs out, finished only under the lease that claimed it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bench.jobs import job_request
from chalicelib.domain import messages
from tests.outbox_fakes import FakeOutbox

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
REQUEST = job_request(1, start=NOW + timedelta(days=2), status="CONFIRMED", payment_status="COD_DUE",
                      method="COD", updated_at=NOW).with_changes(customer_email="c@example.com", language="es")
MESSAGE = messages.Message(messages.CONFIRMATION, "0", REQUEST)


@pytest.fixture(params=["fake", "dynamodb"])
def store(request):
    if request.param == "fake":
        return FakeOutbox()
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.outbox_repository import DynamoOutbox
    return DynamoOutbox()


def test_a_message_is_stored_once(store):
    assert store.add(MESSAGE, "es", NOW) is True
    assert store.add(MESSAGE, "en", NOW + timedelta(hours=1)) is False
    assert store.due(NOW, 10) == [MESSAGE.id]
    assert store.due(NOW - timedelta(seconds=1), 10) == []


def test_one_claim_at_a_time_and_again_after_the_lease(store):
    store.add(MESSAGE, "es", NOW)
    entry = store.claim(MESSAGE.id, NOW, NOW + timedelta(minutes=5), "lease-1")
    assert (entry.message, entry.language, entry.attempts, entry.lease) == (MESSAGE, "es", 1, "lease-1")
    assert store.claim(MESSAGE.id, NOW, NOW + timedelta(minutes=5), "lease-2") is None
    assert store.due(NOW + timedelta(minutes=4), 10) == []
    later = NOW + timedelta(minutes=5)
    assert store.due(later, 10) == [MESSAGE.id]
    again = store.claim(MESSAGE.id, later, later + timedelta(minutes=5), "lease-2")
    assert again.attempts == 2
    assert store.mark_sent(MESSAGE.id, "lease-1", "ses-1", later) is False  # the dead sender's lease is gone
    assert store.mark_sent(MESSAGE.id, "lease-2", "ses-2", later) is True
    assert store.due(later + timedelta(days=1), 10) == []
    assert store.claim(MESSAGE.id, later + timedelta(days=1), later + timedelta(days=2), "lease-3") is None


def test_released_messages_come_back_when_due_and_parked_ones_never(store):
    store.add(MESSAGE, "es", NOW)
    store.claim(MESSAGE.id, NOW, NOW + timedelta(minutes=5), "lease-1")
    store.release(MESSAGE.id, "lease-1", NOW + timedelta(minutes=2), "boom", park=False)
    assert store.claim(MESSAGE.id, NOW + timedelta(minutes=1), NOW + timedelta(minutes=6), "x") is None
    assert store.claim(MESSAGE.id, NOW + timedelta(minutes=2), NOW + timedelta(minutes=7), "lease-2").attempts == 2
    store.release(MESSAGE.id, "lease-2", NOW, "boom", park=True)
    assert store.due(NOW + timedelta(days=1), 10) == []
    assert store.claim(MESSAGE.id, NOW + timedelta(days=1), NOW + timedelta(days=2), "lease-3") is None
