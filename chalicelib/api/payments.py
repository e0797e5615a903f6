"""Payment routes (checkout resume, COD collection, Stripe webhook, reconcile on demand) and the thin
entry points of the payment schedules."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.bookings import portal_view
from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.admin import AdminServiceRequestOut
from chalicelib.api.schemas.bookings import ServiceRequestOut
from chalicelib.api.schemas.payments import CodCollectedIn, ReconcileIn, ReconcileSummaryOut, WebhookAckOut
from chalicelib.bootstrap import container
from chalicelib.clock import monotonic
from chalicelib.invocation import deadline_from
from chalicelib.services import admin, payments

bp = Blueprint(__name__)


@endpoint(bp, "/portal/service-requests/{request_id}/checkout", "POST", auth="user",
          summary="Pay an unpaid card booking: the open Checkout Session, or a fresh one if it expired",
          response=ServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "PAYMENT_PROVIDER_UNAVAILABLE"), tags=("portal", "payments"))
def resume_checkout(ctx: Ctx, request_id: str) -> dict:
    return portal_view(payments.resume_checkout(container(), ctx.principal, request_id))


@endpoint(bp, "/admin/service-requests/{request_id}/cod-collected", "POST", auth="admin",
          summary="Record cash collected for a COD booking (audited)", body=CodCollectedIn,
          response=AdminServiceRequestOut, errors=("NOT_FOUND", "INVALID_STATE"), tags=("admin", "payments"))
def cod_collected(ctx: Ctx, request_id: str) -> dict:
    return admin.admin_view(payments.cod_collected(container(), ctx.principal, request_id, ctx.body.note))


# No body model: the signature covers the exact raw bytes, which must reach the verifier untouched.
@endpoint(bp, "/payments/stripe/webhook", "POST", auth="signature",
          summary="Stripe events (signature-verified, deduplicated by event id)", response=WebhookAckOut,
          headers=("Stripe-Signature",), errors=("SIGNATURE_INVALID", "THROTTLED", "TEMPORARILY_UNAVAILABLE"),
          tags=("payments",))
def stripe_webhook(ctx: Ctx) -> dict:
    return payments.receive_webhook(container(), ctx.request.raw_body, ctx.headers.get("stripe-signature"))


@endpoint(bp, "/admin/jobs/reconcile", "POST", auth="admin", summary="Run payment reconciliation now",
          body=ReconcileIn, response=ReconcileSummaryOut, tags=("admin", "payments"))
def reconcile(ctx: Ctx) -> dict:
    return payments.reconcile_payments(container(), deadline=monotonic() + ctx.body.maxSeconds)


def expire_holds_job(event: Any) -> dict:
    return payments.expire_holds(container(), deadline=deadline_from(getattr(event, "context", None)))


def reconcile_payments_job(event: Any) -> dict:
    return payments.reconcile_tonight(container(), deadline=deadline_from(getattr(event, "context", None)))
