"""Models of the job and acting-for-a-customer admin routes (api.admin_jobs)."""
from __future__ import annotations

from pydantic import Field, model_validator

from chalicelib.api.schemas.bookings import CreateServiceRequestIn
from chalicelib.api.schemas.common import Identifier, Instant, Notes, OptionalId, Reason, Strict


class AdminCreateServiceRequestIn(CreateServiceRequestIn):
    """The portal's booking body plus the customer it is for (the booking's owner)."""
    customerId: Identifier = Field(description="The customer's user id (the `sub` of their token): the booking "
                                               "is theirs and appears in their GET /portal/service-requests.")

    @model_validator(mode="after")
    def _single(self) -> "AdminCreateServiceRequestIn":
        if self.recurrence is not None or self.skipConflicts:
            raise ValueError("recurrence: a series is booked by the customer through the portal")
        return self


class StartJobIn(Strict):
    startedAt: Instant | None = Field(default=None, description="When the work began (default: now; not later).")
    notes: Notes | None = None


class CompleteJobIn(Strict):
    actualStart: Instant | None = Field(default=None, description="Default: when it was started, else the booked "
                                                                  "start.")
    actualEnd: Instant | None = Field(default=None, description="Default: now (not later).")
    notes: Notes | None = None
    cashCollected: bool = Field(default=False, strict=True, description="A COD job: the cash was collected now "
                                "(recorded as POST .../cod-collected records it).")
    unpaidReason: Reason | None = Field(default=None, min_length=1, description="A COD job completed without the "
                                        "cash, and why (409 CASH_NOT_RECORDED when neither is given).")


class NoShowIn(Strict):
    reason: Reason | None = None


class AdminRescheduleIn(Strict):
    start: Instant
    teamMemberId: OptionalId = None


class AdminCancelIn(Strict):
    reason: Reason = Field(min_length=1, description="Why the admin cancels for the customer (audited).")
