"""Admin use cases for team members: hire, update (skills, on-call services, contact details), deactivate, list.

Writes go through catalog_admin.commit: conditional on the version read, audited in the same transaction. Contact
details (email, phone, internal notes) are answered only here, under /admin; portal routes answer
catalog.portal_member, an allow-list without them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.domain import codec
from chalicelib.domain.principal import Principal
from chalicelib.services.catalog_admin import CatalogAdminDeps, announce, commit, current, invalid, new_id

if TYPE_CHECKING:
    from chalicelib.services.team_admin import TeamAdminDeps

MEMBER_FIELDS = {"teamId", "displayName", "serviceIds", "onCallServiceIds", "email", "phone", "internalNotes",
                 "bio", "rating"}


def checked_member(deps: CatalogAdminDeps, doc: dict) -> dict:
    """The member document as stored, once its team and services exist. Raises ValidationFailed."""
    catalog = deps.catalog.get()
    team = catalog.teams.get(doc["teamId"])
    if team is None or not team.active:
        raise invalid("teamId", f"unknown or inactive team {doc['teamId']}")
    for field in ("serviceIds", "onCallServiceIds"):
        unknown = sorted(set(doc.get(field, ())) - set(catalog.services))
        if unknown:
            raise invalid(field, f"unknown services {', '.join(unknown)}")
    if not set(doc.get("onCallServiceIds", ())) <= set(doc.get("serviceIds", ())):
        raise invalid("onCallServiceIds", "on call only for services the member is skilled in")
    return codec.member_to_doc(codec.member_from_doc(doc))


def hire(deps: CatalogAdminDeps, principal: Principal, fields: dict, reason: str | None) -> dict:
    doc = checked_member(deps, {**fields, "id": new_id("mem", fields.get("id")), "active": True, "version": 1})
    commit(deps, principal, "member", None, doc, reason, "hired")
    announce(deps, [doc["teamId"]])
    return doc


def update_member(deps: CatalogAdminDeps, principal: Principal, member_id: str, changes: dict, version: int,
                  reason: str | None) -> dict:
    """Merge `changes` (skills, on-call services, contact details, team) into the stored member; written only if
    it is still at `version`. Booked work keeps its member: a skill removed applies to new bookings."""
    before = current(deps, "member", member_id)
    merged = {**before, **{k: v for k, v in changes.items() if k in MEMBER_FIELDS}, "version": version + 1}
    after = checked_member(deps, merged)
    commit(deps, principal, "member", before, after, reason, "updated")
    announce(deps, [before["teamId"], after["teamId"]])
    return after


def deactivate_member(deps: "TeamAdminDeps", principal: Principal, member_id: str, version: int,
                      reason: str) -> dict:
    """The member is offered for nothing new; their booked work keeps them until reassigned, and is answered
    (`toReassign`, read through the team's future active bookings: bounded by the team, no scan)."""
    from chalicelib.services.team_admin import future_bookings

    before = current(deps, "member", member_id)
    after = {**before, "active": False, "version": version + 1}
    commit(deps, principal, "member", before, after, reason, "deactivated")
    announce(deps, [before["teamId"]])
    mine = [r for r in future_bookings(deps, before["teamId"]) if r.placement.member_id == member_id]
    return {**after, "toReassign": [{"id": r.id, "serviceId": r.service_id, "start": codec.iso_utc(r.placement.start),
                                     "end": codec.iso_utc(r.placement.end), "status": r.status.value}
                                    for r in mine]}


def list_members(deps: CatalogAdminDeps, team_id: str | None, service_id: str | None, active: bool | None,
                 cursor: str | None, limit: int) -> dict:
    def keep(doc: dict) -> bool:
        return ((team_id is None or doc.get("teamId") == team_id)
                and (service_id is None or service_id in doc.get("serviceIds", ()))
                and (active is None or bool(doc.get("active", True)) == active))

    items, next_cursor = deps.catalog_admin.page("member", cursor, limit, keep)
    return {"items": [codec.member_to_doc(codec.member_from_doc(d)) for d in items], "nextCursor": next_cursor}
