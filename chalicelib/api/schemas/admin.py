"""Models of the admin routes (api.admin): team hours and capacity, day overrides, service requests, audit."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, field_validator, model_validator

from chalicelib.api.schemas.bookings import ServiceRequestOut
from chalicelib.api.schemas.common import (Count, Cursor, Day, Identifier, Instant, InstantOut, OptionalId, Reason,
                                          Schema, Strict)
from chalicelib.domain.payment import NOTE_KINDS

HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


class BlackoutIn(Strict):
    id: OptionalId = None
    start: Instant
    end: Instant
    reason: Reason = ""


class TeamAvailabilityIn(Strict):
    weeklyHours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                      list[tuple[str, str]]] = Field(max_length=7)
    blackouts: list[BlackoutIn] = Field(default_factory=list, max_length=200)
    force: bool = False
    reason: Reason | None = None

    @field_validator("weeklyHours")
    @classmethod
    def _windows(cls, value: dict) -> dict:
        for day, windows in value.items():
            if len(windows) > 6:
                raise ValueError(f"{day}: at most 6 windows")
            for start, end in windows:
                if not (HH_MM.fullmatch(start) and HH_MM.fullmatch(end)):
                    raise ValueError(f"{day}: times are HH:MM")
                if start >= end:
                    raise ValueError(f"{day}: window start must be before its end")
        return value


class TeamAvailabilityOut(Schema):
    teamId: str
    timezone: str
    weeklyHours: dict
    blackouts: list[dict]
    version: int


class TeamCapacityIn(Strict):
    dailyLimit: Count = Field(le=1000)
    slotCapacity: StrictInt | None = Field(default=None, ge=0, le=1000)
    reason: Reason | None = None


class TeamCapacityOut(Schema):
    teamId: str
    dailyLimit: int
    slotCapacity: int
    version: int


class CapacityOverrideIn(Strict):
    teamId: Identifier
    date: Day
    limit: Count = Field(le=1000)
    reason: Reason = Field(min_length=1)


class CapacityOverrideOut(Schema):
    teamId: str
    date: str
    limit: int
    reason: str


class AdminListQuery(Strict):
    """Any combination of status, paymentStatus and teamId, with an optional start range, is one key condition
    on one index: a page reads at most `limit` requests, however many others the filters exclude."""
    status: Literal["PENDING_PAYMENT", "CONFIRMED", "COMPLETED", "CANCELLED", "EXPIRED", "IN_PROGRESS",
                    "NO_SHOW"] | None = None
    paymentStatus: Literal["UNPAID", "PENDING", "PAID", "FAILED", "EXPIRED", "REFUND_PENDING", "PARTIALLY_REFUNDED",
                           "REFUNDED", "COD_DUE", "COD_COLLECTED"] | None = None
    teamId: OptionalId = None
    from_: Instant | None = Field(default=None, alias="from", description="Requests starting at or after this.")
    to: Instant | None = Field(default=None, description="Requests starting at or before this.")
    cursor: Cursor | None = Field(default=None, description="nextCursor of the previous page, with the same "
                                                            "filters (another query's cursor answers 400).")
    limit: int = Field(default=50, ge=1, le=200)

    @model_validator(mode="after")
    def _range(self) -> "AdminListQuery":
        # DynamoDB refuses a BETWEEN whose bounds are reversed; say so to the client instead.
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self


class AdminRequestQuery(Strict):
    auditLimit: int = Field(default=50, ge=1, le=200, description="Audit entries in `audit` (oldest first); "
                                                                  "the rest through auditCursor.")


class RequestAuditQuery(Strict):
    cursor: Cursor | None = Field(default=None, description="auditCursor of the detail, or nextCursor.")
    limit: int = Field(default=50, ge=1, le=200)


class JobOut(Schema):
    startedAt: InstantOut | None = None
    endedAt: InstantOut | None = None
    notes: str = ""
    unpaidReason: str | None = None
    noShowAt: InstantOut | None = None


NoteKind = Literal[NOTE_KINDS]  # type: ignore[valid-type]
MAX_NOTE_IDS = 50
NoteId = Annotated[str, Field(min_length=3, max_length=300, pattern=r"^[a-z_]+:[\x21-\x7e]+$")]


class ReconciliationNoteOut(Schema):
    """Something the payment code left for an admin; the kind's own details (amounts, Stripe's reason...) are
    further keys of the note."""
    model_config = ConfigDict(extra="allow")
    id: str = Field(description="Unique within the request: `<kind>:<what it is about>` (a dispute, refund, refund "
                                "attempt, else the session), e.g. `dispute:dp_123`. Resolve one note by it.")
    kind: str = Field(description="One of " + ", ".join(NOTE_KINDS) + ".")
    sessionId: str | None = None
    at: InstantOut | None = None
    open: bool = Field(description="No admin has resolved it yet: the request is on the flagged list while one "
                                   "of its notes is open.")
    resolvedAt: InstantOut | None = None
    resolvedBy: str | None = None
    resolution: str | None = Field(default=None, description="The resolving admin's reason.")


class ResolveNotesIn(Strict):
    reason: Reason = Field(min_length=1, description="Why the notes are settled (kept with them and in the audit "
                                                     "trail).")
    notes: list[NoteKind] | None = Field(default=None, min_length=1, max_length=len(NOTE_KINDS),
                                         description="The kinds of open notes to resolve; omitted = every open one.")
    ids: list[NoteId] | None = Field(default=None, min_length=1, max_length=MAX_NOTE_IDS,
                                     description="Only the notes with these ids (`id` of each listed note), e.g. one "
                                                 "of two disputes; combined with `notes`, both must match.")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class AdminServiceRequestOut(ServiceRequestOut):
    userId: str
    customerEmail: str | None = None
    paymentSessionId: str | None = None
    paymentAmount: int | None = None
    currency: str | None = None
    paidAt: str | None = None
    lastEventId: str | None = None
    reconciliationNotes: list[ReconciliationNoteOut] | None = None
    payment: dict = Field(default_factory=dict)
    createdBy: str | None = Field(default=None, description="The admin who booked for the customer (by phone).")
    job: JobOut | None = Field(default=None, description="What happened at the appointment (start, complete, "
                                                         "no-show).")
    audit: list[dict] | None = None
    auditCursor: str | None = Field(default=None, description="Next page of the audit history: GET "
                                                              "/admin/service-requests/{id}/audit?cursor=...")


class AdminServiceRequestListOut(Schema):
    items: list[AdminServiceRequestOut]
    nextCursor: str | None = None


class AuditQuery(Strict):
    day: Day | None = None
    cursor: Cursor | None = None
    limit: int = Field(default=50, ge=1, le=200)


class AuditListOut(Schema):
    items: list[dict]
    nextCursor: str | None = None
