"""A member's time off (`/admin/members/{id}/time-off`): it holds the member's cells like a booking does, so
their slots leave availability at once (no cache involved) and no booking can take them.

Over booked work it is refused (BOOKED_WORK_CONFLICT with the requests) unless `force` with a reason: then it
holds the member's free cells only and answers the bookings to reassign (POST /admin/service-requests/{id}/
reassign); they keep their member until moved.
"""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Protocol

from chalicelib.domain import availability as av
from chalicelib.domain import codec
from chalicelib.domain.errors import BookedWorkConflict, NotFound
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.services.catalog_admin import ID, CatalogAdminDeps, current, invalid
from chalicelib.services.ports import ServiceRequestRepository

MAX_DAYS = 14  # one transaction holds a member-day item per day (DynamoDB: 100 actions at most)
OFF = "OFF#"


class TimeOffStore(Protocol):
    def holders(self, team_id: str, member_id: str, tz: str, cells: Iterable[str]) -> dict[str, str]: ...

    def claim(self, team_id: str, member_id: str, tz: str, record: dict, cells: Iterable[str],
              audit: Callable[[Any], None]) -> None: ...

    def release(self, team_id: str, member_id: str, tz: str, record: dict, cells: Iterable[str],
                audit: Callable[[Any], None]) -> None: ...

    def get(self, member_id: str, time_off_id: str) -> dict | None: ...

    def page(self, member_id: str, cursor: str | None, limit: int) -> tuple[list[dict], str | None]: ...


class TimeOffDeps(CatalogAdminDeps, Protocol):
    time_off: TimeOffStore
    requests: ServiceRequestRepository


def _cells(start: datetime, end: datetime) -> tuple[str, ...]:
    return av.cells_for(start, math.ceil((end - start).total_seconds() / 60))


def _team_of(deps: TimeOffDeps, member: dict) -> Any:
    team = deps.catalog.get().teams.get(member["teamId"])
    if team is None:
        raise NotFound(details={"teamId": member["teamId"]})
    return team


def create(deps: TimeOffDeps, principal: Principal, member_id: str, start: datetime, end: datetime,
           reason: str | None, force: bool) -> dict:
    """Long because it validates, reads what holds the cells and decides before the one write."""
    if end <= start:
        raise invalid("end", "must be after start")
    if end - start > timedelta(days=MAX_DAYS):
        raise invalid("end", f"time off is at most {MAX_DAYS} days per entry")
    if end <= deps.clock():
        raise invalid("end", "must be in the future")
    member = current(deps, "member", member_id)
    team = _team_of(deps, member)
    cells = _cells(start, end)
    holders = deps.time_off.holders(team.id, member_id, team.timezone, cells)
    booked = sorted({h for h in holders.values() if not h.startswith(OFF)})
    if booked and not force:
        raise BookedWorkConflict(details={"serviceRequestIds": booked})
    record = {"id": "off_" + uuid.uuid4().hex[:12], "memberId": member_id, "teamId": team.id,
              "start": codec.iso_utc(start), "end": codec.iso_utc(end), "reason": reason or "",
              "forcedOver": booked}
    audit_reason = f"{reason} (forced over {len(booked)} bookings)" if booked else reason
    entry = deps.audit.action(f"MEMBER#{member_id}", principal.actor, "member.time_off.created", None, record,
                              audit_reason)
    deps.time_off.claim(team.id, member_id, team.timezone, record, [c for c in cells if c not in holders], entry)
    count("AdminChange", action="time_off_created")
    _publish(deps, team, cells)
    return {**record, "toReassign": [_booking_view(deps, r) for r in booked]}


def _booking_view(deps: TimeOffDeps, request_id: str) -> dict:
    request = deps.requests.get(request_id)
    if request is None:
        return {"id": request_id}
    return {"id": request.id, "serviceId": request.service_id, "start": codec.iso_utc(request.placement.start),
            "end": codec.iso_utc(request.placement.end), "status": request.status.value}


def delete(deps: TimeOffDeps, principal: Principal, member_id: str, time_off_id: str, reason: str | None) -> None:
    member = current(deps, "member", member_id)
    record = deps.time_off.get(member_id, time_off_id) if ID.fullmatch(time_off_id) else None
    if record is None:
        raise NotFound(details={"timeOffId": time_off_id})
    team = _team_of(deps, member)
    cells = _cells(codec.parse_iso(record["start"]), codec.parse_iso(record["end"]))
    entry = deps.audit.action(f"MEMBER#{member_id}", principal.actor, "member.time_off.deleted", record, None,
                              reason)
    deps.time_off.release(team.id, member_id, team.timezone, record, cells, entry)
    count("AdminChange", action="time_off_deleted")
    _publish(deps, team, cells)


def list_time_off(deps: TimeOffDeps, member_id: str, cursor: str | None, limit: int) -> dict:
    current(deps, "member", member_id)
    items, next_cursor = deps.time_off.page(member_id, cursor, limit)
    return {"items": items, "nextCursor": next_cursor}


def _publish(deps: TimeOffDeps, team: Any, cells: tuple[str, ...]) -> None:
    days = sorted({av.local_date_of(codec.parse_iso(c.replace("Z", ":00Z")), team.timezone).isoformat()
                   for c in cells})
    capacity.publish_team_change(deps, team.id, days)
