"""Calendar invites (ICS) for the customer, signed e-mail links, and the reminders job entry point."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.bookings import portal_view
from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.bookings import CancelIn, RescheduleIn, ServiceRequestOut
from chalicelib.api.schemas.calendar import CalendarQuery
from chalicelib.bootstrap import container
from chalicelib.invocation import deadline_from
from chalicelib.services import calendar, outbox, reminders

bp = Blueprint(__name__)


def ics_response(ics: calendar.Ics) -> Response:
    return Response(body=ics.body.decode("utf-8"), status_code=200, headers={  # text, not binary, for API Gateway
        "Content-Type": f"text/calendar; charset=utf-8; method={ics.method}",
        "Content-Disposition": f'attachment; filename="{ics.filename}"',
        "Cache-Control": "no-store"})


@endpoint(bp, "/portal/service-requests/{request_id}/calendar.ics", auth="user",
          summary="Calendar invite for one of my bookings (REQUEST, or CANCEL once cancelled)",
          query=CalendarQuery, errors=("NOT_FOUND",), content_type="text/calendar", tags=("portal",),
          response_headers=("Content-Disposition", "Cache-Control"))
def own_calendar(ctx: Ctx, request_id: str) -> Response:
    return ics_response(calendar.own_calendar(container(), ctx.principal, request_id, ctx.query.tz))


@endpoint(bp, "/links/{token}/calendar.ics", auth="link", summary="Calendar invite from a signed e-mail link",
          query=CalendarQuery, errors=("NOT_FOUND",), content_type="text/calendar", tags=("links",),
          response_headers=("Content-Disposition", "Cache-Control"))
def link_calendar(ctx: Ctx, token: str) -> Response:
    return ics_response(calendar.link_calendar(container(), token, ctx.query.tz))


@endpoint(bp, "/links/{token}/cancel", "POST", auth="link", summary="Cancel a booking from a signed e-mail link",
          body=CancelIn, response=ServiceRequestOut, errors=("NOT_FOUND", "INVALID_STATE", "BOOKING_IN_PAST"),
          tags=("links",))
def link_cancel(ctx: Ctx, token: str) -> dict:
    return portal_view(calendar.cancel_by_link(container(), token, ctx.body.reason))


@endpoint(bp, "/links/{token}/reschedule", "POST", auth="link",
          summary="Move a booking from a signed e-mail link (atomic; on conflict the old booking stays)",
          body=RescheduleIn, response=ServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE"), tags=("links",))
def link_reschedule(ctx: Ctx, token: str) -> dict:
    return portal_view(calendar.reschedule_by_link(container(), token, ctx.body.start, ctx.body.teamMemberId))


def run_reminders(event: Any = None) -> dict:
    """Scheduled every 15 minutes (app.py); stops before the Lambda's time runs out (the next run continues)."""
    return reminders.send_reminders(container(), deadline=deadline_from(getattr(event, "context", None)))


def run_outbox(event: Any = None) -> dict:
    """Scheduled every minute (app.py): e-mails not sent at once (failed, or their sender died) are sent."""
    return outbox.send_due(container(), deadline=deadline_from(getattr(event, "context", None)))
