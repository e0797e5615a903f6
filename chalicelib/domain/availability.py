"""Slot generation and remaining capacity. Pure: the caller passes the catalog, a counter snapshot and `now`.

Model:
- A team works weekly windows in its own IANA zone. Slot starts step through each window in *elapsed* time
  (UTC), so DST days have the right number of real hours: the spring-forward gap yields no slots, the
  repeated autumn hour yields both.
- A booking occupies 15-minute cells covering [start, start + duration + buffer). Per cell, a team counter
  must stay below the team's slot_capacity (crews working at once); per member, a busy cell keeps one
  person from being in two places. A team-day counter must stay below the daily limit (or an override).
- remaining(slot) = min(slot_capacity - busiest cell, day limit - day count, eligible members free).
  Cells are numbered and a member's busy cells are one integer bitmask (domain/cells.py): "free for the
  job" is one AND per member.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember
from chalicelib.domain.cells import CounterSnapshot, cell_number, span  # noqa: F401 - CounterSnapshot is part of this API
from chalicelib.domain.zones import load_zone

CELL = timedelta(minutes=15)
MAX_RANGE_DAYS = 31
UTC = timezone.utc


def zone(name: str) -> ZoneInfo:
    """A team's (or a validated request's) zone."""
    return load_zone(name)


def cell_key(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def cells_for(start: datetime, minutes: int) -> tuple[str, ...]:
    """Keys of the 15-minute cells covering [start, start + minutes)."""
    epoch = int(start.timestamp())
    first = epoch - epoch % int(CELL.total_seconds())
    end = epoch + minutes * 60
    step = int(CELL.total_seconds())
    return tuple(datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ") for t in range(first, end, step))


def local_date_of(instant: datetime, tz: str) -> date:
    return instant.astimezone(zone(tz)).date()


def occupied_minutes(service: Service) -> int:
    return service.duration_minutes + service.buffer_minutes


def candidate_starts(service: Service, team: Team, local_day: date) -> list[datetime]:
    """Slot starts (UTC) for a service on a team-local date, before capacity, blackouts and lead time."""
    tz = zone(team.timezone)
    starts: list[datetime] = []
    step = timedelta(minutes=service.slot_step_minutes)
    duration = timedelta(minutes=service.duration_minutes)
    for window in team.weekly_hours.get(local_day.weekday(), ()):
        begin = _wall_to_utc(local_day, window.start, tz)
        finish = _wall_to_utc(local_day, window.end, tz)
        t = begin
        while t + duration <= finish:
            starts.append(t)
            t += step
    return starts


def _wall_to_utc(day: date, wall, tz: ZoneInfo) -> datetime:
    """Local wall time -> UTC. Ambiguous (repeated) times take the first occurrence; a time inside a
    spring-forward gap is read with the offset before the gap, i.e. it moves forward by the gap (RFC 5545)."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def blackouts_for(catalog: Catalog, team: Team) -> tuple[Blackout, ...]:
    return team.blackouts + tuple(b for b in catalog.global_blackouts if b.team_id in (None, team.id))


def overlaps_blackout(start: datetime, end: datetime, blackouts: tuple[Blackout, ...]) -> Blackout | None:
    for b in blackouts:
        if start < b.end and b.start < end:
            return b
    return None


def slot_problem(catalog: Catalog, service: Service, team: Team, start: datetime, now: datetime) -> str | None:
    """Why `start` cannot be booked with this team regardless of capacity, or None.

    Reasons: past, lead_time, outside_hours (not a slot start of the team's hours), blackout.
    """
    if start <= now:
        return "past"
    if start < now + timedelta(minutes=service.lead_time_minutes):
        return "lead_time"
    if start not in candidate_starts(service, team, local_date_of(start, team.timezone)):
        return "outside_hours"
    end = start + timedelta(minutes=occupied_minutes(service))
    if overlaps_blackout(start, end, blackouts_for(catalog, team)):
        return "blackout"
    return None


def free_members(members: list[TeamMember], cells: tuple[str, ...] | range,
                 snapshot: CounterSnapshot) -> list[TeamMember]:
    numbers = cells if isinstance(cells, range) else _numbers(cells)
    wanted = snapshot.mask_of(numbers)
    return [m for m in members if not snapshot.busy.get(m.id, 0) & wanted]


def _numbers(cells: tuple[str, ...]) -> range:
    """Cell keys of one booking (consecutive) -> their numbers."""
    if not cells:
        return range(0)
    return range(cell_number(cells[0]), cell_number(cells[-1]) + 1)


def remaining_at(service: Service, team: Team, start: datetime, members: list[TeamMember],
                 snapshot: CounterSnapshot, day_left: int | None = None) -> int:
    """Bitmasks: the members free for the job's cells are those whose busy mask does not meet the job's mask.
    `day_left`: what the team-day still takes, when the caller already knows it."""
    numbers = span(start, occupied_minutes(service))
    by_slot = team.slot_capacity - snapshot.busiest(team.id, numbers)
    by_day = snapshot.day_left(team, local_date_of(start, team.timezone).isoformat()) if day_left is None \
        else day_left
    if min(by_slot, by_day) <= 0:
        return 0
    wanted = snapshot.mask_of(numbers)
    busy = snapshot.busy
    by_members = sum(1 for m in members if not busy.get(m.id, 0) & wanted)
    return max(0, min(by_slot, by_day, by_members))


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime
    remaining: int
    team_id: str


