"""Admin lists over sparse indexes (a team's capacity overrides and clearing one, flagged requests and resolving
their notes), and reassigning a booking to another member."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin import AdminServiceRequestListOut, AdminServiceRequestOut, ResolveNotesIn
from chalicelib.api.schemas.admin_catalog import OverrideListOut, PageQuery, ReasonQuery, ReassignIn
from chalicelib.api.schemas.common import Day
from chalicelib.bootstrap import container
from chalicelib.domain.errors import ValidationFailed
from chalicelib.services import admin_lookups, flags, reassign
from chalicelib.services.admin import admin_view

bp = Blueprint(__name__)


@endpoint(bp, "/admin/teams/{team_id}/capacity-overrides", auth="admin",
          summary="A team's day-limit overrides in date order (cursor)", query=PageQuery,
          response=OverrideListOut, errors=("NOT_FOUND",), tags=("admin",))
def list_overrides(ctx: Ctx, team_id: str) -> dict:
    q = ctx.query
    return admin_lookups.list_overrides(container(), team_id, q.cursor, q.limit)


@endpoint(bp, "/admin/teams/{team_id}/capacity-overrides/{day}", "DELETE", auth="admin",
          summary="Clear one team-day's override: the team's daily limit applies again (audited)",
          query=ReasonQuery, status=204, errors=("NOT_FOUND",), tags=("admin",))
def clear_override(ctx: Ctx, team_id: str, day: str) -> Response:
    admin_lookups.clear_override(container(), ctx.principal, team_id, _day(day), ctx.query.reason)
    return Response(body="", status_code=204)


@endpoint(bp, "/admin/reconciliation/flagged", auth="admin",
          summary="Service requests the payment reconciliation left notes on (sparse index, cursor)",
          query=PageQuery, response=AdminServiceRequestListOut, tags=("admin",))
def list_flagged(ctx: Ctx) -> dict:
    q = ctx.query
    return admin_lookups.list_flagged(container(), q.cursor, q.limit)


@endpoint(bp, "/admin/service-requests/{request_id}/flags/resolve", "POST", auth="admin",
          summary="Resolve the request's open reconciliation notes (the kinds in `notes` and the ids in `ids`, or "
                  "all), audited with the "
                  "reason; the notes stay in its history, and it leaves the flagged list once none is open. A later "
                  "note flags it again. 409 NOTHING_TO_RESOLVE: none of them is open (a repeat changes nothing); "
                  "409 CONCURRENT_UPDATE: the request changed meanwhile (look again)",
          body=ResolveNotesIn, response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "NOTHING_TO_RESOLVE", "CONCURRENT_UPDATE"), tags=("admin", "payments"))
def resolve_flags(ctx: Ctx, request_id: str) -> dict:
    b = ctx.body
    return admin_view(flags.resolve_notes(container(), ctx.principal, request_id, b.notes, b.reason, b.ids))


@endpoint(bp, "/admin/service-requests/{request_id}/reassign", "POST", auth="admin",
          summary="Move a booking to another member of its team; the customer keeps the time (audited)",
          body=ReassignIn, response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "MEMBER_UNAVAILABLE", "CONCURRENT_UPDATE"), tags=("admin",))
def reassign_request(ctx: Ctx, request_id: str) -> dict:
    b = ctx.body
    return reassign.reassign(container(), ctx.principal, request_id, b.memberId, b.reason)


def _day(text: str):
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(Day).validate_python(text)
    except ValidationError as exc:
        raise ValidationFailed("The date is not valid.", {"fields": [{"field": "day", "message": "YYYY-MM-DD"}]}) \
            from exc
