"""Admin use cases: team hours/blackouts/limits, day overrides, request lists, audit. Every change is audited."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain import codec
from chalicelib.domain.booking import ACTIVE_STATUSES, ServiceRequest
from chalicelib.domain.catalog import Blackout, Team
from chalicelib.domain.errors import BookedWorkConflict, NotFound, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.services.ports import (AuditLog, CapacityOverrides, CatalogRepository, Clock,
                                       ServiceRequestRepository)

LONGEST_JOB = timedelta(hours=12)  # how far before a blackout a booking may start and still run into it
FENCE_DAYS = 400  # how far ahead a new blackout's team-days are fenced against bookings from stale catalogs


class AdminDeps(capacity.PublishDeps, Protocol):
    catalog_repo: CatalogRepository  # writes; reads go through the cached `catalog`
    requests: ServiceRequestRepository
    capacity_overrides: CapacityOverrides
    audit: AuditLog
    clock: Clock


def _team(deps: AdminDeps, team_id: str) -> Team:
    team = deps.catalog.get().teams.get(team_id)
    if team is None:
        raise NotFound(details={"teamId": team_id})
    return team


def team_availability_view(team: Team) -> dict:
    doc = codec.team_to_doc(team)
    return {"teamId": team.id, "timezone": team.timezone, "weeklyHours": doc["weeklyHours"],
            "blackouts": doc["blackouts"], "version": team.version}


def get_team_availability(deps: AdminDeps, team_id: str) -> dict:
    return team_availability_view(_team(deps, team_id))


def booked_work_in(deps: AdminDeps, team_id: str, blackouts: list[Blackout]) -> list[ServiceRequest]:
    """Active bookings of the team overlapping any of these blackouts: per active status, the team-and-status
    list over the window (cancelled and finished bookings are never read)."""
    hits: dict[str, ServiceRequest] = {}
    for b, status in ((b, s) for b in blackouts for s in sorted(s.value for s in ACTIVE_STATUSES)):
        cursor = None
        while True:
            items, cursor = deps.requests.admin_list(
                status=status, payment_status=None, team_id=team_id,
                start_from=codec.iso_utc(b.start - LONGEST_JOB), start_to=codec.iso_utc(b.end), cursor=cursor,
                limit=100)
            for r in items:
                if r.placement.start < b.end and b.start < r.placement.end:
                    hits[r.id] = r
            if not cursor:
                break
    return sorted(hits.values(), key=lambda r: r.placement.start)


def put_team_availability(deps: AdminDeps, principal: Principal, team_id: str, weekly_hours: dict,
                          blackouts: list[dict], force: bool, reason: str | None) -> dict:
    """Replace hours and blackouts. A new blackout over booked work raises BookedWorkConflict unless `force`
    with a reason (the bookings are left for an admin to move; the audit entry records the decision)."""
    if force and not (reason and reason.strip()):
        raise ValidationFailed("force requires a reason.", {"fields": [{"field": "reason", "message": "required"}]})
    team = _team(deps, team_id)
    new_blackouts = []
    for b in blackouts:
        if b["end"] <= b["start"]:
            raise ValidationFailed("A blackout must end after it starts.", {"fields": [{"field": "blackouts"}]})
        new_blackouts.append(Blackout(id=b.get("id") or "bo_" + uuid.uuid4().hex[:12],
                                      start=b["start"], end=b["end"], reason=b.get("reason", ""), team_id=team.id))
    existing = {(x.start, x.end) for x in team.blackouts}
    added = [b for b in new_blackouts if (b.start, b.end) not in existing]
    conflicts = booked_work_in(deps, team.id, added) if added else []
    if conflicts and not force:
        raise BookedWorkConflict(details={"serviceRequestIds": [r.id for r in conflicts]})
    updated = replace(team, weekly_hours=codec.hours_from_doc(weekly_hours), blackouts=tuple(new_blackouts),
                      version=team.version + 1)
    # Before the team is written: a booking planned from a cached copy without the new blackouts must fail on
    # those days, or it could land in a blackout the booked-work check above never saw.
    deps.capacity_overrides.fence(team.id, _days_of(updated, added, deps.clock()), updated.version)
    deps.catalog_repo.put_team(updated, expected_version=team.version)
    deps.catalog.invalidate()
    deps.audit.record(f"TEAM#{team.id}", principal.actor, "team.availability.updated",
                      team_availability_view(team), team_availability_view(updated),
                      reason if not conflicts else f"{reason} (forced over {len(conflicts)} bookings)")
    count("AdminChange", action="team_availability")
    _publish_days(deps, updated, added)
    return team_availability_view(updated)


def _days_of(team: Team, blackouts: list[Blackout], now: datetime) -> list[str]:
    """Team-local dates the blackouts cover, from today to at most FENCE_DAYS ahead (one write each; a blackout
    further out is only as safe as the catalog cache's 30 seconds of staleness, see docs/data-model.md)."""
    from chalicelib.domain.availability import local_date_of
    today = local_date_of(now, team.timezone)
    days: set[str] = set()
    for b in blackouts:
        day = max(local_date_of(b.start, team.timezone), today)
        last = min(local_date_of(b.end, team.timezone), today + timedelta(days=FENCE_DAYS))
        while day <= last:
            days.add(day.isoformat())
            day += timedelta(days=1)
    return sorted(days)


def _publish_days(deps: AdminDeps, team: Team, blackouts: list[Blackout]) -> None:
    from chalicelib.domain.availability import local_date_of
    days: set[str] = set()
    for b in blackouts:
        day = local_date_of(b.start, team.timezone)
        last = local_date_of(b.end, team.timezone)
        while day <= last and len(days) < 62:
            days.add(day.isoformat())
            day += timedelta(days=1)
    if days:
        capacity.publish_team_change(deps, team.id, sorted(days))


def put_team_capacity(deps: AdminDeps, principal: Principal, team_id: str, daily_limit: int,
                      slot_capacity: int | None, reason: str | None) -> dict:
    team = _team(deps, team_id)
    updated = replace(team, daily_limit=daily_limit,
                      slot_capacity=team.slot_capacity if slot_capacity is None else slot_capacity,
                      version=team.version + 1)
    deps.catalog_repo.put_team(updated, expected_version=team.version)
    deps.catalog.invalidate()
    view = lambda t: {"teamId": t.id, "dailyLimit": t.daily_limit, "slotCapacity": t.slot_capacity,  # noqa: E731
                      "version": t.version}
    deps.audit.record(f"TEAM#{team.id}", principal.actor, "team.capacity.updated", view(team), view(updated), reason)
    count("AdminChange", action="team_capacity")
    return view(updated)


def override_day(deps: AdminDeps, principal: Principal, team_id: str, day: date, limit: int, reason: str) -> dict:
    team = _team(deps, team_id)
    deps.capacity_overrides.set(team.id, day.isoformat(), limit, reason)
    after = {"teamId": team.id, "date": day.isoformat(), "limit": limit, "reason": reason}
    deps.audit.record(f"TEAM#{team.id}", principal.actor, "capacity.override", {"dailyLimit": team.daily_limit},
                      after, reason)
    count("AdminChange", action="capacity_override")
    capacity.publish_team_change(deps, team.id, [day.isoformat()])
    return after


def admin_view(request: ServiceRequest, audit: list[dict] | None = None) -> dict:
    doc = codec.request_to_doc(request)
    payment = doc["payment"]
    doc.update({"checkoutUrl": payment.get("checkoutUrl"), "paymentSessionId": payment.get("sessionId"),
                "paymentAmount": payment.get("amount"), "currency": payment.get("currency"),
                "paidAt": payment.get("paidAt"), "lastEventId": payment.get("lastEventId"),
                "reconciliationNotes": [{**codec.note_to_doc(n), "id": n.id, "open": n.is_open}
                                        for n in request.payment.reconciliation_notes] or None,
                "payment": payment})
    if audit is not None:
        doc["audit"] = audit
    return doc


def list_requests(deps: AdminDeps, q: Any) -> dict:
    items, cursor = deps.requests.admin_list(
        status=q.status, payment_status=q.paymentStatus, team_id=q.teamId,
        start_from=codec.iso_utc(q.from_) if q.from_ else None, start_to=codec.iso_utc(q.to) if q.to else None,
        cursor=q.cursor, limit=q.limit)
    return {"items": [admin_view(r) for r in items], "nextCursor": cursor}


def get_request(deps: AdminDeps, request_id: str, audit_limit: int) -> dict:
    """The request with the first `audit_limit` entries of its history (oldest first) and the cursor of the
    rest (`list_request_audit`): the answer's size does not grow with the history."""
    request = _existing_request(deps, request_id)
    entries, audit_cursor = deps.audit.entity_page(f"SR#{request_id}", None, audit_limit)
    return {**admin_view(request, entries), "auditCursor": audit_cursor}


def list_request_audit(deps: AdminDeps, request_id: str, cursor: str | None, limit: int) -> dict:
    _existing_request(deps, request_id)
    items, next_cursor = deps.audit.entity_page(f"SR#{request_id}", cursor, limit)
    return {"items": items, "nextCursor": next_cursor}


def _existing_request(deps: AdminDeps, request_id: str) -> ServiceRequest:
    request = deps.requests.get(request_id)
    if request is None:
        raise NotFound(details={"serviceRequestId": request_id})
    return request


def list_audit(deps: AdminDeps, day: date | None, cursor: str | None, limit: int) -> dict:
    items, next_cursor = deps.audit.list(day.isoformat() if day else None, cursor, limit)
    return {"items": items, "nextCursor": next_cursor}


