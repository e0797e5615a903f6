"""Which appointments a reminder run looks at: one-hour windows before the 24 h and 2 h marks, as UTC-hour buckets."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.services.reminders import due_kind, hour_buckets, window

UTC = timezone.utc
NOW = datetime(2026, 11, 30, 13, 45, tzinfo=UTC)


def request_starting(start: datetime, **changes) -> ServiceRequest:
    placement = Placement("t", "m", start, start + timedelta(hours=1), start.date().isoformat(), "UTC")
    base = ServiceRequest(id="sr_1", user_id="u", service_id="s", placement=placement, status=Status.CONFIRMED,
                          payment_status=PaymentStatus.COD_DUE, payment_method=PaymentMethod.COD, price={},
                          created_at=NOW, updated_at=NOW, customer_email="c@example.com")
    return base.with_changes(**changes)


def test_buckets_cover_both_ends_of_the_window():
    low, high = window("24h", NOW)
    assert (low, high) == (datetime(2026, 12, 1, 12, 45, tzinfo=UTC), datetime(2026, 12, 1, 13, 45, tzinfo=UTC))
    assert hour_buckets(low, high) == ["2026-12-01T12", "2026-12-01T13"]


def test_a_window_on_the_hour_needs_two_buckets_only():
    start, end = datetime(2026, 12, 1, 12, 0, tzinfo=UTC), datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    assert hour_buckets(start, end) == ["2026-12-01T12", "2026-12-01T13"]


@pytest.mark.parametrize("offset, kind, due", [
    (timedelta(hours=24), "24h", True),  # upper edge included
    (timedelta(hours=23), "24h", False),  # lower edge excluded (the next run's window)
    (timedelta(hours=23, minutes=1), "24h", True),
    (timedelta(hours=25), "24h", False),
    (timedelta(hours=2), "2h", True),
    (timedelta(minutes=61), "2h", True),
    (timedelta(minutes=59), "2h", False),
])
def test_window_edges(offset, kind, due):
    assert due_kind(request_starting(NOW + offset), kind, NOW) is due


@pytest.mark.parametrize("changes", [{"status": Status.CANCELLED}, {"status": Status.PENDING_PAYMENT},
                                     {"customer_email": None}, {"reminders_sent": ("24h",)}])
def test_not_due_when_cancelled_unconfirmed_without_email_or_already_sent(changes):
    assert due_kind(request_starting(NOW + timedelta(hours=24), **changes), "24h", NOW) is False


def test_every_appointment_is_in_four_consecutive_15_minute_runs():
    start = datetime(2026, 12, 1, 13, 40, tzinfo=UTC)
    runs = [start - timedelta(hours=25) + timedelta(minutes=15 * i) for i in range(12)]
    assert sum(due_kind(request_starting(start), "24h", run) for run in runs) == 4
