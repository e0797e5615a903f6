"""Models of cancellation terms and of what they mean for one cancel or reschedule (api.bookings, admin refunds)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from chalicelib.api.schemas.common import InstantOut, Schema, Strict


class CancellationTermsOut(Schema):
    """The service's terms when the booking was made."""
    freeUntilHours: int = Field(description="Free cancellation and reschedule until this many hours before start.")
    latePolicy: Literal["fixed", "percent", "not_allowed"] = Field(
        description="Inside that window: a fixed fee, a percentage of what was paid, or no change at all.")
    lateFee: int = Field(description="Minor units when fixed, whole percent when percent.")
    noShowFee: int = Field(description="Minor units owed when nobody is there (settled by an admin).")


class ChangeTermsOut(Schema):
    """What the terms say about this change now: the fee kept and the refund sent to the customer's card (both
    minor units of `currency`; refund 0 when nothing was paid by card)."""
    action: Literal["cancel", "reschedule"]
    allowed: bool
    late: bool = Field(description="Inside the late window (freeUntil has passed).")
    fee: int
    refund: int
    currency: str
    freeUntil: InstantOut
    dryRun: bool = Field(description="True: nothing was changed (the answer of ?dryRun=true).")


class DryRunQuery(Strict):
    dryRun: Literal["true", "false"] = Field(default="false",
                                             description="true: answer what would apply, change nothing.")


class AdminRefundIn(Strict):
    amount: int | None = Field(default=None, ge=1, le=100_000_000,
                               description="Minor units; omitted = everything still refundable.")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the audit trail).")


class CancellationTermsIn(Strict):
    """A service's terms as an admin sets them (bookings keep the terms they were made under)."""
    freeUntilHours: StrictInt = Field(ge=0, le=24 * 60, description="Free changes until this many hours before.")
    latePolicy: Literal["fixed", "percent", "not_allowed"]
    lateFee: StrictInt = Field(default=0, ge=0, le=100_000_000,
                               description="Minor units when fixed, whole percent (at most 100) when percent.")
    noShowFee: StrictInt = Field(default=0, ge=0, le=100_000_000, description="Minor units.")

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> "CancellationTermsIn":
        if self.latePolicy == "percent" and self.lateFee > 100:
            raise ValueError("lateFee: a percent late fee is at most 100")
        return self
