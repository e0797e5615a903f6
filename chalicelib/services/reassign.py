"""Reassign a booking to another member of its team (`POST /admin/service-requests/{id}/reassign`): the customer
keeps the time; the old member's cells are freed and the new member's taken in one transaction with the request
and its audit entry (keys.changes nets the team-day to nothing, so only the member-day items change, each
conditional: the new member's cells must be free, which time off also holds)."""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest, Status
from chalicelib.domain.errors import ConcurrentUpdate, InvalidState, MemberUnavailable, NotFound
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.services.admin import admin_view
from chalicelib.services.catalog_admin import CatalogAdminDeps
from chalicelib.services.ports import MemberBusy, ServiceRequestRepository, StaleCatalog, StaleRevision


class ReassignDeps(CatalogAdminDeps, Protocol):
    requests: ServiceRequestRepository


def reassign(deps: ReassignDeps, principal: Principal, request_id: str, member_id: str,
             reason: str | None) -> dict:
    current = deps.requests.get(request_id)
    if current is None:
        raise NotFound(details={"serviceRequestId": request_id})
    if current.status not in (Status.PENDING_PAYMENT, Status.CONFIRMED):
        raise InvalidState(details={"status": current.status.value})
    if current.placement.member_id == member_id:
        return admin_view(current)  # already there (e.g. the retry of a lost answer)
    catalog = deps.catalog.get()
    member = catalog.members.get(member_id)
    if member is None:
        raise NotFound(details={"memberId": member_id})
    problem = _unfit(current, member)
    if problem:
        raise MemberUnavailable(details={"memberId": member_id, "reason": problem})
    old_plan = capacity.plan_of(catalog, current)
    moved = current.with_changes(placement=replace(current.placement, member_id=member_id), updated_at=deps.clock())
    entry = deps.audit.action(f"SR#{current.id}", principal.actor, "service_request.reassigned",
                              codec.request_to_doc(current), codec.request_to_doc(moved), reason)
    try:
        saved = deps.requests.move(current, moved, old_plan, replace(old_plan, member_id=member_id), (entry,))
    except MemberBusy as exc:
        raise MemberUnavailable(details={"memberId": member_id, "reason": "busy"}) from exc
    except (StaleCatalog, StaleRevision) as exc:
        deps.catalog.invalidate()
        raise ConcurrentUpdate(details={"serviceRequestId": request_id}) from exc
    count("AdminChange", action="reassign")
    # The team's slots are unchanged, but each member's own availability (teamMemberId) moved.
    capacity.publish_team_change(deps, current.placement.team_id, sorted({_day(c, current) for c in old_plan.cells}))
    return admin_view(saved)


def _day(cell: str, request: ServiceRequest) -> str:
    from chalicelib.domain.availability import local_date_of
    return local_date_of(codec.parse_iso(cell), request.placement.timezone).isoformat()


def _unfit(request: ServiceRequest, member) -> str | None:
    if member.team_id != request.placement.team_id:
        return "other_team"
    if not member.active:
        return "inactive"
    if request.service_id not in member.service_ids:
        return "not_skilled"
    return None
