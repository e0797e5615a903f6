"""The sparse keys the scheduled jobs query by, and their deadlines.

The holds index must show exactly the requests the old full read of open payments would have expired: the
expected rule below is that read's predicate, written out independently, and every combination of states is
tried at instants from the request's last write on (a job reads a write after it happened), before, at and
after the hold's end."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.dynamodb.job_keys import HOLD_PARTITION, job_index_attributes
from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.payment import Payment
from chalicelib.invocation import deadline_from
from chalicelib.services.reminders import window

UTC = timezone.utc
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
HOLD_END = NOW + timedelta(minutes=31)
LAST_WRITE = NOW - timedelta(minutes=3)  # the request's last change (e.g. its cancellation): before any job reads it


def request(status: Status, payment_status: PaymentStatus, session: bool, hold: bool,
            awaiting: bool) -> ServiceRequest:
    start = NOW + timedelta(days=2)
    return ServiceRequest(
        id="sr_1", user_id="u", service_id="s",
        placement=Placement("t", "m", start, start + timedelta(hours=1), start.date().isoformat(), "UTC"),
        status=status, payment_status=payment_status, payment_method=PaymentMethod.CARD, price={},
        created_at=LAST_WRITE, updated_at=LAST_WRITE, hold_expires_at=HOLD_END if hold else None,
        payment=Payment(session_id="cs_1" if session else None, awaiting_settlement=awaiting))


def old_full_read_expires(r: ServiceRequest, now: datetime) -> bool:
    """What expire_holds acted on when it read every open payment."""
    if r.payment_status not in (PaymentStatus.UNPAID, PaymentStatus.PENDING) or r.payment.awaiting_settlement:
        return False
    if r.status is not Status.PENDING_PAYMENT:
        return bool(r.payment.session_id)
    return r.hold_expires_at is not None and r.hold_expires_at <= now


def index_returns(r: ServiceRequest, now: datetime) -> bool:
    """The holds index's key condition: partition HOLD, holdExpiresAt <= now."""
    attrs = job_index_attributes(r)
    return attrs["holdKey"] == HOLD_PARTITION and attrs["holdExpiresAt"] <= f"{codec.iso_utc(now)}~"


STATES = list(itertools.product(Status, PaymentStatus, (True, False), (True, False), (True, False)))


@pytest.mark.parametrize("status, payment_status, session, hold, awaiting", STATES)
def test_the_holds_index_returns_what_the_full_read_would_have_expired(status, payment_status, session, hold,
                                                                         awaiting):
    r = request(status, payment_status, session, hold, awaiting)
    for now in (LAST_WRITE, NOW, HOLD_END - timedelta(seconds=1), HOLD_END, HOLD_END + timedelta(days=400)):
        assert index_returns(r, now) is old_full_read_expires(r, now), now
    attrs = job_index_attributes(r)
    assert (attrs["holdKey"] is None) is (attrs["holdExpiresAt"] is None)  # both or neither: sparse


@pytest.mark.parametrize("payment_status", list(PaymentStatus))
def test_only_paid_requests_carry_the_day_of_their_last_change(payment_status):
    """Paid, and paid with a refund under way or partial: reconciliation checks their refunds."""
    r = request(Status.CONFIRMED, payment_status, True, False, False)
    paid = (PaymentStatus.PAID, PaymentStatus.REFUND_PENDING, PaymentStatus.PARTIALLY_REFUNDED)
    expected = LAST_WRITE.date().isoformat() if payment_status in paid else None
    assert job_index_attributes(r)["paidDay"] == expected


class Countdown:
    def __init__(self, *readings: int) -> None:
        self.readings = list(readings)

    def get_remaining_time_in_millis(self) -> int:
        return self.readings.pop(0)


def test_the_deadline_is_the_lambda_time_left_minus_the_margin():
    out = deadline_from(Countdown(30_000, 5_001, 5_000))
    assert [out(), out()] == [False, True]


def test_a_short_invocation_still_gets_a_second_of_work():
    out = deadline_from(Countdown(3_000, 2_001, 2_000))
    assert [out(), out()] == [False, True]


def test_without_a_lambda_context_there_is_no_deadline():
    assert deadline_from(None) is None


def test_a_continued_run_covers_the_stopped_runs_window_and_its_own():
    later = NOW + timedelta(minutes=15)
    assert window("24h", later, since=NOW) == (NOW + timedelta(hours=23), later + timedelta(hours=24))
    assert window("2h", later, since=NOW) == (NOW + timedelta(hours=1), later + timedelta(hours=2))
    assert window("24h", later, since=None) == window("24h", later)


def test_a_continued_run_catches_up_one_window_at_most():
    much_later = NOW + timedelta(hours=5)
    assert window("2h", much_later, since=NOW)[0] == much_later  # never an appointment that has begun
    assert window("24h", much_later, since=NOW)[0] == much_later + timedelta(hours=22)
