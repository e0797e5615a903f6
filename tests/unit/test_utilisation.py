"""The utilisation report computed from capacity items alone (fakes, no moto): jobs across midnight, DST days,
blackouts, members who left, the range bounds, other teams' items, and the SVG heatmap drawn from it."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, datetime, time, timezone
from types import SimpleNamespace

import pytest

from chalicelib.adapters.dynamodb import keys
from chalicelib.domain import availability as av
from chalicelib.domain import heatmap, utilisation
from chalicelib.domain.catalog import Blackout, Catalog, Money, Service, Team, TeamMember, TimeWindow
from chalicelib.domain.errors import NotFound, RangeTooLarge, ValidationFailed
from chalicelib.services import reports
from tests.fakes import FakeCapacityReport, FakeServiceRequestRepository

UTC = timezone.utc
SERVICE = Service(id="svc", name="Night works", category="c", description="", duration_minutes=120,
                  buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0, base_price=Money(100),
                  team_ids=("t1", "t2"))
HOURS = {d: (TimeWindow(time(8), time(12)), TimeWindow(time(13), time(23, 45))) for d in range(7)}
TEAM = Team(id="t1", name="NY", timezone="America/New_York", weekly_hours=HOURS, daily_limit=4, slot_capacity=2)
OTHER = replace(TEAM, id="t2")
MEMBERS = {m: TeamMember(id=m, team_id=t, display_name=m, service_ids=("svc",))
           for m, t in (("m1", "t1"), ("m2", "t1"), ("x1", "t2"))}


def deps(catalog: Catalog | None = None):
    repo = FakeServiceRequestRepository()
    catalog = catalog or Catalog(services={"svc": SERVICE}, teams={"t1": TEAM, "t2": OTHER}, members=MEMBERS)
    return SimpleNamespace(catalog=SimpleNamespace(get=lambda: catalog), capacity_report=FakeCapacityReport(repo),
                           repo=repo)


def claim(d, team: Team, member: str, start: datetime, request_id: str) -> None:
    """A booking's capacity items, as its transaction changes them."""
    for change in keys.changes(request_id, claim=av.plan_for(SERVICE, team, member, start)):
        d.repo.capacity[change.key] = keys.applied(change, d.repo.capacity.get(change.key))


def test_a_job_past_midnight_counts_on_its_day_and_its_cells_on_the_next():
    d = deps()
    claim(d, TEAM, "m1", datetime(2026, 12, 2, 4, 0, tzinfo=UTC), "late")  # 23:00-01:00 New York
    first, second = reports.team_utilisation(d, "t1", date(2026, 12, 1), date(2026, 12, 2))["days"]
    assert (first["booked"], second["booked"]) == (1, 0)
    assert first["hours"][23] == 1 and second["hours"][0] == 1 and sum(first["hours"] + second["hours"]) == 2
    assert first["peakAt"] == "2026-12-01T23:00:00-05:00" and second["peakAt"] == "2026-12-02T00:00:00-05:00"
    minutes = [{m["memberId"]: m["bookedMinutes"] for m in day["members"]} for day in (first, second)]
    assert minutes == [{"m1": 60, "m2": 0}, {"m1": 60, "m2": 0}]


def test_the_repeated_hour_of_a_dst_day_keeps_its_busier_occurrence():
    # 2026-11-01 New York: 01:00-02:00 happens twice (05:00Z EDT, then 06:00Z EST)
    slots = {"2026-11-01T05:00Z": 1, "2026-11-01T06:15Z": 3, "2026-11-01T07:00Z": 2}
    assert utilisation.hour_peaks(slots, "America/New_York")[1:3] == [3, 2]
    # 2026-03-08: 02:00 does not exist; its hour stays empty
    spring = {"2026-03-08T06:45Z": 1, "2026-03-08T07:00Z": 2}  # 01:45 EST, 03:00 EDT
    assert utilisation.hour_peaks(spring, "America/New_York")[1:4] == [1, 0, 2]


