"""Admin CRUD for promotion rules. DELETE deactivates the rule (see services.promotions)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.promotions import (DeactivateQuery, PromoRuleIn, PromoRuleListOut, PromoRuleListQuery,
                                               PromoRuleOut, PromoRuleUpdateIn)
from chalicelib.bootstrap import container
from chalicelib.services import promotions

bp = Blueprint(__name__)
TAGS = ("admin", "promotions")


@endpoint(bp, "/admin/promo-rules", "GET", auth="admin", summary="List promotion rules (priority, id order; cursor)",
          query=PromoRuleListQuery, response=PromoRuleListOut, tags=TAGS)
def list_rules(ctx: Ctx) -> dict:
    return promotions.list_rules(container().promotions, ctx.query.cursor, ctx.query.limit)


@endpoint(bp, "/admin/promo-rules", "POST", auth="admin", summary="Create a promotion rule (audited)",
          body=PromoRuleIn, response=PromoRuleOut, status=201, errors=("ALREADY_EXISTS",),
          tags=TAGS)
def create_rule(ctx: Ctx) -> dict:
    c = container()
    return promotions.create_rule(c.promotions, c.audit, ctx.principal, ctx.body.model_dump(mode="json"))


@endpoint(bp, "/admin/promo-rules/{rule_id}", "GET", auth="admin", summary="One promotion rule",
          response=PromoRuleOut, errors=("NOT_FOUND",), tags=TAGS)
def get_rule(ctx: Ctx, rule_id: str) -> dict:
    return promotions.get_rule(container().promotions, rule_id)


@endpoint(bp, "/admin/promo-rules/{rule_id}", "PUT", auth="admin",
          summary="Replace a promotion rule (audited; conditional on the stored version)",
          body=PromoRuleUpdateIn, response=PromoRuleOut,
          errors=("NOT_FOUND", "ALREADY_EXISTS", "CONCURRENT_UPDATE"), tags=TAGS)
def update_rule(ctx: Ctx, rule_id: str) -> dict:
    c = container()
    doc = ctx.body.model_dump(mode="json", exclude={"reason"})
    return promotions.update_rule(c.promotions, c.audit, ctx.principal, rule_id, doc, ctx.body.reason)


@endpoint(bp, "/admin/promo-rules/{rule_id}", "DELETE", auth="admin",
          summary="Deactivate a promotion rule (kept for history; its code stays reserved; audited)",
          query=DeactivateQuery, response=PromoRuleOut, errors=("NOT_FOUND", "CONCURRENT_UPDATE"),
          tags=TAGS)
def deactivate_rule(ctx: Ctx, rule_id: str) -> dict:
    c = container()
    return promotions.deactivate_rule(c.promotions, c.audit, ctx.principal, rule_id, ctx.query.reason)
