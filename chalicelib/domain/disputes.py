"""Card disputes (chargebacks and inquiries): what Stripe reports about them, kept for an admin as one `dispute`
note per dispute on the request whose payment is disputed.

Stripe reports a dispute with `charge.dispute.created`, `.updated`, `.funds_withdrawn`, `.funds_reinstated` and
`.closed`, each carrying the Dispute as it stood then, in no guaranteed order and sometimes twice. The note keeps
the latest stage reported (STAGE): a report of an earlier stage than the one recorded changes nothing, so every
order and every repetition end with the same note.

The note is open, so the request is on the flagged list, while the dispute needs the business: evidence is due
(`dueBy`), the bank is reviewing it, or it was lost (the money is gone for good). A dispute closed in the
business's favour (won, an inquiry closed without a chargeback, or prevented) resolves its note itself
(`resolvedBy` "stripe"); a lost one opens its note again if an admin had resolved it, since that is news.

A dispute is not a refund: the payment state stays what the refunds make it (docs/payments.md, Disputes).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Mapping

from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.codec import iso_utc
from chalicelib.domain.payment import Change, Decide, Payment, ReconciliationNote

KIND = "dispute"
RESOLVER = "stripe"  # who resolves a note the dispute's outcome settles
# How far a dispute has got: an inquiry ("warning_") may turn into a chargeback; every closed status is last.
STAGE = {"warning_needs_response": 0, "warning_under_review": 1, "needs_response": 2, "under_review": 3,
         "warning_closed": 4, "won": 4, "lost": 4, "prevented": 4}
UNKNOWN_STAGE = 0  # a status Stripe adds later is recorded like an open dispute, never over a later stage
SETTLED_FOR_US = frozenset({"won", "warning_closed", "prevented"})
LOST = "lost"
MAX_ID_LENGTH = 255


def dispute_id(dispute: Mapping[str, Any]) -> str | None:
    value = dispute.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH else None


def note_for(payment: Payment, disputed: str) -> ReconciliationNote | None:
    return next((n for n in payment.reconciliation_notes
                 if n.kind == KIND and n.details.get("disputeId") == disputed), None)


def _stage(status: Any) -> int:
    return STAGE.get(status, UNKNOWN_STAGE) if isinstance(status, str) else UNKNOWN_STAGE


def _due_by(dispute: Mapping[str, Any]) -> str | None:
    """Evidence due date (Stripe's `evidence_details.due_by`, epoch seconds; 0 or absent: none) as ISO UTC."""
    evidence = dispute.get("evidence_details") if isinstance(dispute.get("evidence_details"), dict) else {}
    due = evidence.get("due_by")
    if not isinstance(due, int) or isinstance(due, bool) or due <= 0 or due > 32503680000:  # before year 3000
        return None
    return iso_utc(datetime.fromtimestamp(due, tz=timezone.utc))


def _details(dispute: Mapping[str, Any], disputed: str) -> dict:
    amount = dispute.get("amount")
    return {"disputeId": disputed, "status": str(dispute.get("status") or "")[:64],
            "amount": amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            "currency": str(dispute.get("currency") or "")[:8].upper() or None,
            "reason": str(dispute.get("reason") or "")[:64] or None, "dueBy": _due_by(dispute),
            "chargeId": str(dispute.get("charge") or "")[:MAX_ID_LENGTH] or None}


def with_dispute(payment: Payment, dispute: Mapping[str, Any], now: datetime) -> Payment | None:
    """`payment` with the dispute's note at the reported stage, or None when the report is not news (the same
    stage again, or an earlier one) or names no dispute."""
    disputed = dispute_id(dispute)
    if disputed is None:
        return None
    old = note_for(payment, disputed)
    status = dispute.get("status")
    details = _details(dispute, disputed)
    if old is not None:
        recorded = old.details.get("status")
        if _stage(status) < _stage(recorded) or (_stage(status) == _stage(recorded) and (
                _stage(status) == STAGE[LOST] or details == dict(old.details))):
            return None  # older news, the same news, or a second word on a dispute already closed
    note = ReconciliationNote(KIND, payment.paid_session_id or payment.session_id, old.at if old else now, details,
                              old.resolved_at if old else None, old.resolved_by if old else None,
                              old.resolution if old else None)
    if status in SETTLED_FOR_US and note.is_open:
        note = replace(note, resolved_at=now, resolved_by=RESOLVER, resolution=f"dispute {status} at Stripe")
    elif status == LOST:
        note = replace(note, resolved_at=None, resolved_by=None, resolution=None)
    others = tuple(n for n in payment.reconciliation_notes if n is not old)
    return replace(payment, reconciliation_notes=others + (note,))


def decide_dispute(dispute: Mapping[str, Any], event_id: str | None, now: datetime) -> Decide:
    """A charge.dispute.* event about the request's payment: its note created or moved to the reported stage."""
    def decide(current: ServiceRequest) -> Change | None:
        disputed = dispute_id(dispute)
        payment = with_dispute(current.payment, dispute, now)
        if payment is None or disputed is None:
            return None
        action = "payment.dispute_opened" if note_for(current.payment, disputed) is None else "payment.dispute_updated"
        return Change(current.with_changes(payment=payment.seen(event_id)), action,
                      f"dispute {disputed} {dispute.get('status')}")
    return decide
