"""What a booking's cancellation terms mean for a cancel or reschedule now (domain/terms.py over the request):
the base a late fee is taken from is what is left to refund of a card payment, else the booking's price."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, ServiceRequest
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import ChangeNotAllowed
from chalicelib.domain.payment import amount_due
from chalicelib.domain.refunds import FAILED_STATES, REFUND_STATES, paid_amount, refundable
from chalicelib.domain.terms import DEFAULT_TERMS, Assessment, CancellationTerms, assess

CANCEL, RESCHEDULE = "cancel", "reschedule"


@dataclass(frozen=True)
class Applied:
    """A change's answer: the request (as changed, or as it is for a dry run) and what the terms said."""
    request: ServiceRequest
    action: str
    assessment: Assessment
    dry_run: bool = False


def terms_of(catalog: Catalog, request: ServiceRequest) -> CancellationTerms:
    """The terms the booking was made under; the service's current ones for bookings older than terms."""
    if request.terms is not None:
        return request.terms
    service = catalog.services.get(request.service_id)
    return service.terms if service is not None else DEFAULT_TERMS


def assess_change(catalog: Catalog, request: ServiceRequest, action: str, now: datetime,
                  enforce: bool = True) -> Assessment:
    """Raises ChangeNotAllowed when the terms forbid it (only when `enforce`: compensations are never blocked and
    waive the fee)."""
    paid_by_card = request.payment_method is PaymentMethod.CARD and request.payment_status in REFUND_STATES
    base, currency = amount_due(request)
    if paid_by_card:
        base = refundable(request)
        currency = request.payment.currency or currency
    if not enforce:
        return Assessment(True, False, 0, base if paid_by_card else 0, currency, request.placement.start)
    assessment = assess(terms_of(catalog, request), request.placement.start, now, base, currency)
    if not paid_by_card or action == RESCHEDULE:
        assessment = Assessment(assessment.allowed, assessment.late, assessment.fee, 0, currency,
                                assessment.free_until)
    if not assessment.allowed:
        raise ChangeNotAllowed(details={"action": action, "freeUntil": codec.iso_utc(assessment.free_until)})
    return assessment


def as_cancelled(request: ServiceRequest) -> Assessment:
    """What the cancel of an already cancelled request applied: the refunds decided on (failed ones aside) and the
    rest of a card payment kept as the fee (for requests cancelled before the decision was stored with them)."""
    if request.cancellation is not None:
        return request.cancellation
    currency = request.payment.currency or amount_due(request)[1]
    if request.payment_method is not PaymentMethod.CARD or request.payment_status not in REFUND_STATES:
        return Assessment(True, False, 0, 0, currency, request.placement.start)
    refund = sum(r.amount for r in request.payment.refunds if r.status not in FAILED_STATES)
    fee = max(0, paid_amount(request) - refund)
    return Assessment(True, fee > 0, fee, refund, currency, request.placement.start)


def view(applied: Applied) -> dict:
    a = applied.assessment
    return {"action": applied.action, "allowed": a.allowed, "late": a.late, "fee": a.fee, "refund": a.refund,
            "currency": a.currency, "freeUntil": codec.iso_utc(a.free_until), "dryRun": applied.dry_run}
