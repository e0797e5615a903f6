"""One contract, two implementations: the in-memory fakes used by unit tests must behave like the DynamoDB
adapters (against moto), or unit tests would prove things about a store that does not exist."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from chalicelib.domain import availability as av
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.catalog import Money, Service, Team
from chalicelib.domain.errors import ConcurrentUpdate, SlotFull, TeamDayFull, ValidationFailed
from chalicelib.services.ports import MemberBusy, StaleCatalog, StaleRevision
from devtools.seed import MEMBERS, SERVICES, demo_global_blackouts, demo_teams
from tests.fakes import FakeAuditLog, FakeCapacityOverrides, FakeCatalogRepository, FakeServiceRequestRepository

TODAY = datetime(2026, 3, 2, tzinfo=timezone.utc).date()


@pytest.fixture(params=["fake", "dynamodb"])
def catalog_repo(request):
    if request.param == "fake":
        return FakeCatalogRepository()
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    return DynamoCatalogRepository()


def _fill(repo) -> None:
    for service in SERVICES:
        repo.put_service(service)
    for team in demo_teams(TODAY):
        repo.put_team(team)
    for member in MEMBERS:
        repo.put_member(member)
    for blackout in demo_global_blackouts(TODAY):
        repo.put_global_blackout(blackout)


def test_catalog_round_trips_every_field(catalog_repo):
    _fill(catalog_repo)
    catalog = catalog_repo.load()
    assert catalog.services == {s.id: s for s in SERVICES}
    assert catalog.teams == {t.id: t for t in demo_teams(TODAY)}
    assert catalog.members == {m.id: m for m in MEMBERS}
    assert catalog.global_blackouts == demo_global_blackouts(TODAY)


def test_writing_the_same_ids_again_replaces_instead_of_adding(catalog_repo):
    _fill(catalog_repo)
    renamed = replace(SERVICES[0], name="Renamed")
    catalog_repo.put_service(renamed)
    _fill(catalog_repo)
    catalog_repo.put_service(renamed)
    catalog = catalog_repo.load()
    assert len(catalog.services) == len(SERVICES) and len(catalog.members) == len(MEMBERS)
    assert catalog.services[renamed.id].name == "Renamed"


def test_team_write_with_a_stale_version_is_refused(catalog_repo):
    team = demo_teams(TODAY)[0]
    catalog_repo.put_team(team)  # version 1
    catalog_repo.put_team(replace(team, daily_limit=9, version=2), expected_version=1)
    with pytest.raises(ConcurrentUpdate):
        catalog_repo.put_team(replace(team, daily_limit=1, version=2), expected_version=1)
    assert catalog_repo.load().teams[team.id].daily_limit == 9


@pytest.fixture(params=["fake", "dynamodb"])
def audit_log(request):
    clock = {"now": datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)}

    def now():
        clock["now"] += timedelta(seconds=1)
        return clock["now"]

    if request.param == "fake":
        return FakeAuditLog(now=now)
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.audit_repository import DynamoAuditLog
    return DynamoAuditLog(now=now)


def test_audit_entries_by_entity_in_order_and_day_feed_newest_first_with_cursor(audit_log):
    for n in range(5):
        audit_log.record("TEAM#team-nyc", "admin:admin-1", "team.capacity", {"limit": n}, {"limit": n + 1},
                         reason=f"change {n}")
    audit_log.record("SR#r1", "system", "payment.paid", None, {"paymentStatus": "PAID"})
    history = audit_log.for_entity("TEAM#team-nyc")
    assert [e["before"]["limit"] for e in history] == [0, 1, 2, 3, 4]
    assert history[0]["reason"] == "change 0" and history[0]["actor"] == "admin:admin-1"

    first, cursor = audit_log.list(day="2026-03-02", limit=4)
    assert cursor is not None
    rest, end = audit_log.list(day="2026-03-02", cursor=cursor, limit=4)
    feed = first + rest
    assert end is None and len(feed) == 6
    assert [e["at"] for e in feed] == sorted((e["at"] for e in feed), reverse=True)
    assert audit_log.list(day="2026-03-03")[0] == []


def test_an_entity_history_pages_oldest_first_and_keeps_its_cursor_to_itself(audit_log):
    for n in range(7):
        audit_log.record("SR#r1", "system", f"step.{n}", None, None)
        audit_log.record("SR#r2", "system", f"other.{n}", None, None)
    seen, cursor = [], None
    while True:
        page, cursor = audit_log.entity_page("SR#r1", cursor, 3)
        assert len(page) <= 3
        seen += page
        if cursor is None:
            break
    assert [e["action"] for e in seen] == [f"step.{n}" for n in range(7)]
    _, first_cursor = audit_log.entity_page("SR#r1", None, 3)
    with pytest.raises(ValidationFailed):
        audit_log.entity_page("SR#r2", first_cursor, 3)
    assert audit_log.entity_page("SR#none", None, 3) == ([], None)


def test_audit_feed_rejects_a_forged_cursor(audit_log):
    with pytest.raises(ValidationFailed):
        audit_log.list(day="2026-03-02", cursor="not-base64-json")


# --- service requests and their capacity ---------------------------------------------------------------------
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
DAY = "2026-12-01"
SERVICE = Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                  buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0, base_price=Money(10000),
                  team_ids=("t1",))
# Two crews at once, three bookings a day.
TEAM = Team(id="t1", name="NY", timezone="America/New_York", weekly_hours={}, daily_limit=3, slot_capacity=2)


@pytest.fixture(params=["fake", "dynamodb"])
def request_store(request, settings):
    """(ServiceRequestRepository, the CapacityOverrides writing to the same capacity items)."""
    if request.param == "fake":
        repo = FakeServiceRequestRepository()
        return repo, FakeCapacityOverrides(repo)
    request.getfixturevalue("tables")
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    from chalicelib.adapters.dynamodb.capacity_store import DayOverrides
    return DynamoServiceRequestRepository(settings.dynamodb_endpoint, settings.region), DayOverrides()


def at(hour: int, day: str = DAY) -> datetime:
    """`hour` o'clock in New York on `day`."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00-05:00").astimezone(timezone.utc)


