"""Admin routes for the crew: members (hire, update, deactivate, list) and their time off."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin_catalog import (AdminMemberListOut, AdminMemberOut, DeactivateIn, MemberCreateIn,
                                                  MemberListQuery, MemberUpdateIn, PageQuery, ReasonQuery,
                                                  TimeOffIn, TimeOffListOut, TimeOffOut)
from chalicelib.bootstrap import container
from chalicelib.services import catalog_admin, crew_admin, time_off

bp = Blueprint(__name__)
WRITE_ERRORS = ("NOT_FOUND", "CONCURRENT_UPDATE")


@endpoint(bp, "/admin/members", "POST", auth="admin", summary="Hire a team member (audited)",
          body=MemberCreateIn, response=AdminMemberOut, status=201, errors=("ALREADY_EXISTS",), tags=("admin",))
def hire(ctx: Ctx) -> dict:
    b = ctx.body
    return crew_admin.hire(container(), ctx.principal, b.model_dump(exclude={"reason"}), b.reason)


@endpoint(bp, "/admin/members", auth="admin", summary="Members by team, service and active (cursor)",
          query=MemberListQuery, response=AdminMemberListOut, tags=("admin",))
def list_members(ctx: Ctx) -> dict:
    q = ctx.query
    return crew_admin.list_members(container(), q.teamId, q.serviceId, q.active, q.cursor, q.limit)


@endpoint(bp, "/admin/members/{member_id}", auth="admin", summary="One member with contact details and version",
          response=AdminMemberOut, errors=("NOT_FOUND",), tags=("admin",))
def get_member(ctx: Ctx, member_id: str) -> dict:
    return catalog_admin.current(container(), "member", member_id)


@endpoint(bp, "/admin/members/{member_id}", "PATCH", auth="admin",
          summary="Change skills, on-call services or contact details, conditional on the version read (audited)",
          body=MemberUpdateIn, response=AdminMemberOut, errors=WRITE_ERRORS, tags=("admin",))
def update_member(ctx: Ctx, member_id: str) -> dict:
    b = ctx.body
    return crew_admin.update_member(container(), ctx.principal, member_id, b.changes(), b.version, b.reason)


@endpoint(bp, "/admin/members/{member_id}/deactivate", "POST", auth="admin",
          summary="Stop offering a member for new work (booked work keeps them until reassigned)",
          body=DeactivateIn, response=AdminMemberOut, errors=WRITE_ERRORS, tags=("admin",))
def deactivate_member(ctx: Ctx, member_id: str) -> dict:
    b = ctx.body
    return crew_admin.deactivate_member(container(), ctx.principal, member_id, b.version, b.reason)


@endpoint(bp, "/admin/members/{member_id}/time-off", "POST", auth="admin",
          summary="Give a member time off: their slots leave availability (over booked work: force + reason, "
                  "answers the bookings to reassign)",
          body=TimeOffIn, response=TimeOffOut, status=201,
          errors=("NOT_FOUND", "BOOKED_WORK_CONFLICT", "CONCURRENT_UPDATE"), tags=("admin",))
def create_time_off(ctx: Ctx, member_id: str) -> dict:
    b = ctx.body
    return time_off.create(container(), ctx.principal, member_id, b.start, b.end, b.reason, b.force)


@endpoint(bp, "/admin/members/{member_id}/time-off", auth="admin", summary="A member's time off by start (cursor)",
          query=PageQuery, response=TimeOffListOut, errors=("NOT_FOUND",), tags=("admin",))
def list_time_off(ctx: Ctx, member_id: str) -> dict:
    q = ctx.query
    return time_off.list_time_off(container(), member_id, q.cursor, q.limit)


@endpoint(bp, "/admin/members/{member_id}/time-off/{time_off_id}", "DELETE", auth="admin",
          summary="Cancel a time off: the member's cells it held are free again (audited)", query=ReasonQuery,
          status=204, errors=("NOT_FOUND", "CONCURRENT_UPDATE"), tags=("admin",))
def delete_time_off(ctx: Ctx, member_id: str, time_off_id: str) -> Response:
    time_off.delete(container(), ctx.principal, member_id, time_off_id, ctx.query.reason)
    return Response(body="", status_code=204)
