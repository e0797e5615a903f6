"""Availability (public) and the customer's service requests (portal)."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.errors import status_for_code
from chalicelib.api.routing import Ctx, endpoint, outcome_response
from chalicelib.api.schemas.bookings import (AvailabilityOut, AvailabilityQuery, BookingCreatedOut, CancelIn,
                                             ChangedRequestOut, CreateServiceRequestIn, RescheduleIn, SeriesCancelOut,
                                             ServiceRequestListOut, ServiceRequestOut, SubmissionOut, ValidatedRequestOut)
from chalicelib.api.schemas.common import PageQuery
from chalicelib.api.schemas.terms import DryRunQuery
from chalicelib.api.schemas.pricing import PriceQuoteOut
from chalicelib.bootstrap import container
from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, ServiceRequest, Status
from chalicelib.domain.errors import IdempotencyKeyRequired, ValidationFailed
from chalicelib.services import availability as availability_service
from chalicelib.services import booking, booking_validation, change_terms, changes, series, submissions

bp = Blueprint(__name__)

PORTAL_FIELDS = set(ServiceRequestOut.model_fields)
PRICE_FIELDS = set(PriceQuoteOut.model_fields)  # the stored price also keeps internal bookkeeping (usageClaims)
MAX_KEY_LENGTH = 255


def portal_view(request: ServiceRequest) -> dict:
    """The customer's view of a booking. Checkout link, hold expiry and payment error only while it awaits card
    payment: once paid, cancelled or expired they no longer apply."""
    doc = codec.request_to_doc(request)
    awaiting_payment = request.status is Status.PENDING_PAYMENT
    doc["checkoutUrl"] = doc["payment"].get("checkoutUrl") if awaiting_payment else None
    doc["paymentError"] = doc["payment"].get("error") if awaiting_payment and not doc["checkoutUrl"] else None
    doc["holdExpiresAt"] = doc["holdExpiresAt"] if awaiting_payment else None
    doc["price"] = {k: v for k, v in (doc["price"] or {}).items() if k in PRICE_FIELDS}
    return {k: v for k, v in doc.items() if k in PORTAL_FIELDS}


def idempotency_key(ctx: Ctx) -> str:
    key = ctx.headers.get("idempotency-key", "").strip()
    if not key:
        raise IdempotencyKeyRequired()
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(details={"fields": [{"field": "Idempotency-Key", "message": "at most 255 characters"}]})
    return key


def draft_from(body: CreateServiceRequestIn) -> booking.BookingDraft:
    return booking.BookingDraft(service_id=body.serviceId, start=body.start,
                                payment_method=PaymentMethod(body.paymentMethod), member_id=body.teamMemberId,
                                team_id=body.teamId, postal_code=body.postalCode, country=body.country,
                                address=body.address, notes=body.notes,
                                options=tuple(body.options), promo_codes=tuple(body.promoCodes),
                                customer_email=body.customerEmail, language=body.language)


def series_draft_from(body: CreateServiceRequestIn) -> series.SeriesDraft:
    return series.SeriesDraft(booking=draft_from(body), rrule=body.recurrence.rrule, tz=body.recurrence.tz,
                              skip_conflicts=body.skipConflicts)


def series_view(result: series.SeriesResult) -> dict:
    """A card series' one checkout (link, hold, error) is also answered at the top, as for a single booking."""
    items = [portal_view(r) for r in result.booked]
    waiting = next((item for item in items if item["status"] == Status.PENDING_PAYMENT.value), {})
    return {"seriesId": result.series_id, "rrule": result.rrule, "tz": result.tz, "items": items,
            "skipped": list(result.skipped), "checkoutUrl": waiting.get("checkoutUrl"),
            "holdExpiresAt": waiting.get("holdExpiresAt"), "paymentError": waiting.get("paymentError")}


@endpoint(bp, "/services/{service_id}/availability", summary="Bookable slots with remaining counts",
          query=AvailabilityQuery, response=AvailabilityOut,
          errors=("NOT_FOUND", "SERVICE_INACTIVE", "RANGE_TOO_LARGE", "SERVICE_AREA_NOT_COVERED"), tags=("availability",))
def availability(ctx: Ctx, service_id: str) -> dict:
    q = ctx.query
    return availability_service.get_availability(container(), service_id, q.from_, q.to, q.tz, q.teamMemberId,
                                                 q.postalCode, q.country)


@endpoint(bp, "/portal/service-requests", "POST", auth="user", summary="Book a service (idempotent)",
          body=CreateServiceRequestIn, response=BookingCreatedOut, status=201,
          headers=("Idempotency-Key",),
          errors=("IDEMPOTENCY_KEY_REQUIRED", "NOT_FOUND", "SERVICE_INACTIVE", "SERVICE_AREA_NOT_COVERED", "SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE",
                  "IDEMPOTENCY_IN_PROGRESS", "IDEMPOTENCY_KEY_REUSED", "PROMO_INVALID", "PROMO_EXHAUSTED",
                  "CARD_AMOUNT_TOO_SMALL", "THROTTLED", "TEMPORARILY_UNAVAILABLE"), tags=("portal",))
