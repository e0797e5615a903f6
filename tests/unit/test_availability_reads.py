"""Availability reads ask the repository for the teams that can show slots, and nothing else."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from types import SimpleNamespace

from chalicelib.clock import FixedClock
from chalicelib.domain import availability as av
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.catalog import Catalog, Money, Service, Team, TeamMember, TimeWindow
from chalicelib.services import availability
from chalicelib.services.catalog import CatalogCache
from tests.fakes import FakeCatalogRepository, FakeServiceRequestRepository

HOURS = {d: (TimeWindow(time(9), time(12)),) for d in range(7)}
SERVICE = Service(id="svc", name="S", category="c", description="", duration_minutes=60, buffer_minutes=0,
                  slot_step_minutes=60, lead_time_minutes=0, base_price=Money(1), team_ids=("t1", "t2"))
TEAMS = {t: Team(id=t, name=t, timezone="UTC", weekly_hours=HOURS, daily_limit=9, slot_capacity=9)
         for t in ("t1", "t2")}
MEMBERS = {m: TeamMember(m, t, m, ("svc",)) for m, t in (("a", "t1"), ("b", "t1"), ("c", "t2"))}


class Spy(FakeServiceRequestRepository):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    def counters(self, first, last, consistent=False, *, teams):
        self.asked.append(sorted(teams))
        return super().counters(first, last, consistent, teams=teams)


def deps() -> SimpleNamespace:
    catalog = Catalog(services={"svc": SERVICE}, teams=TEAMS, members=MEMBERS)
    return SimpleNamespace(catalog=CatalogCache(FakeCatalogRepository(catalog)), requests=Spy(),
                           clock=FixedClock(datetime(2026, 11, 24, tzinfo=timezone.utc)))


def test_a_read_asks_for_the_serving_teams_or_the_chosen_members_team_only():
    d = deps()
    start = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    plan = av.plan_for(SERVICE, TEAMS["t1"], "a", start)
    d.requests.create(ServiceRequest(
        id="sr_1", user_id="u", service_id="svc", status=Status.CONFIRMED, payment_status=PaymentStatus.COD_DUE,
        payment_method=PaymentMethod.COD, price={"total": 1}, created_at=start, updated_at=start,
        placement=Placement(team_id="t1", member_id="a", start=start, end=start.replace(hour=10),
                            local_date=plan.local_date, timezone="UTC", cells=plan.cells)), plan)
    every = availability.get_availability(d, "svc", date(2026, 12, 1), date(2026, 12, 1), "UTC")
    assert d.requests.asked == [["t1", "t2"]]
    by_start: dict[str, int] = {}
    for slot in every["days"][0]["slots"]:  # one slot per team and start (each names its team)
        by_start[slot["start"]] = by_start.get(slot["start"], 0) + slot["remaining"]
    assert list(by_start.values()) == [2, 3, 3]  # b and c free at 9:00; a is not
    mine = availability.get_availability(d, "svc", date(2026, 12, 1), date(2026, 12, 1), "UTC", member_id="a")
    assert d.requests.asked[-1] == ["t1"]
    assert [s["remaining"] for s in mine["days"][0]["slots"]] == [0, 1, 1]