def booking(request_id: str, member: str = "m1", hour: int = 10, user: str = "user-a", created: datetime = NOW,
            day: str = DAY) -> tuple[ServiceRequest, av.CapacityPlan]:
    start = at(hour, day)
    plan = av.plan_for(SERVICE, TEAM, member, start)
    placement = Placement(team_id=TEAM.id, member_id=member, start=start, end=start + timedelta(hours=1),
                          local_date=plan.local_date, timezone=TEAM.timezone, cells=plan.cells)
    request = ServiceRequest(id=request_id, user_id=user, service_id=SERVICE.id, placement=placement,
                             status=Status.CONFIRMED, payment_status=PaymentStatus.COD_DUE,
                             payment_method=PaymentMethod.COD, price={"currency": "USD", "total": 10000},
                             created_at=created, updated_at=created, customer_email="a@example.com")
    return request, plan


def day_counters(repo, day: str = DAY, teams: tuple[str, ...] = (TEAM.id,)) -> av.CounterSnapshot:
    return repo.counters(date.fromisoformat(day), date.fromisoformat(day), consistent=True, teams=teams)


def test_a_request_round_trips_and_writes_are_conditional_on_the_revision_read(request_store):
    repo, _ = request_store
    request, plan = booking("sr_1")
    created = repo.create(request, plan)
    assert created == request.with_changes(revision=1)
    assert repo.get("sr_1") == created and repo.get("sr_missing") is None

    noted = repo.save(created, created.with_changes(notes="ring twice", updated_at=NOW + timedelta(minutes=1)))
    assert noted.revision == 2 and repo.get("sr_1") == noted
    with pytest.raises(StaleRevision):  # written from the revision-1 copy: another write came first
        repo.save(created, created.with_changes(notes="lost update"))
    assert repo.get("sr_1").notes == "ring twice"
    with pytest.raises(StaleRevision):  # the same id twice is never a second booking
        repo.create(request, av.plan_for(SERVICE, TEAM, "m2", at(14)))


def test_own_requests_newest_first_with_a_cursor(request_store):
    repo, _ = request_store
    for i in range(5):  # created in this order, booked for days in another
        repo.create(*booking(f"sr_a{i}", day=f"2026-12-0{5 - i}", created=NOW + timedelta(minutes=i)))
    repo.create(*booking("sr_b", member="m2", user="user-b"))
    pages, cursor = [], None
    while True:
        items, cursor = repo.list_for_user("user-a", cursor, 2)
        pages.append([r.id for r in items])
        if cursor is None:
            break
    assert pages == [["sr_a4", "sr_a3"], ["sr_a2", "sr_a1"], ["sr_a0"]]
    assert [r.id for r in repo.list_for_user("user-b", None, 10)[0]] == ["sr_b"]
    with pytest.raises(ValidationFailed):
        repo.list_for_user("user-a", "not-a-cursor", 2)


