"""Cells as numbers, busy cells as bitmasks, and the capacity items a booking changes (adapters/dynamodb/keys.py)."""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, time, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.dynamodb import keys
from chalicelib.domain import availability as av
from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
from chalicelib.domain.cells import CounterSnapshot, cell_name, cell_number, origin_for, span

UTC = timezone.utc
SERVICE = Service(id="svc", name="S", category="c", description="", duration_minutes=90, buffer_minutes=30,
                  slot_step_minutes=30, lead_time_minutes=0, base_price=Money(1), team_ids=("t1",))
TEAM = Team(id="t1", name="T", timezone="America/New_York", daily_limit=40, slot_capacity=3,
            weekly_hours={d: (TimeWindow(time(7), time(19)),) for d in range(7)})


def test_cell_numbers_match_cell_keys_across_days_years_and_dst():
    for start in (datetime(2026, 12, 31, 23, 45, tzinfo=UTC), datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
                  datetime(2099, 12, 31, 23, 0, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC)):
        keys_ = av.cells_for(start, 150)
        assert [cell_number(k) for k in keys_] == list(span(start, 150))
        assert [cell_name(n) for n in span(start, 150)] == list(keys_)
    assert len(span(datetime(2026, 12, 1, 13, 5, tzinfo=UTC), 15)) == 2  # a start inside a cell covers two


def test_masks_rebase_when_an_earlier_cell_is_marked_and_ignore_cells_before_the_origin():
    snap = CounterSnapshot()
    late = span(datetime(2026, 12, 2, 10, tzinfo=UTC), 60)
    early = span(datetime(2026, 12, 1, 10, tzinfo=UTC), 60)
    snap.mark_busy("m1", late)
    snap.mark_busy("m2", early)
    assert not snap.is_free("m1", late) and not snap.is_free("m2", early)
    assert snap.is_free("m1", early) and snap.is_free("m2", late)
    assert snap.member_cells("m1") == {cell_name(n) for n in late}
    fixed = CounterSnapshot(origin=origin_for(date(2026, 12, 3)))  # from Dec 2, 00:00 UTC
    assert fixed.is_free("m1", early) and fixed.mask_of(early) == 0


def _reference_remaining(team, start, members, booked: dict[str, set[str]], counts: dict[str, int],
                         day_count: int) -> int:
    """The set-based computation the bitmasks replaced."""
    cells = av.cells_for(start, av.occupied_minutes(SERVICE))
    by_slot = team.slot_capacity - max(counts.get(c, 0) for c in cells)
    free = [m for m in members if booked.get(m.id, set()).isdisjoint(cells)]
    return max(0, min(by_slot, team.daily_limit - day_count, len(free)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), members=st.integers(1, 8), density=st.floats(0, 0.9))
def test_bitmask_availability_equals_the_set_based_computation(seed, members, density):
    rng = random.Random(seed)
    people = [TeamMember(f"m{i}", "t1", f"M{i}", ("svc",)) for i in range(members)]
    day = date(2026, 12, 1)
    snap = CounterSnapshot(origin=origin_for(day))
    booked: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    starts = av.candidate_starts(SERVICE, TEAM, day)
    for member in people:
        for start in starts:
            cells = av.cells_for(start, av.occupied_minutes(SERVICE))
            if rng.random() < density and booked.get(member.id, set()).isdisjoint(cells):
                booked.setdefault(member.id, set()).update(cells)
                snap.mark_busy(member.id, map(cell_number, cells))
                snap.add_slots("t1", map(cell_number, cells))
                for c in cells:
                    counts[c] = counts.get(c, 0) + 1
    day_count = rng.randint(0, 45)
    snap.day_counts[("t1", day.isoformat())] = day_count
    for start in starts:
        assert av.remaining_at(SERVICE, TEAM, start, people, snap) == _reference_remaining(
            TEAM, start, people, booked, counts, day_count)
    wanted = av.cells_for(starts[3], 120)
    assert av.least_loaded(people, day.isoformat(), snap, wanted) == [
        m for m in people if booked.get(m.id, set()).isdisjoint(wanted)]


def _plan(member: str, start: datetime, team: Team = TEAM) -> av.CapacityPlan:
    return av.plan_for(SERVICE, team, member, start)


def test_a_booking_changes_two_items_whatever_its_length():
    start = datetime(2026, 12, 1, 15, tzinfo=UTC)
    long_job = replace(SERVICE, duration_minutes=330)  # 24 cells with the buffer
    plan = av.plan_for(long_job, TEAM, "m1", start)
    assert len(plan.cells) == 24
    changes = keys.changes("sr_1", claim=plan)
    assert [c.key for c in changes] == [("CAP#t1#2026-12", "2026-12-01#DAY"), ("CAP#t1#2026-12", "2026-12-01#M#m1")]
    day, member = changes
    assert day.count == 1 and day.day_limit == TEAM.daily_limit and day.version == TEAM.version
    assert set(day.slots) == {keys.SLOT + c for c in plan.cells} and day.slot_capacity == TEAM.slot_capacity
    assert member.count == 1 and member.take == {keys.BUSY + c: "sr_1" for c in plan.cells} and not member.free


