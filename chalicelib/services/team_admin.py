"""Admin use cases for teams: create, update (zone, weekly hours, limits, crews, service areas), deactivate, list.

Blackouts keep their own route (admin.put_team_availability), which fences the days it closes. Deactivation
reads the team's future active bookings through the team-and-status list (admin.booked_work_in: bounded by what
it returns, no scan) and is refused while any remain, unless `force` with a reason; the answer then lists them.
"""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import codec
from chalicelib.domain.catalog import Blackout
from chalicelib.domain.errors import BookedWorkConflict, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.domain.service_areas import area
from chalicelib.services import admin
from chalicelib.services.catalog_admin import CatalogAdminDeps, announce, commit, current, new_id

TEAM_FIELDS = {"name", "timezone", "weeklyHours", "dailyLimit", "slotCapacity", "serviceAreas"}
HORIZON = timedelta(days=admin.FENCE_DAYS)  # how far ahead deactivation looks for booked work
MAX_LISTED = 200  # bookings named in one answer (the count is always exact)


class TeamAdminDeps(CatalogAdminDeps, admin.AdminDeps):
    pass


def checked_team(doc: dict) -> dict:
    """The team document as stored: service areas normalised like customer input. Raises ValidationFailed."""
    areas = [area(a["country"], a.get("codes", ()), a.get("prefixes", ())) for a in doc.get("serviceAreas", ())]
    doc = {**doc, "serviceAreas": [{"country": a.country, "codes": list(a.codes), "prefixes": list(a.prefixes)}
                                   for a in areas]}
    return codec.team_to_doc(codec.team_from_doc(doc))


def create_team(deps: CatalogAdminDeps, principal: Principal, fields: dict, reason: str | None) -> dict:
    doc = checked_team({**fields, "id": new_id("team", fields.get("id")), "blackouts": [], "active": True,
                        "version": 1})
    commit(deps, principal, "team", None, doc, reason, "created")
    return doc


def update_team(deps: CatalogAdminDeps, principal: Principal, team_id: str, changes: dict, version: int,
                reason: str | None) -> dict:
    """Merge `changes` into the stored team (its blackouts are kept); written only if still at `version`."""
    before = current(deps, "team", team_id)
    after = checked_team({**before, **{k: v for k, v in changes.items() if k in TEAM_FIELDS},
                          "version": version + 1})
    commit(deps, principal, "team", before, after, reason, "updated")
    announce(deps, [team_id])
    return after


def future_bookings(deps: TeamAdminDeps, team_id: str) -> list:
    now = deps.clock()
    window = Blackout(id="deactivation", start=now, end=now + HORIZON, reason="", team_id=team_id)
    return admin.booked_work_in(deps, team_id, [window])


def deactivate_team(deps: TeamAdminDeps, principal: Principal, team_id: str, version: int, reason: str,
                    force: bool) -> dict:
    before = current(deps, "team", team_id)
    booked = future_bookings(deps, team_id)
    if booked and not force:
        raise BookedWorkConflict(details={"serviceRequestIds": [r.id for r in booked[:MAX_LISTED]],
                                          "count": len(booked)})
    if booked and not reason.strip():
        raise ValidationFailed("force requires a reason.", {"fields": [{"field": "reason", "message": "required"}]})
    after = {**before, "active": False, "version": version + 1}
    note = f"{reason} (forced over {len(booked)} bookings)" if booked else reason
    commit(deps, principal, "team", before, after, note, "deactivated")
    announce(deps, [team_id])
    return {**after, "affectedBookings": [{"id": r.id, "serviceId": r.service_id, "memberId": r.placement.member_id,
                                           "start": codec.iso_utc(r.placement.start)} for r in booked[:MAX_LISTED]],
            "affectedCount": len(booked)}


def list_teams(deps: CatalogAdminDeps, active: bool | None, cursor: str | None, limit: int) -> dict:
    items, next_cursor = deps.catalog_admin.page(
        "team", cursor, limit, lambda d: active is None or bool(d.get("active", True)) == active)
    return {"items": [codec.team_to_doc(codec.team_from_doc(d)) for d in items], "nextCursor": next_cursor}
