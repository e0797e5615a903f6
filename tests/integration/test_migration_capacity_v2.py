"""The capacity-v2 migration (devtools/migrations/capacity_v2.py): v1 items and active requests in, v2 items out
that equal the bookings, keep admin overrides, and serve availability and bookings; re-runs and resumes converge."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from chalicelib.domain import availability as av
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
from chalicelib.domain.errors import SlotFull, TeamDayFull
from tests.capacity_view import flat_counters

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
HOURS = {d: (TimeWindow(datetime.min.time().replace(hour=8), datetime.min.time().replace(hour=23)),)
         for d in range(7)}
T1 = Team(id="t1", name="NY", timezone="America/New_York", weekly_hours=HOURS, daily_limit=3, slot_capacity=2)
T2 = Team(id="t2", name="LDN", timezone="Europe/London", weekly_hours=HOURS, daily_limit=3, slot_capacity=1)
SVC = Service(id="svc", name="S", category="c", description="", duration_minutes=60, buffer_minutes=0,
              slot_step_minutes=60, lead_time_minutes=0, base_price=Money(100), team_ids=("t1", "t2"))
LATE = Service(id="late", name="L", category="c", description="", duration_minutes=60, buffer_minutes=120,
               slot_step_minutes=60, lead_time_minutes=0, base_price=Money(100), team_ids=("t1",))


@pytest.fixture
def store(tables, settings):
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    catalog = DynamoCatalogRepository()
    for team in (T1, T2):
        catalog.put_team(team)
    for member, team in (("m1", "t1"), ("m2", "t1"), ("m3", "t1"), ("x1", "t2")):
        catalog.put_member(TeamMember(member, team, member, ("svc", "late")))
    catalog.put_service(SVC)
    return DynamoServiceRequestRepository(settings.dynamodb_endpoint, settings.region)


def ny(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00-05:00").astimezone(timezone.utc)


def request_for(request_id: str, team: Team, member: str, start: datetime, service: Service = SVC,
                status: Status = Status.CONFIRMED) -> tuple[ServiceRequest, av.CapacityPlan]:
    plan = av.plan_for(service, team, member, start)
    return ServiceRequest(
        id=request_id, user_id="user-a", service_id=service.id, status=status,
        placement=Placement(team_id=team.id, member_id=member, start=start, end=start + timedelta(hours=1),
                            local_date=plan.local_date, timezone=team.timezone, cells=plan.cells),
        payment_status=PaymentStatus.COD_DUE, payment_method=PaymentMethod.COD, price={"total": 100},
        created_at=NOW, updated_at=NOW), plan


def v1_booking(request_id: str, team: Team, member: str, start: datetime, service: Service = SVC,
               status: Status = Status.CONFIRMED) -> ServiceRequest:
    """A request as v1 stored it: the request item, and (while active) the v1 counters and locks."""
    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.keys import cell_date
    from chalicelib.adapters.dynamodb.models import CapacityCounter as C
    request, plan = request_for(request_id, team, member, start, service, status)
    to_item(request, 1).save()
    if status is Status.CANCELLED:
        return request
    d = plan.local_date
    C(f"CAP#{d[:7]}", f"{d}#T#{team.id}#DAY").update(actions=[C.count.add(1)])
    C(f"CAP#{d[:7]}", f"{d}#T#{team.id}#M#{member}#DAY").update(actions=[C.count.add(1)])
    for cell in plan.cells:
        cd = cell_date(cell, team.timezone)
        C(f"CAP#{cd[:7]}", f"{cd}#T#{team.id}#S#{cell}").update(actions=[C.count.add(1)])
        C(f"CAP#{cd[:7]}", f"{cd}#T#{team.id}#M#{member}#S#{cell}", holder=request_id).save()
    return request


def v1_world() -> list[ServiceRequest]:
    from chalicelib.adapters.dynamodb.models import CapacityCounter as C
    made = [v1_booking("sr_1", T1, "m1", ny("2026-12-01", 10)), v1_booking("sr_2", T1, "m2", ny("2026-12-01", 10)),
            v1_booking("sr_3", T1, "m1", ny("2026-12-31", 22), service=LATE),  # runs into January 1st
            v1_booking("sr_4", T2, "x1", ny("2026-12-01", 10)),
            v1_booking("sr_5", T1, "m3", ny("2026-12-01", 15), status=Status.CANCELLED)]
    C("CAP#2026-12", "2026-12-01#T#t1#DAY").update(actions=[C.count.add(4)])  # drifted: bookings decide
    C("CAP#2026-12", "2026-12-02#T#t1#DAY", limitOverride=0, overrideReason="staff party").save()
    return made


def snapshot(repo, first: str, last: str):
    return repo.counters(date.fromisoformat(first), date.fromisoformat(last), consistent=True, teams=["t1", "t2"])


def test_migrated_counters_equal_the_bookings_keep_overrides_and_serve_bookings(store):
    from devtools.migrations import capacity_v2
    v1_world()
    summary = capacity_v2.run()
    assert summary["teamsDone"] == 2 and summary["teamsRemaining"] == 0
    snap = snapshot(store, "2026-12-01", "2026-12-02")
    assert snap.day_counts == {("t1", "2026-12-01"): 2, ("t2", "2026-12-01"): 1, ("t1", "2026-12-02"): 0}
    assert snap.day_overrides == {("t1", "2026-12-02"): 0}
    ten = av.plan_for(SVC, T1, "m1", ny("2026-12-01", 10)).cells
    assert snap.member_cells("m1") == set(ten) and snap.member_cells("m3") == set()
    assert all(snap.slot_count("t1", c) == 2 for c in ten)
    new_year = snapshot(store, "2026-12-31", "2027-01-01")
    assert len(new_year.member_cells("m1")) == 12 and new_year.day_counts[("t1", "2026-12-31")] == 1
    flat = flat_counters(nonzero=True)
    assert flat["2027-01-01#T#t1#M#m1#S#2027-01-01T05:00Z"] == 1 and "2027-01-01#T#t1#DAY" not in flat

    def book(request_id: str, member: str, start: datetime):
        return store.create(*request_for(request_id, T1, member, start))

    with pytest.raises(SlotFull):  # two crews at 10:00 already
        book("sr_6", "m3", ny("2026-12-01", 10))
    with pytest.raises(TeamDayFull):  # the override kept from v1
        book("sr_7", "m3", ny("2026-12-02", 10))
    book("sr_8", "m3", ny("2026-12-01", 12))
    assert av.remaining_at(SVC, T1, ny("2026-12-01", 16), [TeamMember("m3", "t1", "", ("svc",))],
                           snapshot(store, "2026-12-01", "2026-12-01")) == 0  # day limit 3 reached


def test_a_rerun_and_a_resumed_run_end_in_the_same_state_and_drop_what_was_cancelled_since(store):
    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from devtools.migrations import capacity_v2
    made = v1_world()
    first = capacity_v2.run(stop_after=1)
    assert (first["teamsMigrated"], first["teamsRemaining"]) == (1, 1)
    rest = capacity_v2.run()
    assert (rest["teamsMigrated"], rest["teamsRemaining"]) == (1, 0)
    state = flat_counters()
    assert capacity_v2.run()["teamsMigrated"] == 0  # finished: the checkpoint says so
    assert capacity_v2.run(restart=True)["teamsMigrated"] == 2 and flat_counters() == state

    cancelled = made[0].with_changes(status=Status.CANCELLED)
    to_item(cancelled, 2).save()  # cancelled after the first migration, by code that did not release
    capacity_v2.run(restart=True)
    after = snapshot(store, "2026-12-01", "2026-12-01")
    assert after.member_cells("m1") == set() and after.day_counts[("t1", "2026-12-01")] == 1
    assert after.member_loads.get(("m1", "2026-12-01"), 0) == 0


def test_the_registered_step_runs_resumes_and_reruns_from_the_top_when_asked(store, settings):
    from devtools import migrate
    v1_world()
    first = migrate.migrate(settings, only="capacity_v2", max_pages=1)["capacity_v2"]
    assert (first["teamsMigrated"], first["done"]) == (1, False)  # one team per page
    rest = migrate.migrate(settings, only="capacity_v2")["capacity_v2"]
    assert (rest["teamsMigrated"], rest["done"]) == (1, True)
    state = flat_counters()
    again = migrate.migrate(settings, only="capacity_v2")["capacity_v2"]  # done: an explicit rerun starts over
    assert again["teamsMigrated"] == 2 and flat_counters() == state
