"""Admin routes: team availability and capacity, day overrides, service requests, audit."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin import (AdminListQuery, AdminRequestQuery, AdminServiceRequestListOut,
                                          AdminServiceRequestOut, AuditListOut, AuditQuery, CapacityOverrideIn,
                                          CapacityOverrideOut, RequestAuditQuery, TeamAvailabilityIn,
                                          TeamAvailabilityOut, TeamCapacityIn, TeamCapacityOut)
from chalicelib.bootstrap import container
from chalicelib.services import admin

bp = Blueprint(__name__)


@endpoint(bp, "/admin/teams/{team_id}/availability", auth="admin", summary="A team's weekly hours and blackouts",
          response=TeamAvailabilityOut, errors=("NOT_FOUND",), tags=("admin",))
def get_team_availability(ctx: Ctx, team_id: str) -> dict:
    return admin.get_team_availability(container(), team_id)


@endpoint(bp, "/admin/teams/{team_id}/availability", "PUT", auth="admin",
          summary="Replace hours and blackouts (a blackout over booked work needs force + reason)",
          body=TeamAvailabilityIn, response=TeamAvailabilityOut,
          errors=("NOT_FOUND", "BOOKED_WORK_CONFLICT", "CONCURRENT_UPDATE"), tags=("admin",))
def put_team_availability(ctx: Ctx, team_id: str) -> dict:
    b = ctx.body
    return admin.put_team_availability(container(), ctx.principal, team_id,
                                       {day: [list(w) for w in windows] for day, windows in b.weeklyHours.items()},
                                       [x.model_dump() for x in b.blackouts], b.force, b.reason)


@endpoint(bp, "/admin/teams/{team_id}/capacity", "PUT", auth="admin", summary="A team's daily limit and crews",
          body=TeamCapacityIn, response=TeamCapacityOut,
          errors=("NOT_FOUND", "CONCURRENT_UPDATE"), tags=("admin",))
def put_team_capacity(ctx: Ctx, team_id: str) -> dict:
    b = ctx.body
    return admin.put_team_capacity(container(), ctx.principal, team_id, b.dailyLimit, b.slotCapacity, b.reason)


@endpoint(bp, "/admin/capacity-overrides", "POST", auth="admin", summary="Change one team-day's limit (audited)",
          body=CapacityOverrideIn, response=CapacityOverrideOut, status=201,
          errors=("NOT_FOUND",), tags=("admin",))
def capacity_override(ctx: Ctx) -> dict:
    b = ctx.body
    return admin.override_day(container(), ctx.principal, b.teamId, b.date, b.limit, b.reason)


@endpoint(bp, "/admin/service-requests", auth="admin", summary="Service requests by filters (GSI-backed, cursor)",
          query=AdminListQuery, response=AdminServiceRequestListOut, tags=("admin",))
def list_service_requests(ctx: Ctx) -> dict:
    return admin.list_requests(container(), ctx.query)


@endpoint(bp, "/admin/service-requests/{request_id}", auth="admin",
          summary="One service request with payment fields and the first page of its audit history",
          query=AdminRequestQuery, response=AdminServiceRequestOut, errors=("NOT_FOUND",), tags=("admin",))
def get_service_request(ctx: Ctx, request_id: str) -> dict:
    return admin.get_request(container(), request_id, ctx.query.auditLimit)


@endpoint(bp, "/admin/service-requests/{request_id}/audit", auth="admin",
          summary="A service request's audit history, oldest first (cursor from auditCursor or nextCursor)",
          query=RequestAuditQuery, response=AuditListOut, errors=("NOT_FOUND",), tags=("admin",))
def get_service_request_audit(ctx: Ctx, request_id: str) -> dict:
    q = ctx.query
    return admin.list_request_audit(container(), request_id, q.cursor, q.limit)


@endpoint(bp, "/admin/audit", auth="admin", summary="Audit entries of one UTC day, newest first",
          query=AuditQuery, response=AuditListOut, tags=("admin",))
def audit(ctx: Ctx) -> dict:
    q = ctx.query
    return admin.list_audit(container(), q.day, q.cursor, q.limit)
