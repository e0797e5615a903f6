"""Admin routes for the catalog: services and teams (create, update, deactivate, list)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin_catalog import (ActiveQuery, AdminServiceListOut, AdminServiceOut, AdminTeamListOut,
                                                  AdminTeamOut, DeactivateIn, ServiceCreateIn, ServiceUpdateIn,
                                                  TeamCreateIn, TeamUpdateIn)
from chalicelib.bootstrap import container
from chalicelib.services import catalog_admin, team_admin

bp = Blueprint(__name__)
WRITE_ERRORS = ("NOT_FOUND", "CONCURRENT_UPDATE")


@endpoint(bp, "/admin/services", "POST", auth="admin", summary="Create a service (audited)", body=ServiceCreateIn,
          response=AdminServiceOut, status=201, errors=("ALREADY_EXISTS",), tags=("admin",))
def create_service(ctx: Ctx) -> dict:
    b = ctx.body
    return catalog_admin.create_service(container(), ctx.principal, b.model_dump(exclude={"reason"}), b.reason)


@endpoint(bp, "/admin/services", auth="admin", summary="Services, active and not, in id order (cursor)",
          query=ActiveQuery, response=AdminServiceListOut, tags=("admin",))
def list_services(ctx: Ctx) -> dict:
    q = ctx.query
    return catalog_admin.list_services(container(), q.active, q.cursor, q.limit)


@endpoint(bp, "/admin/services/{service_id}", auth="admin", summary="One service as stored, with its version",
          response=AdminServiceOut, errors=("NOT_FOUND",), tags=("admin",))
def get_service(ctx: Ctx, service_id: str) -> dict:
    return catalog_admin.current(container(), "service", service_id)


@endpoint(bp, "/admin/services/{service_id}", "PATCH", auth="admin",
          summary="Change a service's fields, conditional on the version read (audited)",
          body=ServiceUpdateIn, response=AdminServiceOut, errors=WRITE_ERRORS, tags=("admin",))
def update_service(ctx: Ctx, service_id: str) -> dict:
    b = ctx.body
    return catalog_admin.update_service(container(), ctx.principal, service_id, b.changes(), b.version, b.reason)


@endpoint(bp, "/admin/services/{service_id}/deactivate", "POST", auth="admin",
          summary="Retire a service: new bookings and quotes answer 409 SERVICE_INACTIVE, booked work stays",
          body=DeactivateIn, response=AdminServiceOut, errors=WRITE_ERRORS, tags=("admin",))
def deactivate_service(ctx: Ctx, service_id: str) -> dict:
    b = ctx.body
    return catalog_admin.deactivate_service(container(), ctx.principal, service_id, b.version, b.reason)


@endpoint(bp, "/admin/teams", "POST", auth="admin", summary="Create a team (audited)", body=TeamCreateIn,
          response=AdminTeamOut, status=201, errors=("ALREADY_EXISTS",), tags=("admin",))
def create_team(ctx: Ctx) -> dict:
    b = ctx.body
    return team_admin.create_team(container(), ctx.principal, b.model_dump(exclude={"reason"}), b.reason)


@endpoint(bp, "/admin/teams", auth="admin", summary="Teams, active and not, in id order (cursor)",
          query=ActiveQuery, response=AdminTeamListOut, tags=("admin",))
def list_teams(ctx: Ctx) -> dict:
    q = ctx.query
    return team_admin.list_teams(container(), q.active, q.cursor, q.limit)


@endpoint(bp, "/admin/teams/{team_id}", auth="admin", summary="One team as stored, with its version",
          response=AdminTeamOut, errors=("NOT_FOUND",), tags=("admin",))
def get_team(ctx: Ctx, team_id: str) -> dict:
    return catalog_admin.current(container(), "team", team_id)


@endpoint(bp, "/admin/teams/{team_id}", "PATCH", auth="admin",
          summary="Change a team's zone, hours, limits, crews or service areas on the version read (audited)",
          body=TeamUpdateIn, response=AdminTeamOut, errors=WRITE_ERRORS, tags=("admin",))
def update_team(ctx: Ctx, team_id: str) -> dict:
    b = ctx.body
    return team_admin.update_team(container(), ctx.principal, team_id, b.changes(), b.version, b.reason)


@endpoint(bp, "/admin/teams/{team_id}/deactivate", "POST", auth="admin",
          summary="Retire a team: refused while it has future bookings unless force + reason (lists them)",
          body=DeactivateIn, response=AdminTeamOut, errors=WRITE_ERRORS + ("BOOKED_WORK_CONFLICT",), tags=("admin",))
def deactivate_team(ctx: Ctx, team_id: str) -> dict:
    b = ctx.body
    return team_admin.deactivate_team(container(), ctx.principal, team_id, b.version, b.reason, b.force)
