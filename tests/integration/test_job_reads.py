"""The scheduled jobs read what they act on, counted with botocore hooks (bench/ddb_counter.py) against moto:
expire_holds reads the due holds from the sparse `holds` index, the reconciliation reads the open payments and the
paid requests changed in its lookback, however many other requests the table holds. Requests are written with
`to_item` (the repository's one writer), as the bench does."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bench import ddb_counter
from bench.jobs import NOW, StripeStandIn, job_request, open_holds, paid_and_pending, run_counted, seed_catalog, store
from chalicelib.domain.booking import PaymentStatus, Status


@pytest.fixture
def jobs(tables, app_container):
    """The app's container at NOW, over empty tables plus team t1, with a Stripe that knows every session."""
    ddb_counter.install()
    seed_catalog()
    app_container.override(clock=lambda: NOW, stripe=StripeStandIn())
    app_container.catalog.get()  # warm, as a container that already served a request
    return app_container


def _requests_table_reads(items: dict[str, int], settings, *indexes: str) -> int:
    return sum(n for key, n in items.items() if key.partition(":")[2] in (settings.requests_table, *indexes))


def test_expire_holds_reads_the_due_holds_only_however_many_holds_are_open(jobs, settings):
    from chalicelib.services import payments
    store(open_holds(1000, 10))
    summary, items = run_counted(lambda: payments.expire_holds(jobs))
    assert summary["expired"] == 10 and summary["errors"] == 0
    assert items.get("Query:holds") == 10  # the index returned the due holds, nothing else
    assert items.get(f"GetItem:{settings.requests_table}") == 10  # each transition's consistent re-read
    assert _requests_table_reads(items, settings, "holds", "open_payments") == 20
    assert [jobs.requests.get(f"sr_job_{i:06d}").status for i in (0, 9, 10, 999)] == [
        Status.EXPIRED, Status.EXPIRED, Status.PENDING_PAYMENT, Status.PENDING_PAYMENT]

    # Expired holds left the index: the next run reads nothing.
    summary, items = run_counted(lambda: payments.expire_holds(jobs))
    assert summary["due"] == 0 and _requests_table_reads(items, settings, "holds") == 0

    # Three times the open holds, ten more due: the same reads.
    more = [r.with_changes(id=f"sr_more_{i:06d}") for i, r in enumerate(open_holds(2000, 10))]
    store(more)
    summary, items = run_counted(lambda: payments.expire_holds(jobs))
    assert summary["expired"] == 10 and _requests_table_reads(items, settings, "holds", "open_payments") == 20


def test_reconciliation_reads_the_open_payments_and_the_recently_changed_paid_only(jobs, settings):
    from chalicelib.services import payments
    store(paid_and_pending(paid=2000, pending=100, recent=5))
    # Paid here yesterday, not in Stripe: the paid check must still find it.
    store([job_request(900_000, start=NOW + timedelta(days=4), status="CONFIRMED", payment_status="PAID",
                       updated_at=NOW - timedelta(days=1), session_id="cs_open_900000")])
    summary, items = run_counted(lambda: payments.reconcile_payments(jobs))
    assert summary["complete"] and summary["open"] == 100
    assert summary["flaggedPaidNotInStripe"] == 1 and summary["changed"] == 1
    assert items.get("Query:open_payments") == 100
    # 6 future PAID changed yesterday (checked) + 5 done jobs changed yesterday (read, dropped by the start filter).
    assert items.get("Query:paid_by_update") == 11
    retrieved = set(jobs.stripe.retrieved)
    assert {f"cs_paid_{i}" for i in range(2100, 2105)} <= retrieved  # the recent paid ones were checked
    assert not any(f"cs_paid_{i}" in retrieved for i in range(100, 2100))  # paid long ago: not read at all
    first = _requests_table_reads(items, settings, "open_payments", "paid_by_update")

    store(paid_and_pending(paid=4000, pending=0, recent=0, first=10_000))  # three times the paid bookings
    summary, items = run_counted(lambda: payments.reconcile_payments(jobs))
    assert summary["complete"] and summary["changed"] == 0  # the flag was written once
    # The same requests: the flag is a note, not a change of the paid state's day.
    assert _requests_table_reads(items, settings, "open_payments", "paid_by_update") == first
    assert jobs.requests.get("sr_job_900000").payment_status is PaymentStatus.PAID