def test_working_minutes_subtract_overlapping_team_and_global_blackouts_once():
    day = date(2026, 12, 1)  # windows 08:00-12:00 and 13:00-23:45 New York = 14:45 h = 885 minutes
    team = replace(TEAM, blackouts=(Blackout("a", datetime(2026, 12, 1, 14, tzinfo=UTC),
                                             datetime(2026, 12, 1, 16, tzinfo=UTC), "", "t1"),))
    catalog = Catalog(teams={"t1": team}, global_blackouts=(
        Blackout("g", datetime(2026, 12, 1, 15, tzinfo=UTC), datetime(2026, 12, 1, 19, tzinfo=UTC), "storm"),
        Blackout("elsewhere", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC), "", "t2")))
    assert utilisation.working_minutes(Catalog(teams={"t1": TEAM}), TEAM, day) == 885
    # 09:00-14:00 covered (14:00Z-19:00Z), of which 12:00-13:00 was no work anyway: 240 minutes off
    assert utilisation.working_minutes(catalog, team, day) == 885 - 240


def test_a_member_who_left_keeps_the_work_and_no_hours_and_other_teams_are_not_read():
    d = deps()
    start = datetime(2026, 12, 1, 15, tzinfo=UTC)
    claim(d, TEAM, "gone", start, "r1")
    claim(d, OTHER, "x1", start, "r2")
    claim(d, OTHER, "x1", datetime(2026, 12, 1, 18, tzinfo=UTC), "r3")
    day = reports.team_utilisation(d, "t1", date(2026, 12, 1), date(2026, 12, 1))["days"][0]
    assert day["booked"] == 1 and day["peak"] == 1
    assert {m["memberId"]: (m["bookedMinutes"], m["workingMinutes"]) for m in day["members"]} == {
        "gone": (120, 0), "m1": (0, 885), "m2": (0, 885)}


def test_cancellations_no_shows_and_overrides_come_from_the_team_day_item():
    d = deps()
    d.repo.capacity[keys.team_day_key("t1", "2026-12-01")] = {"count": 3, "limitOverride": 7, "cancelled": 2,
                                                             "noShows": 1, "s#2026-12-01T15:00Z": 0}
    day = reports.team_utilisation(d, "t1", date(2026, 12, 1), date(2026, 12, 1))["days"][0]
    assert (day["booked"], day["limit"], day["limitOverridden"], day["cancelled"], day["noShows"]) == (3, 7, True,
                                                                                                     2, 1)
    assert (day["peak"], day["peakAt"]) == (0, None)  # a released cell at 0 is no peak


def test_range_and_team_are_checked_before_anything_is_read():
    d = deps()
    d.repo.fail_with = AssertionError("read")  # any read would fail the test
    with pytest.raises(RangeTooLarge) as too_long:
        reports.team_utilisation(d, "t1", date(2026, 1, 1), date(2026, 4, 3))  # 92 + 1 days
    assert too_long.value.details == {"maxDays": 92, "requestedDays": 93}
    with pytest.raises(ValidationFailed):
        reports.team_utilisation(d, "t1", date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(NotFound):
        reports.team_utilisation(d, "nope", date(2026, 1, 1), date(2026, 1, 1))
    d.repo.fail_with = None
    assert len(reports.team_utilisation(d, "t1", date(2026, 1, 1), date(2026, 4, 2))["days"]) == 92


def test_the_heatmap_escapes_text_and_colours_by_bookings_over_crews():
    day = {"date": "2026-12-01", "crews": 2, "hours": [0, 1, 2, 3] + [0] * 20}
    svg = heatmap.render({"teamId": "a<&\"b", "timezone": "Zone/X", "from": "2026-12-01", "to": "2026-12-01",
                          "days": [day]})
    root = ET.fromstring(svg)
    assert root.find("{http://www.w3.org/2000/svg}title").text.startswith('Utilisation of a<&"b')
    fills = [r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "cell"]
    assert fills[:4] == [heatmap.colour(0), heatmap.colour(0.5), heatmap.colour(1.0), heatmap.OVER]
    assert len(set(heatmap.colour(n / 10) for n in range(11))) == 11  # every tenth its own shade
    assert utilisation.ratio(1, 0) == 1.0 and utilisation.ratio(0, 0) == 0.0
