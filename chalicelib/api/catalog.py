"""Public catalog and portal team-member routes."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import Ctx, endpoint, json_response
from chalicelib.api.schemas.catalog import (ServiceAreaLookupOut, ServiceAreaLookupQuery, ServiceListOut, ServiceOut,
                                            TeamMemberListOut)
from chalicelib.bootstrap import container
from chalicelib.services import catalog as catalog_service
from chalicelib.services import service_areas

bp = Blueprint(__name__)

# Browsers and CDNs may reuse the catalog for a minute and serve it stale while revalidating.
CATALOG_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"


def cached_json(ctx: Ctx, document: dict) -> Response:
    etag = catalog_service.etag_for(document)
    headers = {"ETag": etag, "Cache-Control": CATALOG_CACHE_CONTROL}
    if etag in [t.strip() for t in ctx.headers.get("if-none-match", "").split(",")]:
        return Response(body="", status_code=304, headers=headers)
    return json_response(document, headers=headers)


CACHED = dict(headers=("If-None-Match",), response_headers=("ETag", "Cache-Control"), not_modified=True)


@endpoint(bp, "/services", summary="List bookable services (ETag, 304 on If-None-Match)", response=ServiceListOut,
          tags=("catalog",), **CACHED)
def list_services(ctx: Ctx) -> Response:
    return cached_json(ctx, {"items": catalog_service.list_services(container().catalog.get())})


@endpoint(bp, "/services/{service_id}", summary="One service (ETag, 304 on If-None-Match)",
          response=ServiceOut, errors=("NOT_FOUND",), tags=("catalog",), **CACHED)
def get_service(ctx: Ctx, service_id: str) -> Response:
    return cached_json(ctx, catalog_service.get_service(container().catalog.get(), service_id))


@endpoint(bp, "/portal/services/{service_id}/team-members", auth="user",
          summary="Team members who perform a service (portal-safe fields)",
          response=TeamMemberListOut, errors=("NOT_FOUND",), tags=("portal",))
def team_members(ctx: Ctx, service_id: str) -> dict:
    return {"items": catalog_service.team_members_for_service(container().catalog.get(), service_id)}


@endpoint(bp, "/service-areas/lookup", summary="Which services can be booked at a postal code, and by which teams",
          query=ServiceAreaLookupQuery, response=ServiceAreaLookupOut,
          errors=("VALIDATION_ERROR", "SERVICE_AREA_NOT_COVERED"), tags=("catalog",))
def service_area_lookup(ctx: Ctx) -> dict:
    return service_areas.lookup(container().catalog.get(), ctx.query.postalCode, ctx.query.country)
