"""The sparse attributes that key the scheduled jobs' indexes on the service-requests table (see
models.HoldsIndex and models.PaidByUpdateIndex). Every write of a request item goes through
booking_repository.to_item, which sets them from here; the backfill (devtools/migrate.py) uses the same
function, so old items and new writes agree. An attribute set to None is not stored: the item leaves the index.
"""
from __future__ import annotations

from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentStatus, ServiceRequest
from chalicelib.domain.payment import hold_due_at

HOLD_PARTITION = "HOLD"  # every due-able hold in one index partition, sorted by when it is due
FLAGGED_PARTITION = "FLAGGED"  # requests with reconciliation notes (the admin's flagged list)


def job_index_attributes(request: ServiceRequest) -> dict[str, str | None]:
    """holdKey/holdExpiresAt while hold expiry may have to act (`hold_due_at`); paidDay (the UTC day of the last
    change) while the payment is PAID, for the reconciliation's check of recently changed paid requests;
    flaggedKey while the payment carries a reconciliation note no admin has resolved (resolved ones stay in the
    history but no longer flag it)."""
    due = hold_due_at(request)
    # Refund states too: reconciliation checks the refunds of recently paid requests.
    paid = request.payment_status in (PaymentStatus.PAID, PaymentStatus.REFUND_PENDING,
                                      PaymentStatus.PARTIALLY_REFUNDED)
    return {"holdKey": HOLD_PARTITION if due is not None else None,
            "holdExpiresAt": f"{codec.iso_utc(due)}#{request.id}" if due is not None else None,
            "paidDay": codec.iso_utc(request.updated_at)[:10] if paid else None,
            "flaggedKey": FLAGGED_PARTITION if request.payment.open_notes else None}
