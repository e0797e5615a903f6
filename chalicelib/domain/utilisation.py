"""A team's utilisation per team-local day, computed from the capacity counters the booking transaction keeps
(never from the requests). Pure: the caller passes the catalog and the counters it read.

Per day: bookings against the day's limit (the override on the team-day item, else the team's daily limit),
the busiest 15-minute cell against the crews (slot capacity), the busiest cell of each local wall hour (the
heatmap's row), each member's busy minutes against the team's working minutes, cancellations and no-shows.
Limits and crews other than a day override are the catalog's current values (the counters do not keep the
value a past day was booked under). A member's busy minutes are whole 15-minute cells and include the
service's buffer, as the booking holds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Mapping

from chalicelib.domain.availability import blackouts_for, zone
from chalicelib.domain.catalog import Catalog, Team

MAX_REPORT_DAYS = 92
CELL_MINUTES = 15
HOURS = 24
UTC = timezone.utc


@dataclass(frozen=True)
class TeamDayCounters:
    """The team-day item: `count`, `limitOverride`, s#<cell> counters, and the cancel/no-show tallies."""
    count: int = 0
    limit_override: int | None = None
    slots: Mapping[str, int] = field(default_factory=dict)  # UTC cell key "YYYY-MM-DDTHH:MMZ" -> bookings
    cancelled: int = 0
    no_shows: int = 0


@dataclass
class TeamCounters:
    """What a report reads for one team and a range of its local dates."""
    days: dict[str, TeamDayCounters] = field(default_factory=dict)  # local date -> team-day
    member_cells: dict[tuple[str, str], int] = field(default_factory=dict)  # (local date, member) -> busy cells


def report_days(first: date, last: date) -> int:
    """Days in [first, last]; the caller refuses more than MAX_REPORT_DAYS."""
    return (last - first).days + 1


def _cell_start(cell: str) -> datetime:
    return datetime.strptime(cell, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


def working_minutes(catalog: Catalog, team: Team, day: date) -> int:
    """Minutes of the team's weekly windows on this local date, less what team and global blackouts cover."""
    tz = zone(team.timezone)
    blackouts = blackouts_for(catalog, team)
    total = 0
    for window in team.weekly_hours.get(day.weekday(), ()):
        start = datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day, window.end, tzinfo=tz).astimezone(UTC)
        total += (end - start) // timedelta(minutes=1)
        # Overlaps of blackouts with one another are merged so a minute is taken off once.
        covered = sorted((max(b.start, start), min(b.end, end)) for b in blackouts if b.start < end and start < b.end)
        merged_end = start
        for low, high in covered:
            low = max(low, merged_end)
            if high > low:
                total -= (high - low) // timedelta(minutes=1)
                merged_end = high
    return max(total, 0)


def hour_peaks(slots: Mapping[str, int], tz: str) -> list[int]:
    """The busiest cell of each local wall hour 0..23. The hour repeated when clocks go back counts both of its
    occurrences (the larger); the hour skipped when they go forward stays 0."""
    peaks = [0] * HOURS
    local = zone(tz)
    for cell, bookings in slots.items():
        hour = _cell_start(cell).astimezone(local).hour
        peaks[hour] = max(peaks[hour], int(bookings))
    return peaks


def _peak_at(slots: Mapping[str, int], tz: str) -> tuple[int, str | None]:
    busy = {cell: int(n) for cell, n in slots.items() if int(n) > 0}
    if not busy:
        return 0, None
    peak = max(busy.values())
    first = min(cell for cell, n in busy.items() if n == peak)
    return peak, _cell_start(first).astimezone(zone(tz)).isoformat()


def day_report(catalog: Catalog, team: Team, day: date, counters: TeamCounters) -> dict:
    iso = day.isoformat()
    c = counters.days.get(iso, TeamDayCounters())
    peak, peak_at = _peak_at(c.slots, team.timezone)
    working = working_minutes(catalog, team, day)
    members = sorted({m.id for m in catalog.members.values() if m.team_id == team.id}
                     | {member for (d, member) in counters.member_cells if d == iso})
    return {
        "date": iso, "booked": c.count,
        "limit": team.daily_limit if c.limit_override is None else c.limit_override,
        "limitOverridden": c.limit_override is not None,
        "crews": team.slot_capacity, "peak": peak, "peakAt": peak_at,
        "hours": hour_peaks(c.slots, team.timezone), "workingMinutes": working,
        "members": [{"memberId": member,
                     "bookedMinutes": counters.member_cells.get((iso, member), 0) * CELL_MINUTES,
                     # a member no longer in the team (moved, removed) keeps the work it had, with no hours
                     "workingMinutes": working if _in_team(catalog, member, team) else 0}
                    for member in members],
        "cancelled": c.cancelled, "noShows": c.no_shows,
    }


def _in_team(catalog: Catalog, member_id: str, team: Team) -> bool:
    member = catalog.members.get(member_id)
    return member is not None and member.team_id == team.id


def report(catalog: Catalog, team: Team, first: date, last: date, counters: TeamCounters) -> dict:
    """The whole report: one entry per team-local date in [first, last], and totals."""
    days = [day_report(catalog, team, first + timedelta(days=n), counters) for n in range(report_days(first, last))]
    return {
        "teamId": team.id, "timezone": team.timezone, "from": first.isoformat(), "to": last.isoformat(),
        "days": days,
        "totals": {name: sum(d[name] for d in days)
                   for name in ("booked", "limit", "cancelled", "noShows", "workingMinutes")}
        | {"bookedMinutes": sum(m["bookedMinutes"] for d in days for m in d["members"])},
    }


def ratio(peak: int, crews: int) -> float:
    """Colour value of a heatmap cell: bookings over crews (a busy cell with no crews counts as full)."""
    if crews <= 0:
        return 1.0 if peak > 0 else 0.0
    return peak / crews
