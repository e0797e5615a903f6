"""Availability reads: the bookable slots of a service over a date range (customers) and one team's slots on one
day (realtime pushes, series preview). Nothing here writes; the booking transaction decides."""
from __future__ import annotations

from datetime import date
from typing import Protocol

from chalicelib.domain import availability as av
from chalicelib.domain.errors import NotFound, RangeTooLarge, ValidationFailed
from chalicelib.services import service_areas
from chalicelib.services.catalog import require_service
from chalicelib.services.ports import CatalogSource, Clock, ServiceRequestRepository


class AvailabilityDeps(Protocol):
    catalog: CatalogSource
    requests: ServiceRequestRepository
    clock: Clock


def get_availability(deps: AvailabilityDeps, service_id: str, from_day: date, to_day: date, tz: str,
                     member_id: str | None = None, postal_code: str | None = None,
                     country: str | None = None) -> dict:
    """Every slot names its team. With a location, only the teams whose service area covers it (the teams a
    booking there would consider). Raises NotFound, RangeTooLarge, ValidationFailed, ServiceAreaNotCovered."""
    catalog = deps.catalog.get()
    service = require_service(catalog, service_id)
    if to_day < from_day:
        raise ValidationFailed("`to` is before `from`.", {"fields": [{"field": "to"}]})
    days = av.validate_range(from_day, to_day)
    if days > av.MAX_RANGE_DAYS:
        raise RangeTooLarge(details={"maxDays": av.MAX_RANGE_DAYS, "requestedDays": days})
    if member_id is not None and member_id not in {m.id for m in catalog.members_for(service.id)}:
        raise NotFound(details={"teamMemberId": member_id})
    window_start, window_end = av.requested_window(from_day, to_day, tz)
    teams = av.teams_for(catalog, service)
    if postal_code is not None:
        teams = service_areas.covering_teams(catalog, service, service_areas.locate(catalog, postal_code, country))
    if member_id is not None:  # only that member's team has slots to show
        teams = [t for t in teams if t.id == catalog.members[member_id].team_id]
    dates = [d for ds in av.team_local_dates(teams, window_start, window_end).values() for d in ds]
    # Only the teams that serve the service, only the days asked: the read is bounded by what is returned.
    snapshot = deps.requests.counters(min(dates), max(dates), teams=[t.id for t in teams]) if dates \
        else av.CounterSnapshot()
    return {"serviceId": service.id, "tz": tz, "from": from_day.isoformat(), "to": to_day.isoformat(),
            "days": av.availability(catalog, service, from_day, to_day, tz, deps.clock(), snapshot, member_id, teams)}


def day_slots(deps: AvailabilityDeps, service_id: str, team_id: str, local_day: str) -> list[dict]:
    """Remaining counts of one team's slots on one team-local date (for realtime pushes)."""
    catalog = deps.catalog.get()
    service = require_service(catalog, service_id)
    team = catalog.teams.get(team_id)
    if team is None:
        return []
    day = date.fromisoformat(local_day)
    snapshot = deps.requests.counters(day, day, consistent=True, teams=[team.id])  # right after our own write
    return [{"start": s.start.astimezone(av.zone(team.timezone)).isoformat(), "remaining": s.remaining}
            for s in av.team_slots(catalog, service, team, day, deps.clock(), snapshot)]