def create_service_request(ctx: Ctx) -> Response:
    key, body = idempotency_key(ctx), ctx.body.model_dump(mode="json")
    if ctx.body.recurrence is not None:  # a whole series: SeriesBookingOut
        outcome = series.create_idempotent(container(), ctx.principal, key, body, series_draft_from(ctx.body),
                                           series_view)
    else:
        outcome = submissions.book_once(container(), ctx.principal, key, body, draft_from(ctx.body), portal_view)
    return outcome_response(outcome)


@endpoint(bp, "/portal/service-requests/validate", "POST", auth="user",
          summary="Check a booking and price it exactly as booking would, writing nothing (the confirmation step)",
          body=CreateServiceRequestIn, response=ValidatedRequestOut,
          errors=("NOT_FOUND", "SERVICE_INACTIVE", "SERVICE_AREA_NOT_COVERED", "SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE",
                  "PROMO_INVALID", "PROMO_EXHAUSTED", "CARD_AMOUNT_TOO_SMALL"), tags=("portal",))
def validate_service_request(ctx: Ctx) -> dict:
    """With `recurrence`, the first occurrence is checked (POST /portal/recurring/preview reports every one)."""
    return booking_validation.view(booking_validation.validate(container(), ctx.principal, draft_from(ctx.body)))


@endpoint(bp, "/portal/service-requests", auth="user", summary="My service requests (newest first)",
          query=PageQuery, response=ServiceRequestListOut, tags=("portal",))
def list_service_requests(ctx: Ctx) -> dict:
    items, cursor = booking.list_own(container(), ctx.principal, ctx.query.cursor, ctx.query.limit)
    return {"items": [portal_view(r) for r in items], "nextCursor": cursor}


@endpoint(bp, "/portal/service-requests/{request_id}", auth="user", summary="One of my service requests",
          response=ServiceRequestOut, errors=("NOT_FOUND",), tags=("portal",))
def get_service_request(ctx: Ctx, request_id: str) -> dict:
    return portal_view(booking.get_own(container(), ctx.principal, request_id))


@endpoint(bp, "/portal/service-requests/{request_id}/reschedule", "POST", auth="user",
          summary="Move a booking (atomic; on conflict the old booking stays) under its cancellation terms; "
                  "?dryRun=true answers what the terms say (the new slot is not checked) and changes nothing",
          body=RescheduleIn, query=DryRunQuery, response=ChangedRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "BOOKING_IN_PAST", "SLOT_FULL", "TEAM_DAY_FULL", "SLOT_UNAVAILABLE",
                  "CHANGE_NOT_ALLOWED"),
          tags=("portal",))
def reschedule(ctx: Ctx, request_id: str) -> dict:
    applied = changes.reschedule_assessed(container(), ctx.principal, request_id, ctx.body.start,
                                          ctx.body.teamMemberId, dry_run=ctx.query.dryRun == "true")
    return changed_view(applied)


@endpoint(bp, "/portal/service-requests/{request_id}/cancel", "POST", auth="user",
          summary="Cancel a booking (gives its capacity back; repeating it answers the cancelled booking); a paid "
                  "card booking is refunded what its terms allow; ?dryRun=true answers the fee and refund only",
          body=CancelIn, query=DryRunQuery, response=ChangedRequestOut,
          errors=("NOT_FOUND", "INVALID_STATE", "BOOKING_IN_PAST", "CHANGE_NOT_ALLOWED"), tags=("portal",))
def cancel(ctx: Ctx, request_id: str) -> dict:
    return changed_view(changes.cancel_assessed(container(), ctx.principal, request_id, ctx.body.reason,
                                                dry_run=ctx.query.dryRun == "true"))


def changed_view(applied: change_terms.Applied) -> dict:
    return {**portal_view(applied.request), "change": change_terms.view(applied)}


@endpoint(bp, "/portal/series/{series_id}/cancel", "POST", auth="user",
          summary="Cancel every upcoming occurrence of a recurring series", body=CancelIn,
          response=SeriesCancelOut, errors=("NOT_FOUND",), tags=("portal",))
def cancel_series(ctx: Ctx, series_id: str) -> dict:
    result = series.cancel_series(container(), ctx.principal, series_id, ctx.body.reason)
    return {"seriesId": result["seriesId"], "cancelled": [portal_view(r) for r in result["cancelled"]],
            "unchanged": [portal_view(r) for r in result["unchanged"]]}


@endpoint(bp, "/portal/submissions/{idempotency_key}", auth="user",
          summary="Was a queued submission received? (offline queue inspector)", response=SubmissionOut,
          errors=("NOT_FOUND", "THROTTLED", "TEMPORARILY_UNAVAILABLE"), tags=("portal",))
def submission(ctx: Ctx, idempotency_key: str) -> dict:
    found = submissions.get_submission(container(), ctx.principal, idempotency_key)
    if found["status"] == "COMPLETED":  # the status the client got (or will get when it replays)
        found["httpStatus"] = status_for_code(found["error"]["code"]) if found["error"] else 201
    return found
