"""Public price quotes."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import schemas
from chalicelib.api.routing import Ctx, endpoint
from chalicelib.bootstrap import container
from chalicelib.services import pricing

bp = Blueprint(__name__)


@endpoint(bp, "/pricing/quote", "POST", summary="Price a visit or a recurring series, line by line",
          body=schemas.QuoteIn, response=schemas.QuoteOut, errors=("NOT_FOUND", "PROMO_INVALID", "PROMO_EXHAUSTED"),
          tags=("pricing",))
def quote(ctx: Ctx) -> dict:
    b, c = ctx.body, container()
    request = pricing.QuoteRequest(service_id=b.serviceId, start=b.start, tz=b.tz, team_id=b.teamId,
                                   options=tuple(b.options), promo_codes=tuple(b.promoCodes),
                                   emergency=b.emergency, recurrence=b.recurrence)
    return pricing.quote(c.catalog.get(), c.promotions, c.pricing_policy, request)
