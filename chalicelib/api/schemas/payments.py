"""Models of the payment routes (api.payments): checkout, COD, the Stripe webhook, reconciliation."""
from __future__ import annotations

from pydantic import Field

from chalicelib.api.schemas.common import Reason, Schema, Strict


class CodCollectedIn(Strict):
    note: Reason | None = None


class WebhookAckOut(Schema):
    received: bool
    eventId: str | None = None
    outcome: str


class ReconcileIn(Strict):
    maxSeconds: int = Field(default=25, ge=1, le=900)


class ReconcileSummaryOut(Schema):
    complete: bool
    changed: int
    open: int
    eventsReplayed: int
    fixedPaid: int
    fixedPending: int
    fixedFailed: int
    fixedExpired: int
    expiredStale: int
    flaggedPaidNotInStripe: int
    mismatches: int
    refunded: int
    refundsRefused: int = Field(description="Refunds sent by this run that Stripe refused (recorded failed, flagged "
                                            "refund_refused; no later run sends them again)")
    errors: int
    stripeCalls: int
