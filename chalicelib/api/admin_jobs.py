"""Admin routes: the job after booking (start, complete, no-show) and acting for a customer (book, reschedule,
cancel on their behalf)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.bookings import draft_from, idempotency_key
from chalicelib.api.routing import Ctx, endpoint, outcome_response
from chalicelib.api.schemas.admin import AdminServiceRequestOut
from chalicelib.api.schemas.admin_jobs import (AdminCancelIn, AdminCreateServiceRequestIn, AdminRescheduleIn,
                                               CompleteJobIn, NoShowIn, StartJobIn)
from chalicelib.bootstrap import container
from chalicelib.domain.job import Completion
from chalicelib.domain.principal import Principal
from chalicelib.services import job_lifecycle
from chalicelib.services.admin import admin_view

bp = Blueprint(__name__)
TAGS = ("admin",)


@endpoint(bp, "/admin/service-requests", "POST", auth="admin",
          summary="Book for a customer (idempotent; the booking is the customer's, createdBy the admin)",
          body=AdminCreateServiceRequestIn, response=AdminServiceRequestOut, status=201, headers=("Idempotency-Key",),
          errors=("IDEMPOTENCY_KEY_REQUIRED", "NOT_FOUND", "SERVICE_AREA_NOT_COVERED", "SLOT_FULL", "TEAM_DAY_FULL",
                  "SLOT_UNAVAILABLE", "IDEMPOTENCY_IN_PROGRESS", "IDEMPOTENCY_KEY_REUSED", "PROMO_INVALID",
                  "PROMO_EXHAUSTED", "CARD_AMOUNT_TOO_SMALL", "THROTTLED", "TEMPORARILY_UNAVAILABLE"), tags=TAGS)
def create_for_customer(ctx: Ctx) -> Response:
    key, body = idempotency_key(ctx), ctx.body.model_dump(mode="json")
    customer = Principal(user_id=ctx.body.customerId, email=ctx.body.customerEmail)
    return outcome_response(job_lifecycle.book_for_customer(container(), ctx.principal, customer, key, body,
                                                            draft_from(ctx.body), admin_view))


@endpoint(bp, "/admin/service-requests/{request_id}/reschedule", "POST", auth="admin",
          summary="Move a customer's booking for them (atomic; audited as the admin)", body=AdminRescheduleIn,
          response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE"), tags=TAGS)
def reschedule_for_customer(ctx: Ctx, request_id: str) -> dict:
    return admin_view(job_lifecycle.reschedule_for_customer(container(), ctx.principal, request_id, ctx.body.start,
                                                            ctx.body.teamMemberId))


@endpoint(bp, "/admin/service-requests/{request_id}/cancel", "POST", auth="admin",
          summary="Cancel a customer's booking for them (gives its capacity back; audited with the reason)",
          body=AdminCancelIn, response=AdminServiceRequestOut, errors=("NOT_FOUND", "INVALID_STATE"), tags=TAGS)
def cancel_for_customer(ctx: Ctx, request_id: str) -> dict:
    return admin_view(job_lifecycle.cancel_for_customer(container(), ctx.principal, request_id, ctx.body.reason))


@endpoint(bp, "/admin/service-requests/{request_id}/start", "POST", auth="admin",
          summary="The job has started (CONFIRMED -> IN_PROGRESS; repeating it changes nothing)", body=StartJobIn,
          response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "CONCURRENT_UPDATE"), tags=TAGS)
def start_job(ctx: Ctx, request_id: str) -> dict:
    b = ctx.body
    return admin_view(job_lifecycle.start(container(), ctx.principal, request_id, b.startedAt, b.notes))


@endpoint(bp, "/admin/service-requests/{request_id}/complete", "POST", auth="admin",
          summary="The job is done: actual start and end, notes; a COD job with the cash or an unpaid reason",
          body=CompleteJobIn, response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "CASH_NOT_RECORDED", "CONCURRENT_UPDATE"), tags=TAGS)
def complete_job(ctx: Ctx, request_id: str) -> dict:
    b = ctx.body
    done = Completion(actual_start=b.actualStart, actual_end=b.actualEnd, notes=b.notes,
                      cash_collected=b.cashCollected, unpaid_reason=b.unpaidReason)
    return admin_view(job_lifecycle.complete(container(), ctx.principal, request_id, done))


@endpoint(bp, "/admin/service-requests/{request_id}/no-show", "POST", auth="admin",
          summary="The customer was not there (after the booked start; counted on the team-day)", body=NoShowIn,
          response=AdminServiceRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "BOOKING_NOT_STARTED", "CONCURRENT_UPDATE"), tags=TAGS)
def no_show(ctx: Ctx, request_id: str) -> dict:
    return admin_view(job_lifecycle.no_show(container(), ctx.principal, request_id, ctx.body.reason))
