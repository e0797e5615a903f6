"""Exactly once when the process dies: an invocation killed after the booking transaction and before its answer
leaves a booking whose answer its own transaction stored (a CARD booking's answer is stored after its Checkout
Session opens, so its record is still in progress); when the client retries with the same key —
while the record is still in progress, or after it expired — there is never a second booking and never a 409
for a key whose booking exists: the retry answers that booking (201, Idempotent-Replayed)."""
from __future__ import annotations

import json

import boto3
import pytest

from tests.integration.conftest import auth
from tests.integration.test_booking_api import api, body_of, book, counters, small_catalog, users  # noqa: F401


class DiesAfterTheTransaction:
    """The event bus of an invocation that is killed right after the booking transaction stood: the first
    publish raises SystemExit (not an Exception: nothing in the app may catch it, as with SIGKILL)."""

    def __init__(self, bus) -> None:
        self._bus = bus
        self.kills = 0

    def publish(self, event):
        if self.kills == 0:
            self.kills += 1
            raise SystemExit("killed after the booking transaction")
        return self._bus.publish(event)


@pytest.fixture
def dies_once(app_container):
    dying = DiesAfterTheTransaction(app_container.events)
    app_container.override(events=dying)
    return dying


def idempotency_records(settings) -> list[dict]:
    return boto3.resource("dynamodb", region_name="us-east-1").Table(settings.idempotency_table).scan()["Items"]


def expire_idempotency_records(settings) -> int:
    """What the in-progress record's expiry (or TTL) does to a crashed attempt's record: it is gone."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(settings.idempotency_table)
    items = table.scan()["Items"]
    for item in items:
        table.delete_item(Key={"id": item["id"]})
    return len(items)


def own_requests(api, token) -> list[dict]:
    return body_of(api.http.get("/portal/service-requests", headers=auth(token)))["items"]


def day_and_slot_counts() -> dict[str, int]:
    return {sk: n for sk, n in counters().items() if sk.endswith("#DAY") or "#S#" in sk}


def test_a_retry_after_the_process_died_and_the_record_expired_replays_the_one_booking(api, users, dies_once,
                                                                                     settings):
    with pytest.raises(SystemExit):
        book(api, users["a"], "crash-1")
    assert dies_once.kills == 1
    [stored] = own_requests(api, users["a"])  # the transaction stood
    assert expire_idempotency_records(settings) == 1

    retry = book(api, users["a"], "crash-1")
    assert retry.status_code == 201, retry.body
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert body_of(retry)["id"] == stored["id"]
    assert [r["id"] for r in own_requests(api, users["a"])] == [stored["id"]]
    assert counters()["2026-12-01#T#t1#DAY"] == 1

    again = book(api, users["a"], "crash-1")  # now an ordinary replay of the stored answer
    assert again.status_code == 201 and body_of(again)["id"] == stored["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_the_booking_transaction_stores_the_answer_so_a_retry_right_after_the_crash_replays_it(api, users, dies_once,
                                                                                              settings):
    with pytest.raises(SystemExit):
        book(api, users["a"], "crash-2")
    [stored] = own_requests(api, users["a"])
    [record] = idempotency_records(settings)
    assert record["status"] == "COMPLETED"  # written by the booking's own transaction, before the process died
    assert json.loads(record["data"])["body"]["id"] == stored["id"]

    retry = book(api, users["a"], "crash-2")
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert body_of(retry)["id"] == stored["id"]
    assert len(own_requests(api, users["a"])) == 1


def test_a_card_booking_whose_process_died_is_in_progress_until_its_record_expires_then_replays(api, users,
                                                                                                dies_once, settings):
    """A CARD booking's answer carries the Checkout Session opened after the write, so it is not stored by the
    transaction: the retry waits (409 + Retry-After), then finds the booking and opens its session."""
    with pytest.raises(SystemExit):
        book(api, users["a"], "crash-card", paymentMethod="CARD")
    [record] = idempotency_records(settings)
    assert record["status"] == "INPROGRESS"
    busy = book(api, users["a"], "crash-card", paymentMethod="CARD")
    assert busy.status_code == 409 and busy.headers.get("Retry-After")
    assert body_of(busy)["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
    expire_idempotency_records(settings)
    retry = book(api, users["a"], "crash-card", paymentMethod="CARD")
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    # The recovered booking's session is opened now (no Stripe here: the attempt is reported on the booking).
    assert body_of(retry)["paymentError"]["code"] == "PAYMENT_PROVIDER_UNAVAILABLE"
    assert len(own_requests(api, users["a"])) == 1


def test_a_full_slot_never_answers_a_key_whose_booking_exists(api, users, dies_once, settings):
    """The slot of 2 fills after the crash: the retry still answers the crashed attempt's booking, not 409."""
    with pytest.raises(SystemExit):
        book(api, users["a"], "crash-3")
    assert book(api, users["b"], "other-1").status_code == 201  # the slot of 2 is now full
    assert body_of(book(api, users["b"], "other-2"))["error"]["code"] in ("SLOT_FULL", "TEAM_DAY_FULL")
    expire_idempotency_records(settings)
    retry = book(api, users["a"], "crash-3")
    assert retry.status_code == 201, retry.body
    assert counters()["2026-12-01#T#t1#DAY"] == 2  # a's booking and b's, nothing more


def test_the_same_key_with_another_body_after_expiry_is_422_and_books_nothing(api, users, dies_once, settings):
    with pytest.raises(SystemExit):
        book(api, users["a"], "crash-4")
    expire_idempotency_records(settings)
    other = book(api, users["a"], "crash-4", start="2026-12-01T11:00:00-05:00")
    assert other.status_code == 422
    assert body_of(other)["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(own_requests(api, users["a"])) == 1
    assert counters()["2026-12-01#T#t1#DAY"] == 1


def test_another_users_same_key_is_their_own_booking(api, users, dies_once, settings):
    with pytest.raises(SystemExit):
        book(api, users["a"], "shared-key")
    expire_idempotency_records(settings)
    theirs = book(api, users["b"], "shared-key")
    assert theirs.status_code == 201 and theirs.headers.get("Idempotent-Replayed") is None
    assert body_of(theirs)["id"] != own_requests(api, users["a"])[0]["id"]
