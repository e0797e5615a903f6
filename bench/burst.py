"""A burst on one slot: 20 bookings of the same start at once (threads against in-process moto, one mocked
request at a time as DynamoDB's isolation would have it), counting the TransactWriteItems they cost.

Every booking of the burst reads the same member loads, so with ties broken by id all of them try the same
member first and each loser tries the next: N(N+1)/2 transactions. Ties broken at random spread them.
"""
from __future__ import annotations

import os
import threading
from datetime import datetime, time, timezone

from bench import ddb_counter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
START = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
BURST = 20
MEMBERS = 30


def _serialise_moto() -> None:
    """One mocked request at a time (tests/conftest.py does the same for the tests)."""
    from moto.core.botocore_stubber import BotocoreStubber

    if getattr(BotocoreStubber.process_request, "_serialised", False):
        return
    original, lock = BotocoreStubber.process_request, threading.RLock()

    def process_request(self, request):
        with lock:
            return original(self, request)

    process_request._serialised = True
    BotocoreStubber.process_request = process_request


def _catalog(settings) -> None:
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow

    create_tables(settings)
    repo = DynamoCatalogRepository()
    repo.put_team(Team(id="t0", name="T0", timezone="America/New_York",
                       weekly_hours={d: (TimeWindow(time(8), time(18)),) for d in range(7)}, daily_limit=200,
                       slot_capacity=BURST))
    for m in range(MEMBERS):
        repo.put_member(TeamMember(id=f"m{m:02d}", team_id="t0", display_name="M", service_ids=("svc",)))
    repo.put_service(Service(id="svc", name="S", category="c", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t0",)))


def _burst(settings, prefix: str, shuffle=None) -> float:
    """Transactions per booking for BURST simultaneous bookings of START in a fresh warm container."""
    from chalicelib.bootstrap import Container
    from chalicelib.domain.booking import PaymentMethod
    from chalicelib.domain.principal import Principal
    from chalicelib.services import booking, submissions

    deps = Container(settings).override(clock=lambda: NOW)
    if shuffle is not None:
        deps.override(shuffle=shuffle)
    deps.load_snapshots.get(deps.requests, "t0", "2026-12-02")  # warm: every booking orders members from this read
    deps.catalog.get()
    barrier = threading.Barrier(BURST)
    outcomes: list[bool] = []

    def book(i: int) -> None:
        draft = booking.BookingDraft("svc", START, PaymentMethod.COD)
        barrier.wait()
        outcome = submissions.book_once(deps, Principal(f"{prefix}-{i}"), f"{prefix}-{i}",
                                        {"serviceId": "svc", "start": START.isoformat()}, draft,
                                        lambda r: {"id": r.id})
        outcomes.append(outcome.ok)

    ddb_counter.reset()
    threads = [threading.Thread(target=book, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(True) == BURST, outcomes
    return ddb_counter.snapshot().get("TransactWriteItems", 0) / BURST


def figures() -> dict:
    from moto import mock_aws

    from chalicelib.settings import settings_from_env
    from devtools import moto_transactions

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for key in ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(key, None)
    ddb_counter.install()
    _serialise_moto()
    moto_transactions.install()
    out = {}
    for name, shuffle in (("transactions_per_booking_burst_20", None),
                          ("transactions_per_booking_burst_20_ties_by_id", lambda members: None)):
        with mock_aws():
            settings = settings_from_env({**os.environ, "STAGE": "test", "TABLE_PREFIX": "burst-",
                                          "REALTIME_DELIVERY": "stream"})
            _catalog(settings)
            out[name] = round(_burst(settings, name, shuffle), 2)
    return out
