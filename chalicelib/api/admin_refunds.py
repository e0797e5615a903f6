"""Admin refund of a card payment (full or partial, with a reason kept in the audit trail)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin import AdminServiceRequestOut
from chalicelib.api.schemas.terms import AdminRefundIn
from chalicelib.bootstrap import container
from chalicelib.services import admin
from chalicelib.services.payments import refunds

bp = Blueprint(__name__)


@endpoint(bp, "/admin/service-requests/{request_id}/refund", "POST", auth="admin",
          summary="Refund a paid card booking (all that is left, or `amount`), audited with the reason; the answer "
                  "is REFUND_PENDING until Stripe confirms. Each call is a new attempt (new Stripe idempotency key), "
                  "which is how a refused refund is retried. 409 REFUND_REFUSED: Stripe refused it (details carry "
                  "Stripe's code and message); it is recorded failed and flagged (refund_refused note)",
          body=AdminRefundIn, response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "REFUND_REFUSED", "CONCURRENT_UPDATE"), tags=("admin", "payments"))
def refund(ctx: Ctx, request_id: str) -> dict:
    return admin.admin_view(refunds.refund_by_admin(container(), ctx.principal, request_id, ctx.body.amount,
                                                    ctx.body.reason))
