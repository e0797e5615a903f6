"""Items the scheduled jobs read (moto in-process, botocore hooks in bench/ddb_counter.py):

- `items_read_expire_holds_10_due`: one expire_holds run with 10 holds due among 1,000 open ones (the due holds
  from the `holds` index plus the consistent re-read each transition makes); `_growth` is the ratio to the same
  run among 100 open holds.
- `items_read_reconcile_100_pending`: one reconciliation run with 100 open card payments among 5,000 future PAID
  bookings paid more than the lookback ago and 5 paid yesterday (the paid check reads those 5); `_growth` is
  the ratio to the same run among 1,000 PAID bookings.

Stripe is a stand-in that knows every session (no HTTP): these figures are about DynamoDB reads. The seeding
helpers are shared with tests/integration/test_job_reads.py."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from bench import ddb_counter

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # fixed: the figures never depend on the day they run


def job_request(index: int, *, start: datetime, status: str, payment_status: str, updated_at: datetime,
                hold_expires_at: datetime | None = None, session_id: str | None = None, method: str = "CARD"):
    """A stored service request of team t1 (UTC), as a job finds it."""
    from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
    from chalicelib.domain.payment import Payment
    placement = Placement(team_id="t1", member_id=f"m{index % 10}", start=start, end=start + timedelta(hours=1),
                          local_date=start.date().isoformat(), timezone="UTC",
                          cells=tuple((start + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%MZ") for i in range(4)))
    return ServiceRequest(
        id=f"sr_job_{index:06d}", user_id=f"user-{index % 300}", service_id="svc", placement=placement,
        status=Status(status), payment_status=PaymentStatus(payment_status), payment_method=PaymentMethod(method),
        price={"currency": "USD", "lines": [], "subtotal": 10000, "discount": 0, "total": 10000},
        created_at=min(updated_at, start - timedelta(days=1)), updated_at=updated_at, hold_expires_at=hold_expires_at,
        payment=Payment(amount=10000, currency="USD", attempt=1, session_id=session_id,
                        paid_session_id=session_id if payment_status == "PAID" else None))


def open_holds(total: int, due: int, now: datetime = NOW) -> Iterator:
    """`total` card bookings waiting for payment without a session (Stripe was down at booking), `due` of them
    past their hold."""
    for i in range(total):
        start = now + timedelta(days=3, hours=i % 200)
        hold = now - timedelta(minutes=1 + i) if i < due else now + timedelta(minutes=10 + i % 20)
        yield job_request(i, start=start, status="PENDING_PAYMENT", payment_status="UNPAID",
                          updated_at=now - timedelta(minutes=30), hold_expires_at=hold)


def paid_and_pending(paid: int, pending: int, recent: int, now: datetime = NOW, first: int = 0) -> Iterator:
    """`pending` open card payments (fresh sessions, hold ahead), `paid` future PAID bookings paid 3-30 days ago,
    `recent` future PAID bookings paid yesterday, and as many PAID bookings done in the past but changed
    yesterday (the paid check reads them and leaves them: their job started before its window)."""
    i = first
    for _ in range(pending):
        start = now + timedelta(days=2, hours=i % 100)
        yield job_request(i, start=start, status="PENDING_PAYMENT", payment_status="PENDING",
                          updated_at=now - timedelta(minutes=5), hold_expires_at=now + timedelta(minutes=40),
                          session_id=f"cs_open_{i}")
        i += 1
    for n in range(paid + recent):
        start = now + timedelta(days=1 + i % 60, hours=i % 10)
        changed = now - timedelta(days=1) if n >= paid else now - timedelta(days=3 + i % 27)
        yield job_request(i, start=start, status="CONFIRMED", payment_status="PAID", updated_at=changed,
                          session_id=f"cs_paid_{i}")
        i += 1
    for _ in range(recent):
        start = now - timedelta(days=5)
        yield job_request(i, start=start, status="COMPLETED", payment_status="PAID",
                          updated_at=now - timedelta(days=1), session_id=f"cs_paid_{i}")
        i += 1


def seed_catalog() -> None:
    """Service svc and team t1 (UTC, 10 members) that the seeded requests belong to."""
    from datetime import time

    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",)))
    hours = {d: (TimeWindow(time(0), time(23, 59)),) for d in range(7)}
    repo.put_team(Team(id="t1", name="UTC crew", timezone="UTC", weekly_hours=hours, daily_limit=500,
                       slot_capacity=10))
    for i in range(10):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",)))


def store(requests: Iterable) -> None:
    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    with ServiceRequestItem.batch_write() as batch:
        for request in requests:
            batch.save(to_item(request, 1))


@dataclass
class StripeStandIn:
    """Stripe as the seeded requests expect it: `cs_open_*` sessions open and fresh, `cs_paid_*` ones paid. Counts
    calls as the gateway does, and remembers which sessions were retrieved."""
    now: datetime = NOW
    calls: int = 0
    retrieved: list[str] = field(default_factory=list)

    def _session(self, session_id: str) -> dict:
        paid = session_id.startswith("cs_paid_")
        return {"id": session_id, "status": "complete" if paid else "open",
                "payment_status": "paid" if paid else "unpaid", "amount_total": 10000, "currency": "usd",
                "created": int(self.now.timestamp())}

    def retrieve_session(self, session_id: str) -> dict:
        self.calls += 1
        self.retrieved.append(session_id)
        return self._session(session_id)

    def expire_session(self, session_id: str) -> dict:
        self.calls += 1
        return {**self._session(session_id), "status": "expired"}

    def list_sessions(self, created_gte, limit: int = 100, **_kw) -> Iterator[list[dict]]:
        self.calls += 1
        return iter([])  # the listing missed everything: each request's session is retrieved

    def list_undelivered_events(self, since, types=None) -> Iterator[dict]:
        self.calls += 1
        return iter([])


def run_counted(job) -> tuple[dict, dict[str, int]]:
    """Run `job()` and return its result with the items read, by "<operation>:<index or table>"."""
    ddb_counter.reset()
    result = job()
    return result, ddb_counter.items_snapshot()


def _expire_reads(settings, open_total: int) -> int:
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.bootstrap import Container
    from chalicelib.services import payments
    create_tables(settings)
    seed_catalog()
    store(open_holds(open_total, 10))
    deps = Container(settings).override(clock=lambda: NOW, stripe=StripeStandIn())
    deps.catalog.get()  # a warm container: the catalog is cached
    summary, items = run_counted(lambda: payments.expire_holds(deps))
    assert summary["expired"] == 10, summary
    return sum(n for key, n in items.items() if key.partition(":")[2] in (settings.requests_table, "holds"))


def _reconcile_reads(settings, paid: int) -> int:
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.bootstrap import Container
    from chalicelib.services import payments
    create_tables(settings)
    seed_catalog()
    store(paid_and_pending(paid, 100, 5))
    deps = Container(settings).override(clock=lambda: NOW, stripe=StripeStandIn())
    deps.catalog.get()
    summary, items = run_counted(lambda: payments.reconcile_payments(deps))
    assert summary["complete"] and summary["changed"] == 0, summary
    return sum(n for key, n in items.items() if key.partition(":")[2] in (
        settings.requests_table, "open_payments", "paid_by_update"))


def figures() -> dict:
    from moto import mock_aws

    from chalicelib.settings import settings_from_env

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for key in ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(key, None)
    ddb_counter.install()
    out = {}
    runs = {"expire": {}, "reconcile": {}}
    for size in (100, 1000):
        with mock_aws():
            settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": f"bench-exp{size}-"})
            runs["expire"][size] = _expire_reads(settings, size)
    for size in (1000, 5000):
        with mock_aws():
            settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": f"bench-rec{size}-"})
            runs["reconcile"][size] = _reconcile_reads(settings, size)
    out["items_read_expire_holds_10_due"] = runs["expire"][1000]
    out["items_read_expire_holds_10_due_growth"] = round(runs["expire"][1000] / runs["expire"][100], 2)
    out["items_read_reconcile_100_pending"] = runs["reconcile"][5000]
    out["items_read_reconcile_100_pending_growth"] = round(runs["reconcile"][5000] / runs["reconcile"][1000], 2)
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(figures(), sort_keys=True))
