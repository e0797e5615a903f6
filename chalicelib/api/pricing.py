"""Price quotes (public) and the recurring-series preview (portal)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.pricing import QuoteIn, QuoteOut, RecurringPreviewIn, RecurringPreviewOut
from chalicelib.bootstrap import container
from chalicelib.services import pricing, recurrence

bp = Blueprint(__name__)


@endpoint(bp, "/pricing/quote", "POST", summary="Price a visit or a recurring series, line by line",
          body=QuoteIn, response=QuoteOut,
          errors=("NOT_FOUND", "SERVICE_INACTIVE", "PROMO_INVALID", "PROMO_EXHAUSTED", "SERVICE_AREA_NOT_COVERED"),
          tags=("pricing",))
def quote(ctx: Ctx) -> dict:
    b, c = ctx.body, container()
    request = pricing.QuoteRequest(service_id=b.serviceId, start=b.start, tz=b.tz, team_id=b.teamId,
                                   options=tuple(b.options), promo_codes=tuple(b.promoCodes),
                                   emergency=b.emergency, recurrence=b.recurrence, postal_code=b.postalCode,
                                   country=b.country, now=c.clock())
    return pricing.quote(c.catalog.get(), c.promotion_rules, c.pricing_policy, request)


@endpoint(bp, "/portal/recurring/preview", "POST", auth="user",
          summary="Occurrences of a recurring series with availability and price (nothing is booked)",
          body=RecurringPreviewIn, response=RecurringPreviewOut, errors=("NOT_FOUND", "SERVICE_INACTIVE", "SERVICE_AREA_NOT_COVERED"),
          tags=("portal", "pricing"))
def recurring_preview(ctx: Ctx) -> dict:
    b, c = ctx.body, container()
    request = recurrence.PreviewRequest(service_id=b.serviceId, start=b.start, tz=b.tz, rrule=b.rrule,
                                        team_id=b.teamId, customer_id=ctx.principal.user_id,
                                        postal_code=b.postalCode, country=b.country, now=c.clock())
    return recurrence.preview(c.catalog.get(), c.promotion_rules, c.pricing_policy, request,
                              check=recurrence.check_from_day_slots(c.day_slots))
