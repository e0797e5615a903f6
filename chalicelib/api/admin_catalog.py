"""Admin routes for the catalog: services (create, update, deactivate, list)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin_catalog import (ActiveQuery, AdminServiceListOut, AdminServiceOut, DeactivateIn,
                                                  ServiceCreateIn, ServiceUpdateIn)
from chalicelib.bootstrap import container
from chalicelib.services import catalog_admin

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
