"""Slot generation, DST, blackouts, lead time and remaining capacity (pure domain)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from chalicelib.domain import availability as av
from chalicelib.domain.cells import cell_number
from chalicelib.domain.catalog import Blackout, Catalog, Money, Service, Team, TeamMember, TimeWindow

UTC = timezone.utc
EVERY_DAY = range(7)


def service(duration=60, buffer=0, step=60, lead=0) -> Service:
    return Service(id="svc", name="Svc", category="cleaning", description="", duration_minutes=duration,
                   buffer_minutes=buffer, slot_step_minutes=step, lead_time_minutes=lead,
                   base_price=Money(1000), team_ids=("t1",))


def team(tz="America/New_York", start="08:00", end="12:00", daily=10, slots=2, blackouts=()) -> Team:
    window = TimeWindow(time.fromisoformat(start), time.fromisoformat(end))
    return Team(id="t1", name="T1", timezone=tz, weekly_hours={d: (window,) for d in EVERY_DAY}, daily_limit=daily,
                slot_capacity=slots, blackouts=tuple(blackouts))


def catalog(t: Team, s: Service | None = None, members=3) -> Catalog:
    s = s or service()
    return Catalog(services={s.id: s}, teams={t.id: t},
                   members={f"m{i}": TeamMember(f"m{i}", t.id, f"M{i}", (s.id,)) for i in range(members)})


LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("tz,day,expected_first_utc", [
    ("America/New_York", date(2026, 3, 7), "2026-03-07T13:00Z"),   # EST, -05:00
    ("America/New_York", date(2026, 3, 8), "2026-03-08T12:00Z"),   # spring forward: EDT, -04:00
    ("America/New_York", date(2026, 10, 31), "2026-10-31T12:00Z"),
    ("America/New_York", date(2026, 11, 1), "2026-11-01T13:00Z"),  # fall back: EST again
    ("Europe/London", date(2026, 3, 28), "2026-03-28T08:00Z"),
    ("Europe/London", date(2026, 3, 29), "2026-03-29T07:00Z"),     # BST from 01:00 UTC
    ("Australia/Sydney", date(2026, 4, 4), "2026-04-03T21:00Z"),   # AEDT, +11
    ("Australia/Sydney", date(2026, 4, 5), "2026-04-04T22:00Z"),   # AEST from 03:00 local, +10
])
def test_first_slot_keeps_local_wall_time_across_dst(tz, day, expected_first_utc):
    starts = av.candidate_starts(service(), team(tz=tz), day)
    assert av.cell_key(starts[0]) == expected_first_utc
    assert starts[0].astimezone(av.zone(tz)).strftime("%H:%M") == "08:00"
    assert len(starts) == 4  # 08:00..11:00, one-hour jobs in a four-hour window


def test_spring_forward_night_window_counts_elapsed_hours():
    # 01:00-04:00 local on 2026-03-08 in New York is only two real hours (02:00-03:00 does not exist).
    starts = av.candidate_starts(service(), team(start="01:00", end="04:00"), date(2026, 3, 8))
    assert [s.astimezone(av.zone("America/New_York")).strftime("%H:%M") for s in starts] == ["01:00", "03:00"]


def test_fall_back_night_window_offers_the_repeated_hour():
    # 00:00-03:00 local on 2026-11-01 is four real hours: 01:00 happens twice (EDT then EST).
    starts = av.candidate_starts(service(), team(start="00:00", end="03:00"), date(2026, 11, 1))
    assert [av.cell_key(s) for s in starts] == ["2026-11-01T04:00Z", "2026-11-01T05:00Z", "2026-11-01T06:00Z",
                                                "2026-11-01T07:00Z"]


def test_availability_reports_slots_in_the_customer_zone_grouped_by_their_dates():
    t = team(tz="Europe/London", start="09:00", end="11:00")
    days = av.availability(catalog(t), service(), date(2026, 12, 1), date(2026, 12, 1), "America/New_York",
                           LONG_AGO, av.CounterSnapshot())
    assert days[0]["date"] == "2026-12-01"
    assert [s["start"] for s in days[0]["slots"]] == ["2026-12-01T04:00:00-05:00", "2026-12-01T05:00:00-05:00"]
    assert all(s["remaining"] == 2 for s in days[0]["slots"])


def test_lead_time_past_and_blackout_remove_slots():
    day = date(2026, 12, 1)
    blackout = Blackout("b1", datetime(2026, 12, 1, 15, 0, tzinfo=UTC), datetime(2026, 12, 1, 16, 0, tzinfo=UTC),
                        "training", "t1")
    t = team(blackouts=[blackout])  # 08:00-12:00 EST = 13:00-17:00 UTC
    now = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    slots = av.team_slots(catalog(t, service(lead=60)), service(lead=60), t, day, now, av.CounterSnapshot())
    # 13:00Z is inside the 60-minute lead time, 15:00Z is blacked out.
    assert [av.cell_key(s.start) for s in slots] == ["2026-12-01T14:00Z", "2026-12-01T16:00Z"]
    assert av.slot_problem(catalog(t), service(lead=60), t, datetime(2026, 12, 1, 13, 0, tzinfo=UTC), now) == "lead_time"
    assert av.slot_problem(catalog(t), service(), t, datetime(2026, 12, 1, 12, 0, tzinfo=UTC), now) == "past"
    assert av.slot_problem(catalog(t), service(), t, datetime(2026, 12, 1, 15, 0, tzinfo=UTC), now) == "blackout"
    assert av.slot_problem(catalog(t), service(), t, datetime(2026, 12, 1, 18, 0, tzinfo=UTC), now) == "outside_hours"
    assert av.slot_problem(catalog(t), service(), t, datetime(2026, 12, 1, 14, 30, tzinfo=UTC), now) == "outside_hours"


def test_remaining_is_the_tightest_of_slot_day_and_members():
    t = team(slots=3, daily=5)
    c = catalog(t, members=2)
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    cell = av.cell_key(start)
    members = c.members_for("svc", "t1")
    assert av.remaining_at(service(), t, start, members, av.CounterSnapshot()) == 2  # two people
    snap = av.CounterSnapshot()
    snap.add_slots("t1", [cell_number(cell)], 2)
    assert av.remaining_at(service(), t, start, members, snap) == 1  # three crews, two busy
    snap = av.CounterSnapshot(day_counts={("t1", "2026-12-01"): 5})
    assert av.remaining_at(service(), t, start, members, snap) == 0  # day full
    snap = av.CounterSnapshot(day_counts={("t1", "2026-12-01"): 5}, day_overrides={("t1", "2026-12-01"): 7})
    assert av.remaining_at(service(), t, start, members, snap) == 2  # override raised the limit
    snap = av.CounterSnapshot()
    snap.mark_busy("m0", [cell_number(cell)])
    assert av.remaining_at(service(), t, start, members, snap) == 1  # m0 is elsewhere


def test_buffer_blocks_the_following_cells_for_the_same_member():
    s = service(duration=60, buffer=30, step=30)
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    assert av.cells_for(start, av.occupied_minutes(s)) == (
        "2026-12-01T13:00Z", "2026-12-01T13:15Z", "2026-12-01T13:30Z", "2026-12-01T13:45Z",
        "2026-12-01T14:00Z", "2026-12-01T14:15Z")


def test_least_loaded_orders_by_day_load_then_id_and_skips_busy_members():
    t = team()
    c = catalog(t, members=3)
    cells = ("2026-12-01T13:00Z",)
    snap = av.CounterSnapshot(member_loads={("m0", "2026-12-01"): 2, ("m1", "2026-12-01"): 1})
    snap.mark_busy("m2", [cell_number("2026-12-01T13:00Z")])
    assert [m.id for m in av.least_loaded(c.members_for("svc"), "2026-12-01", snap, cells)] == ["m1", "m0"]


def test_least_loaded_breaks_ties_with_the_given_shuffle_and_never_puts_a_busier_member_first():
    import random

    t = team()
    c = catalog(t, members=6)
    cells = ("2026-12-01T13:00Z",)
    snap = av.CounterSnapshot(member_loads={("m0", "2026-12-01"): 1, ("m1", "2026-12-01"): 3})
    firsts = set()
    for seed in range(60):
        ordered = [m.id for m in av.least_loaded(c.members_for("svc"), "2026-12-01", snap, cells,
                                                 random.Random(seed).shuffle)]
        assert sorted(ordered[:4]) == ["m2", "m3", "m4", "m5"] and ordered[4:] == ["m0", "m1"]  # loads first
        firsts.add(ordered[0])
    assert firsts == {"m2", "m3", "m4", "m5"}  # every equally idle member leads some orders
