"""What a capacity read costs: items of the teams and days asked for, nothing of the rest of the company."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from chalicelib.domain import availability as av
from chalicelib.domain.catalog import Money, Service, Team
from tests.capacity_view import claim_directly

SERVICE = Service(id="svc", name="S", category="c", description="", duration_minutes=60, buffer_minutes=0,
                  slot_step_minutes=60, lead_time_minutes=0, base_price=Money(1), team_ids=("t1",))


def team(team_id: str) -> Team:
    return Team(id=team_id, name=team_id, timezone="America/New_York", weekly_hours={}, daily_limit=99,
                slot_capacity=99)


def book(team_id: str, members: int, per_member: int, days: int, first: date) -> None:
    for offset in range(days):
        for m in range(members):
            for n in range(per_member):
                start = datetime.combine(first + timedelta(days=offset), datetime.min.time(), timezone.utc) \
                    + timedelta(hours=13 + n)
                claim_directly(f"sr_{team_id}_{offset}_{m}_{n}", av.plan_for(SERVICE, team(team_id), f"{team_id}-m{m}",
                                                                            start))


def test_a_seven_day_read_of_one_team_reads_its_team_days_and_busy_member_days_only(tables, settings):
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    from chalicelib.adapters.dynamodb.models import CapacityCounter

    first = date(2026, 12, 1)
    book("t1", members=3, per_member=2, days=9, first=first - timedelta(days=1))  # also the days either side
    for other in ("t2", "t3", "t4"):
        book(other, members=10, per_member=3, days=7, first=first)  # 630 bookings of other teams, same dates
    read = []
    client = CapacityCounter._get_connection().connection.client
    client.meta.events.register("after-call.dynamodb.Query", lambda parsed, **_: read.append(parsed["ScannedCount"]))
    snapshot = DynamoServiceRequestRepository(settings.dynamodb_endpoint, settings.region).counters(
        first, first + timedelta(days=6), teams=["t1"])
    assert sum(read) == 7 * (1 + 3) and len(read) == 1  # one Query, one team-day + 3 member-days a day
    assert len(snapshot.day_counts) == 7 and set(snapshot.busy) == {"t1-m0", "t1-m1", "t1-m2"}
    read.clear()
    DynamoServiceRequestRepository(settings.dynamodb_endpoint, settings.region).counters(
        date(2026, 11, 30), date(2026, 12, 1), teams=["t1", "t2"])
    assert len(read) == 4 and sum(read) == (1 + 3) * 2 + (1 + 10)  # per team and month; t2 has no November


def test_a_booking_transaction_holds_the_request_and_two_capacity_items_whatever_the_jobs_length(tables, settings,
                                                                                                  monkeypatch):
    from dataclasses import replace

    from pynamodb.connection import Connection

    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    from tests.integration.test_repository_contracts import booking

    repo = DynamoServiceRequestRepository(settings.dynamodb_endpoint, settings.region)
    sizes = []
    send = Connection.transact_write_items

    def counted(self, condition_check_items=(), delete_items=(), put_items=(), update_items=(), **kw):
        sizes.append(len(condition_check_items) + len(delete_items) + len(put_items) + len(update_items))
        return send(self, condition_check_items, delete_items, put_items, update_items, **kw)

    monkeypatch.setattr(Connection, "transact_write_items", counted)
    request, plan = booking("sr_1")
    long_job = replace(plan, cells=av.cells_for(request.placement.start, 360))  # 24 cells
    repo.create(request.with_changes(placement=replace(request.placement, cells=long_job.cells)), long_job)
    created = repo.get("sr_1")
    moved_plan = replace(long_job, cells=av.cells_for(request.placement.start + timedelta(hours=1), 360))
    repo.move(created, created.with_changes(placement=replace(created.placement, cells=moved_plan.cells)), long_job,
              moved_plan)
    # request, team-day, member-day (the move nets the 20 shared cells per item); the booking also adds its price
    # to the day's revenue ledger item, a move moves no money
    assert sizes == [4, 3]
