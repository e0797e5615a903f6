"""Admin reports: a team's utilisation (JSON and an SVG heatmap) and revenue per day."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.reports import RevenueOut, RevenueQuery, UtilisationOut, UtilisationQuery
from chalicelib.bootstrap import container
from chalicelib.services import reports

bp = Blueprint(__name__)
RANGE_ERRORS = ("RANGE_TOO_LARGE", "NOT_FOUND")


@endpoint(bp, "/admin/reports/utilisation", auth="admin",
          summary="A team's utilisation per local day (at most 92 days), from the capacity counters",
          query=UtilisationQuery, response=UtilisationOut, errors=RANGE_ERRORS, tags=("admin",))
def utilisation(ctx: Ctx) -> dict:
    q = ctx.query
    return reports.team_utilisation(container(), q.teamId, q.from_, q.to)


@endpoint(bp, "/admin/reports/utilisation.svg", auth="admin",
          summary="The utilisation report as a heatmap: local days x hours, colour = busiest cell / crews",
          query=UtilisationQuery, errors=RANGE_ERRORS, content_type="image/svg+xml", tags=("admin",),
          response_headers=("Cache-Control",))
def utilisation_svg(ctx: Ctx) -> Response:
    q = ctx.query
    svg = reports.team_utilisation_svg(container(), q.teamId, q.from_, q.to)
    return Response(body=svg, status_code=200, headers={"Content-Type": "image/svg+xml; charset=utf-8",
                                                        "Cache-Control": "no-store"})


@endpoint(bp, "/admin/reports/revenue", auth="admin",
          summary="Booked, paid, refunded, COD due and collected per UTC day and currency (at most 92 days)",
          query=RevenueQuery, response=RevenueOut, errors=("RANGE_TOO_LARGE",), tags=("admin",))
def revenue(ctx: Ctx) -> dict:
    q = ctx.query
    return reports.revenue_per_day(container(), q.from_, q.to, q.currency)