def test_a_move_touches_only_what_the_two_placements_do_not_share():
    old = _plan("m1", datetime(2026, 12, 1, 15, tzinfo=UTC))
    new = _plan("m1", datetime(2026, 12, 1, 15, 30, tzinfo=UTC))  # overlaps six of eight cells
    day, member = keys.changes("sr_1", claim=new, release=old)
    assert day.count == 0 and day.day_limit is None  # same day: the day count is left alone, unchecked
    assert day.slots == {keys.SLOT + old.cells[0]: -1, keys.SLOT + old.cells[1]: -1,
                         keys.SLOT + new.cells[-2]: 1, keys.SLOT + new.cells[-1]: 1}
    assert day.growing_slots() == sorted([keys.SLOT + new.cells[-2], keys.SLOT + new.cells[-1]])
    assert member.count == 0 and member.free == {keys.BUSY + c for c in old.cells[:2]}
    assert member.take == {keys.BUSY + c: "sr_1" for c in new.cells[-2:]}
    same = keys.changes("sr_1", claim=old, release=old)  # nothing moves, but the catalog fence is still checked
    assert [(c.label, c.has_actions, c.version) for c in same] == [("day", False, TEAM.version)]


def test_a_job_crossing_midnight_holds_cells_on_the_next_days_items():
    late = replace(TEAM, timezone="UTC")
    plan = av.plan_for(SERVICE, late, "m1", datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    got = {c.key: c for c in keys.changes("sr_1", claim=plan)}
    assert set(got) == {("CAP#t1#2026-12", "2026-12-31#DAY"), ("CAP#t1#2026-12", "2026-12-31#M#m1"),
                        ("CAP#t1#2027-01", "2027-01-01#DAY"), ("CAP#t1#2027-01", "2027-01-01#M#m1")}
    assert got[("CAP#t1#2027-01", "2027-01-01#DAY")].count == 0  # the day count belongs to the start's day
    assert len(got[("CAP#t1#2027-01", "2027-01-01#M#m1")].take) == 4


def test_failure_names_the_condition_the_stored_item_breaks():
    plan = _plan("m1", datetime(2026, 12, 1, 15, tzinfo=UTC))
    day, member = keys.changes("sr_1", claim=plan)
    cell = keys.SLOT + plan.cells[0]
    assert keys.failure(day, None) is None and keys.failure(member, None) is None
    assert keys.failure(day, {"fence": TEAM.version + 1}) == "team"
    assert keys.failure(day, {"count": TEAM.daily_limit}) == "day"
    assert keys.failure(day, {"count": TEAM.daily_limit, "limitOverride": TEAM.daily_limit + 1}) is None
    assert keys.failure(day, {"count": 1, "limitOverride": 1}) == "day"
    assert keys.failure(day, {cell: TEAM.slot_capacity}) == "slot"
    assert keys.failure(member, {keys.BUSY + plan.cells[-1]: "sr_0"}) == "member"
    assert keys.applied(day, {"count": 2, cell: 1, "fence": 1}) == {
        "count": 3, "fence": 1, **{keys.SLOT + c: 2 if c == plan.cells[0] else 1 for c in plan.cells}}
    assert keys.applied(member, None) == {"count": 1, **{keys.BUSY + c: "sr_1" for c in plan.cells}}
    released = keys.changes("sr_1", release=plan)
    assert all(keys.failure(c, {"count": 99}) is None for c in released)  # giving back is never refused
    assert keys.applied(released[1], keys.applied(member, None)) == {"count": 0}


def test_a_snapshot_reads_team_day_and_member_day_items():
    snap = CounterSnapshot(origin=origin_for(date(2026, 12, 1)))
    keys.absorb(snap, "CAP#t1#2026-12", "2026-12-01#DAY",
                {"count": 2, "limitOverride": 7, "s#2026-12-01T15:00Z": 2, "s#2026-12-01T15:15Z": 0})
    keys.absorb(snap, "CAP#t1#2026-12", "2026-12-01#M#m1", {"count": 1, "b#2026-12-01T15:00Z": "sr_1"})
    assert snap.day_counts == {("t1", "2026-12-01"): 2} and snap.day_overrides == {("t1", "2026-12-01"): 7}
    assert snap.slot_count("t1", "2026-12-01T15:00Z") == 2 and snap.slot_count("t1", "2026-12-01T15:15Z") == 0
    assert snap.member_loads == {("m1", "2026-12-01"): 1} and snap.member_cells("m1") == {"2026-12-01T15:00Z"}
    assert keys.team_of("CAP#team-nyc#2026-12") == "team-nyc"