def team_slots(catalog: Catalog, service: Service, team: Team, local_day: date, now: datetime,
               snapshot: CounterSnapshot, member_id: str | None = None) -> list[Slot]:
    """Bookable slots of one team on one team-local date (remaining may be 0: shown as full)."""
    members = _members(catalog, service, team, member_id)
    return _day_slots(service, team, local_day, now, snapshot, members, blackouts_for(catalog, team))


def _members(catalog: Catalog, service: Service, team: Team, member_id: str | None) -> list[TeamMember]:
    members = catalog.members_for(service.id, team.id)
    return members if member_id is None else [m for m in members if m.id == member_id]


def _day_slots(service: Service, team: Team, local_day: date, now: datetime, snapshot: CounterSnapshot,
               members: list[TeamMember], blackouts: tuple[Blackout, ...]) -> list[Slot]:
    if not members:
        return []
    earliest = now + timedelta(minutes=service.lead_time_minutes)
    occupied = timedelta(minutes=occupied_minutes(service))
    duration = timedelta(minutes=service.duration_minutes)
    day_left = snapshot.day_left(team, local_day.isoformat())
    out = []
    for start in candidate_starts(service, team, local_day):
        if start <= now or start < earliest or overlaps_blackout(start, start + occupied, blackouts):
            continue
        out.append(Slot(start, start + duration, remaining_at(service, team, start, members, snapshot, day_left),
                        team.id))
    return out


def teams_for(catalog: Catalog, service: Service) -> list[Team]:
    return [catalog.teams[t] for t in service.team_ids if t in catalog.teams and catalog.teams[t].active]


def team_local_dates(teams: list[Team], start: datetime, end: datetime) -> dict[str, list[date]]:
    """Team-local dates that intersect [start, end) for each team."""
    out: dict[str, list[date]] = {}
    for team in teams:
        first = local_date_of(start, team.timezone)
        last = local_date_of(end - timedelta(microseconds=1), team.timezone)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        out[team.id] = days
    return out


def requested_window(from_day: date, to_day: date, tz: str) -> tuple[datetime, datetime]:
    """[from 00:00, to+1 00:00) in the customer's zone, as UTC instants."""
    z = zone(tz)
    start = datetime.combine(from_day, datetime.min.time(), tzinfo=z).astimezone(UTC)
    end = datetime.combine(to_day + timedelta(days=1), datetime.min.time(), tzinfo=z).astimezone(UTC)
    return start, end


def availability(catalog: Catalog, service: Service, from_day: date, to_day: date, tz: str, now: datetime,
                 snapshot: CounterSnapshot, member_id: str | None = None,
                 teams: list[Team] | None = None) -> list[dict]:
    """Days (in the customer's zone `tz`) with their slots. Each slot names the team that serves it: two teams
    free at one instant are two slots (in the service's team order), never merged into one count."""
    window_start, window_end = requested_window(from_day, to_day, tz)
    teams = teams_for(catalog, service) if teams is None else teams
    by_start: dict[datetime, list[tuple[Team, Slot]]] = {}
    for team in teams:
        members, blackouts = _members(catalog, service, team, member_id), blackouts_for(catalog, team)
        for local_day in team_local_dates([team], window_start, window_end)[team.id]:
            for slot in _day_slots(service, team, local_day, now, snapshot, members, blackouts):
                if window_start <= slot.start < window_end:
                    by_start.setdefault(slot.start, []).append((team, slot))
    z = zone(tz)
    days: dict[str, list[dict]] = {}
    day = from_day
    while day <= to_day:
        days[day.isoformat()] = []
        day += timedelta(days=1)
    for start in sorted(by_start):
        local = start.astimezone(z)
        for team, slot in by_start[start]:
            days.setdefault(local.date().isoformat(), []).append({
                "start": local.isoformat(), "end": slot.end.astimezone(z).isoformat(), "remaining": slot.remaining,
                "teamId": team.id, "teamTimezone": team.timezone})
    return [{"date": d, "slots": s} for d, s in days.items()]


def validate_range(from_day: date, to_day: date) -> int:
    """Number of days in the inclusive range; the caller maps errors (to < from, > 31 days)."""
    return (to_day - from_day).days + 1


@dataclass(frozen=True)
class CapacityPlan:
    """Everything a booking must atomically claim (and a cancellation give back)."""
    team_id: str
    member_id: str
    local_date: str
    cells: tuple[str, ...]
    daily_limit: int
    slot_capacity: int
    team_version: int
    timezone: str


def plan_for(service: Service, team: Team, member_id: str, start: datetime) -> CapacityPlan:
    return CapacityPlan(team_id=team.id, member_id=member_id,
                        local_date=local_date_of(start, team.timezone).isoformat(),
                        cells=cells_for(start, occupied_minutes(service)), daily_limit=team.daily_limit,
                        slot_capacity=team.slot_capacity, team_version=team.version,
                        timezone=team.timezone)


def least_loaded(members: list[TeamMember], local_day: str, snapshot: CounterSnapshot,
                 cells: tuple[str, ...], shuffle: Callable[[list], None] | None = None) -> list[TeamMember]:
    """Eligible members free for these cells, least busy that day first. Ties are broken by `shuffle` (in place,
    e.g. random.shuffle) so simultaneous bookings of one slot, which all see the same loads, try different members
    first instead of queueing on one; without it, by id (deterministic)."""
    free = free_members(members, cells, snapshot)
    if shuffle is None:
        return sorted(free, key=lambda m: (snapshot.member_loads.get((m.id, local_day), 0), m.id))
    free = list(free)
    shuffle(free)
    return sorted(free, key=lambda m: snapshot.member_loads.get((m.id, local_day), 0))  # stable: keeps the shuffle