def test_capacity_is_claimed_within_every_limit_or_not_at_all(request_store):
    repo, overrides = request_store
    repo.create(*booking("sr_1", member="m1", hour=10))
    before = day_counters(repo)
    with pytest.raises(MemberBusy):  # m1 is already at 10:00
        repo.create(*booking("sr_2", member="m1", hour=10))
    assert day_counters(repo) == before  # nothing of a refused booking stays
    repo.create(*booking("sr_2", member="m2", hour=10))
    with pytest.raises(SlotFull):  # both crews busy at 10:00
        repo.create(*booking("sr_3", member="m3", hour=10))
    repo.create(*booking("sr_3", member="m3", hour=12))
    with pytest.raises(TeamDayFull):  # three bookings that day already
        repo.create(*booking("sr_4", member="m3", hour=15))
    assert repo.get("sr_4") is None

    counters = day_counters(repo)
    ten = av.plan_for(SERVICE, TEAM, "m1", at(10)).cells
    assert counters.day_counts[(TEAM.id, DAY)] == 3
    assert all(counters.slot_count(TEAM.id, cell) == 2 for cell in ten)
    assert counters.member_loads[("m1", DAY)] == 1 and counters.member_cells("m1") == set(ten)

    overrides.set(TEAM.id, DAY, 5, "extra crew")
    overrides.fence(TEAM.id, [DAY], 2)  # a schedule change to version 2 is under way
    with pytest.raises(StaleCatalog):  # planned from the version-1 catalog
        repo.create(*booking("sr_5", member="m4", hour=16))
    request, plan = booking("sr_5", member="m4", hour=16)
    repo.create(request, replace(plan, team_version=2))  # the override lifted the day limit to 5
    assert day_counters(repo).day_counts[(TEAM.id, DAY)] == 4


def test_release_gives_the_capacity_back_only_from_the_revision_read(request_store):
    repo, _ = request_store
    request, plan = booking("sr_1")
    created = repo.create(request, plan)
    moved = repo.save(created, created.with_changes(notes="changed meanwhile"))
    cancelled = created.with_changes(status=Status.CANCELLED, sequence=1)
    with pytest.raises(StaleRevision):
        repo.release(created, cancelled, plan)
    assert day_counters(repo).day_counts[(TEAM.id, DAY)] == 1 and repo.get("sr_1").status is Status.CONFIRMED

    released = repo.release(moved, moved.with_changes(status=Status.CANCELLED, sequence=1), plan)
    assert released.revision == 3 and repo.get("sr_1").status is Status.CANCELLED
    counters = day_counters(repo)
    assert counters.day_counts[(TEAM.id, DAY)] == 0 and counters.member_cells("m1") == set()
    assert all(counters.slot_count(TEAM.id, cell) == 0 for cell in plan.cells)
    repo.create(*booking("sr_2", member="m1", hour=10))  # the same member and slot are free again


def test_a_move_frees_the_old_slot_and_claims_the_new_one_atomically(request_store):
    repo, _ = request_store
    request, old_plan = booking("sr_1", hour=10)
    created = repo.create(request, old_plan)
    repo.create(*booking("sr_2", member="m2", hour=13))
    repo.create(*booking("sr_3", member="m3", hour=13))
    target, new_plan = booking("sr_1", hour=13)
    with pytest.raises(SlotFull):  # 13:00 has no crew left: nothing moves
        repo.move(created, target.with_changes(sequence=1), old_plan, new_plan)
    assert repo.get("sr_1").placement.start == at(10)

    target, new_plan = booking("sr_1", hour=15)
    moved = repo.move(created, target.with_changes(sequence=1), old_plan, new_plan)
    assert moved.revision == 2 and repo.get("sr_1").placement.start == at(15)
    counters = day_counters(repo)
    assert counters.day_counts[(TEAM.id, DAY)] == 3  # same day: the day counter is left alone
    assert all(counters.slot_count(TEAM.id, cell) == 0 for cell in old_plan.cells)
    assert counters.member_cells("m1") == set(new_plan.cells)


OTHER = replace(TEAM, id="t2", timezone="Europe/London")


def test_a_read_returns_only_the_teams_and_days_asked_for(request_store):
    repo, _ = request_store
    repo.create(*booking("sr_1", member="m1", hour=10))
    repo.create(*booking("sr_2", member="m1", hour=10, day="2026-12-02"))
    start = at(10)
    other = av.plan_for(SERVICE, OTHER, "x1", start)
    placement = Placement(team_id=OTHER.id, member_id="x1", start=start, end=start + timedelta(hours=1),
                          local_date=other.local_date, timezone=OTHER.timezone, cells=other.cells)
    repo.create(booking("sr_3")[0].with_changes(placement=placement), other)
    mine = day_counters(repo)
    assert mine.day_counts == {(TEAM.id, DAY): 1} and set(mine.busy) == {"m1"}
    assert set(mine.slots) == {TEAM.id} and mine.member_loads == {("m1", DAY): 1}
    both = day_counters(repo, teams=(TEAM.id, OTHER.id))
    assert both.day_counts == {(TEAM.id, DAY): 1, (OTHER.id, DAY): 1} and set(both.busy) == {"m1", "x1"}
    assert all(both.slot_count(OTHER.id, c) == 1 for c in other.cells)


