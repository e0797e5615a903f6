"""Emergency requests (portal): the earliest on-call slot inside the emergency window."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.bookings import idempotency_key, portal_view
from chalicelib.api.routing import Ctx, endpoint, outcome_response
from chalicelib.api.schemas.bookings import ServiceRequestOut
from chalicelib.api.schemas.emergency import EmergencyRequestIn
from chalicelib.bootstrap import container
from chalicelib.domain.booking import PaymentMethod
from chalicelib.services import emergency

bp = Blueprint(__name__)


@endpoint(bp, "/portal/emergency-requests", "POST", auth="user",
          summary="Book the earliest on-call slot inside the emergency window (idempotent)",
          body=EmergencyRequestIn, response=ServiceRequestOut, status=201,
          headers=("Idempotency-Key",),
          errors=("IDEMPOTENCY_KEY_REQUIRED", "NOT_FOUND", "SERVICE_AREA_NOT_COVERED", "SERVICE_INACTIVE",
                  "SLOT_UNAVAILABLE", "IDEMPOTENCY_IN_PROGRESS", "IDEMPOTENCY_KEY_REUSED", "CARD_AMOUNT_TOO_SMALL",
                  "THROTTLED", "TEMPORARILY_UNAVAILABLE"),
          tags=("portal",))
def create_emergency_request(ctx: Ctx) -> Response:
    b = ctx.body
    draft = emergency.EmergencyDraft(service_id=b.serviceId, address=b.address, description=b.description,
                                     payment_method=PaymentMethod(b.paymentMethod), postal_code=b.postalCode,
                                     country=b.country)
    outcome = emergency.create_idempotent(container(), ctx.principal, idempotency_key(ctx),
                                          b.model_dump(mode="json"), draft, portal_view)
    return outcome_response(outcome)