def test_a_move_onto_overlapping_cells_keeps_the_shared_ones_and_frees_the_rest(request_store):
    repo, _ = request_store
    request, old_plan = booking("sr_1", hour=10)
    created = repo.create(request, old_plan)
    later = at(10) + timedelta(minutes=30)
    new_plan = av.plan_for(SERVICE, TEAM, "m1", later)
    moved = created.with_changes(placement=replace(created.placement, start=later, end=later + timedelta(hours=1),
                                                   cells=new_plan.cells), sequence=1)
    repo.move(created, moved, old_plan, new_plan)
    counters = day_counters(repo)
    assert counters.member_cells("m1") == set(new_plan.cells) and counters.day_counts[(TEAM.id, DAY)] == 1
    assert [counters.slot_count(TEAM.id, c) for c in old_plan.cells[:2]] == [0, 0]
    assert all(counters.slot_count(TEAM.id, c) == 1 for c in new_plan.cells)
    repo.create(*booking("sr_2", member="m2", hour=10))  # m1's old 10:00 cells are free for the crew count
    with pytest.raises(MemberBusy):  # but m1 now holds 10:30-11:30
        repo.create(*booking("sr_3", member="m1", hour=11))


def test_a_move_that_keeps_every_cell_still_checks_the_catalog_fence(request_store):
    repo, overrides = request_store
    request, plan = booking("sr_1", member="m1", hour=10)
    created = repo.create(request, plan)
    overrides.fence(TEAM.id, [DAY], 2)
    same_cells = av.plan_for(SERVICE, TEAM, "m1", at(10))
    with pytest.raises(StaleCatalog):
        repo.move(created, created.with_changes(sequence=1, notes="same slot"), plan, same_cells)
    repo.move(created, created.with_changes(sequence=1), plan, replace(same_cells, team_version=2))
    assert repo.get("sr_1").revision == 2


def test_a_job_crossing_midnight_holds_the_next_days_cells(request_store):
    repo, _ = request_store
    late = replace(SERVICE, buffer_minutes=120)  # 23:00 + 3 h: two hours on the next local day
    start = at(23)
    plan = av.plan_for(late, TEAM, "m1", start)
    placement = Placement(team_id=TEAM.id, member_id="m1", start=start, end=start + timedelta(hours=1),
                          local_date=plan.local_date, timezone=TEAM.timezone, cells=plan.cells)
    created = repo.create(booking("sr_1")[0].with_changes(placement=placement), plan)
    next_day = day_counters(repo, day="2026-12-02")
    assert len(next_day.member_cells("m1")) == 8 and next_day.day_counts.get((TEAM.id, "2026-12-02"), 0) == 0
    assert day_counters(repo).day_counts[(TEAM.id, DAY)] == 1 and len(day_counters(repo).member_cells("m1")) == 4
    repo.release(created, created.with_changes(status=Status.CANCELLED, sequence=1), plan)
    assert day_counters(repo, day="2026-12-02").member_cells("m1") == set()


def team_day_item(repo, day: str = DAY) -> dict:
    """The raw team-day item (attribute -> value) as the store holds it."""
    from chalicelib.adapters.dynamodb import capacity_store, keys
    key = keys.team_day_key(TEAM.id, day)
    if isinstance(repo, FakeServiceRequestRepository):
        return dict(repo.capacity.get(key, {}))
    raw = capacity_store.C._get_connection().get_item(*key, consistent_read=True).get("Item")
    return capacity_store.plain(raw) or {}


def test_cancel_and_no_show_add_their_tally_once_with_the_status_write(request_store):
    from chalicelib.domain.job import JobRecord
    repo, _ = request_store
    first, plan = booking("sr_1")
    created, other = repo.create(first, plan), repo.create(*booking("sr_2", member="m2", hour=12))
    cancelled = repo.release(created, created.with_changes(status=Status.CANCELLED, sequence=1), plan)
    with pytest.raises(StaleRevision):  # a replay from the old revision writes nothing, tally included
        repo.release(created, created.with_changes(status=Status.CANCELLED, sequence=1), plan)
    repo.save(cancelled, cancelled.with_changes(notes="still cancelled"))  # no status change: no tally
    missed = repo.save(other, other.with_changes(status=Status.NO_SHOW, job=JobRecord(no_show_at=NOW)))
    with pytest.raises(StaleRevision):
        repo.save(other, other.with_changes(status=Status.NO_SHOW))
    assert repo.get("sr_2") == missed and missed.job == JobRecord(no_show_at=NOW)
    item = team_day_item(repo)
    assert (item["cancelled"], item["noShows"], item["count"]) == (1, 1, 1)
