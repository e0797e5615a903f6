"""Request/response models (pydantic v2). The OpenAPI document is generated from these and api.routing.REGISTRY.

Areas add their models here, grouped under a heading comment.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Schema(BaseModel):
    """Every model: built on first use rather than at import (about 150 ms off a Lambda cold start)."""
    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    """Request models reject unknown fields so typos fail loudly instead of being ignored."""
    model_config = ConfigDict(extra="forbid")


class MoneyOut(Schema):
    amount: int = Field(description="Minor units (cents).")
    currency: str = "USD"


class ErrorInfo(Schema):
    code: str
    message: str
    details: dict = Field(default_factory=dict)


class ErrorResponse(Schema):
    error: ErrorInfo


# --- system ----------------------------------------------------------------------------------------------
class HealthOut(Schema):
    status: str
    stage: str


# --- catalog ---------------------------------------------------------------------------------------------
class ServiceOptionOut(Schema):
    id: str
    name: str
    price: MoneyOut


class ServiceOut(Schema):
    id: str
    name: str
    category: str
    description: str
    durationMinutes: int
    bufferMinutes: int
    slotStepMinutes: int
    leadTimeMinutes: int
    basePrice: MoneyOut
    teamIds: list[str]
    options: list[ServiceOptionOut]


class ServiceListOut(Schema):
    items: list[ServiceOut]


class TeamMemberOut(Schema):
    """Portal-safe: no e-mail, phone or internal notes."""
    model_config = ConfigDict(extra="forbid")
    id: str
    teamId: str
    displayName: str
    bio: str
    rating: float | None = None


class TeamMemberListOut(Schema):
    items: list[TeamMemberOut]


# --- realtime --------------------------------------------------------------------------------------------
class SubscribeMessage(Strict):
    """Websocket frame: start receiving `availability.changed` for a service's team-local days [from, to]."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    action: Literal["subscribe"]
    serviceId: str = Field(min_length=1, max_length=128)
    from_: date = Field(alias="from")
    to: date


class UnsubscribeMessage(Strict):
    """Websocket frame: stop receiving a service's days [from, to], or all of its days when no range is given."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    action: Literal["unsubscribe"]
    serviceId: str = Field(min_length=1, max_length=128)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class AvailabilityChangesQuery(Strict):
    since: str | None = Field(default=None, max_length=64, pattern=r"^\d{8}T\d{6}\.\d{6}Z-([0-9a-f]{8}|~)$",
                              description="Cursor from the previous response; omit to get a starting cursor.")
    limit: int = Field(default=50, ge=1, le=200)


class SlotRemainingOut(Schema):
    start: str
    remaining: int


class AvailabilityChangeOut(Schema):
    cursor: str
    serviceId: str
    teamId: str
    date: str = Field(description="Team-local date (yyyy-mm-dd) whose slots changed.")
    slots: list[SlotRemainingOut]
    at: str


class AvailabilityChangesOut(Schema):
    serviceId: str
    changes: list[AvailabilityChangeOut]
    cursor: str = Field(description="Pass as `since` on the next poll.")
    hasMore: bool
    reset: bool = Field(description="The cursor was older than the change log keeps: reload availability.")


# --- booking ---------------------------------------------------------------------------------------------
from datetime import date as _date  # noqa: E402

from pydantic import AwareDatetime, field_validator  # noqa: E402

Identifier = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo
    try:
        ZoneInfo(value)
    except Exception as exc:  # noqa: BLE001 - any failure means "not an IANA zone we know"
        raise ValueError("must be an IANA time zone such as America/New_York") from exc
    return value


class AvailabilityQuery(Strict):
    from_: _date = Field(alias="from", description="First day (in tz), YYYY-MM-DD")
    to: _date = Field(description="Last day (in tz), inclusive; at most 31 days after from")
    tz: str = Field(default="UTC", max_length=64, description="IANA zone the days and times are shown in")
    teamMemberId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")

    _zone = field_validator("tz")(classmethod(lambda cls, v: _check_zone(v)))


class SlotOut(Schema):
    start: str
    end: str
    remaining: int


class DayOut(Schema):
    date: str
    slots: list[SlotOut]


class AvailabilityOut(Schema):
    serviceId: str
    tz: str
    from_: str = Field(alias="from")
    to: str
    days: list[DayOut]


# --- recurring series and emergency bookings ---------------------------------------------------------------
class RecurrenceIn(Strict):
    rrule: str = Field(min_length=1, max_length=256,
                       description="RRULE: FREQ=WEEKLY|MONTHLY, INTERVAL, COUNT<=52 or UNTIL<=1 year, BYDAY.")
    tz: str | None = Field(default=None, max_length=64,
                           description="IANA zone whose wall time every occurrence keeps (default: the team's).")

    _zone = field_validator("tz")(classmethod(lambda cls, v: v if v is None else _check_zone(v)))


class SkippedOccurrenceOut(Schema):
    index: int
    start: str
    code: str


class SeriesBookingOut(Schema):
    seriesId: str
    rrule: str
    tz: str
    items: list["ServiceRequestOut"]
    skipped: list[SkippedOccurrenceOut]


class SeriesCancelOut(Schema):
    seriesId: str
    cancelled: list["ServiceRequestOut"]
    unchanged: list["ServiceRequestOut"] = Field(description="Already closed or already started: left as they are.")


class EmergencyRequestIn(Strict):
    serviceId: str = Identifier
    address: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=2000)
    paymentMethod: Literal["CARD", "COD"]


class CreateServiceRequestIn(Strict):
    serviceId: str = Identifier
    start: AwareDatetime
    paymentMethod: Literal["CARD", "COD"]
    teamMemberId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    teamId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    address: str = Field(default="", max_length=500)
    notes: str = Field(default="", max_length=2000)
    options: list[str] = Field(default_factory=list, max_length=20)
    promoCodes: list[str] = Field(default_factory=list, max_length=5)
    customerEmail: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    recurrence: RecurrenceIn | None = Field(default=None, description="Book a whole series, all or nothing: "
                                            "201 returns a SeriesBookingOut; 409 names the conflicting occurrence.")
    skipConflicts: bool = Field(default=False, strict=True,
                                description="With recurrence: book the free occurrences and list the others.")


class ServiceRequestOut(Schema):
    id: str
    serviceId: str
    teamId: str
    memberId: str
    start: str
    end: str
    timezone: str
    status: str
    paymentStatus: str
    paymentMethod: str
    price: dict
    address: str
    notes: str
    sequence: int
    seriesId: str | None = None
    priority: str
    options: list[str]
    promoCodes: list[str]
    holdExpiresAt: str | None = None
    checkoutUrl: str | None = None
    paymentError: dict | None = None  # why checkoutUrl is null (Stripe unavailable): retry with POST .../checkout
    createdAt: str
    updatedAt: str


class BookingCreatedOut(RootModel[ServiceRequestOut | SeriesBookingOut]):
    """One booking, or a whole series when the request carried `recurrence`."""
    model_config = ConfigDict(defer_build=True)



class ServiceRequestListOut(Schema):
    items: list[ServiceRequestOut]
    nextCursor: str | None = None


class PageQuery(Strict):
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=20, ge=1, le=100)


class RescheduleIn(Strict):
    start: AwareDatetime
    teamMemberId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class CancelIn(Strict):
    reason: str | None = Field(default=None, max_length=500)


# --- calendar invites and signed links -------------------------------------------------------------------
class CalendarQuery(Strict):
    tz: str | None = Field(default=None, max_length=64,
                           description="IANA zone to write the times in (default: the team's zone)")

    _zone = field_validator("tz")(classmethod(lambda cls, v: v if v is None else _check_zone(v)))


class SubmissionOut(Schema):
    idempotencyKey: str
    status: Literal["COMPLETED", "IN_PROGRESS"]
    httpStatus: int | None = None
    serviceRequestId: str | None = None
    error: dict | None = None


# --- admin: teams, capacity, requests, audit --------------------------------------------------------------
HHMM = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class BlackoutIn(Strict):
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(default="", max_length=500)


class TeamAvailabilityIn(Strict):
    weeklyHours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                      list[tuple[str, str]]] = Field(max_length=7)
    blackouts: list[BlackoutIn] = Field(default_factory=list, max_length=200)
    force: bool = False
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("weeklyHours")
    @classmethod
    def _windows(cls, value: dict) -> dict:
        import re
        for day, windows in value.items():
            if len(windows) > 6:
                raise ValueError(f"{day}: at most 6 windows")
            for start, end in windows:
                if not (re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", start)
                        and re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", end)):
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
    dailyLimit: int = Field(ge=0, le=1000)
    slotCapacity: int | None = Field(default=None, ge=0, le=1000)
    reason: str | None = Field(default=None, max_length=500)


class TeamCapacityOut(Schema):
    teamId: str
    dailyLimit: int
    slotCapacity: int
    version: int


class CapacityOverrideIn(Strict):
    teamId: str = Identifier
    date: _date
    limit: int = Field(ge=0, le=1000)
    reason: str = Field(min_length=1, max_length=500)


class CapacityOverrideOut(Schema):
    teamId: str
    date: str
    limit: int
    reason: str


class AdminListQuery(Strict):
    status: Literal["PENDING_PAYMENT", "CONFIRMED", "COMPLETED", "CANCELLED", "EXPIRED"] | None = None
    paymentStatus: Literal["UNPAID", "PENDING", "PAID", "FAILED", "EXPIRED", "REFUNDED", "COD_DUE",
                           "COD_COLLECTED"] | None = None
    teamId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)


class AdminServiceRequestOut(ServiceRequestOut):
    userId: str
    customerEmail: str | None = None
    paymentSessionId: str | None = None
    paymentAmount: int | None = None
    currency: str | None = None
    paidAt: str | None = None
    lastEventId: str | None = None
    reconciliationNotes: list | None = None
    payment: dict = Field(default_factory=dict)
    audit: list[dict] | None = None


class AdminServiceRequestListOut(Schema):
    items: list[AdminServiceRequestOut]
    nextCursor: str | None = None


class AuditQuery(Strict):
    day: _date | None = None
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=50, ge=1, le=200)


class AuditListOut(Schema):
    items: list[dict]
    nextCursor: str | None = None


# --- promo rules -----------------------------------------------------------------------------------------
from pydantic import StrictBool, StrictInt  # noqa: E402

class PromoRuleIn(Strict):
    """A promotion rule. Amounts are minor units of `currency`; percent values are basis points."""
    id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
                           description="Optional on create (generated when absent); must match the path on PUT.")
    code: str | None = Field(default=None, min_length=2, max_length=32, pattern=r"^\s*[A-Za-z0-9][A-Za-z0-9_-]+\s*$",
                             description="Code customers type (case-insensitive, unique); null = automatic rule.")
    kind: Literal["percent", "fixed"]
    value: StrictInt = Field(gt=0, description="percent: basis points (1000 = 10 %, at most 10000); fixed: minor "
                                               "units.")
    description: str = Field(default="", max_length=200)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    validFrom: AwareDatetime | None = Field(default=None, description="Inclusive; judged at the appointment start.")
    validTo: AwareDatetime | None = Field(default=None, description="Exclusive; judged at the appointment start.")
    serviceIds: list[str] = Field(default_factory=list, max_length=100, description="Empty: every service.")
    minSubtotal: StrictInt = Field(default=0, ge=0, description="Minimum pre-discount subtotal.")
    priority: StrictInt = Field(default=100, ge=0, le=1_000_000, description="Lower applies first; ties by id.")
    stackable: StrictBool = Field(default=True, description="false: exclusive, combined with no other rule.")
    maxDiscount: StrictInt | None = Field(default=None, gt=0, description="Cap for this rule's discount.")
    globalLimit: StrictInt | None = Field(default=None, ge=1)
    perCustomerLimit: StrictInt | None = Field(default=None, ge=1)
    active: StrictBool = True


class PromoRuleUpdateIn(PromoRuleIn):
    reason: str | None = Field(default=None, max_length=500, description="Recorded in the audit entry.")


class PromoRuleOut(Schema):
    id: str
    code: str | None
    kind: str
    value: int
    description: str
    currency: str
    validFrom: str | None
    validTo: str | None
    serviceIds: list[str]
    minSubtotal: int
    priority: int
    stackable: bool
    maxDiscount: int | None
    globalLimit: int | None
    perCustomerLimit: int | None
    active: bool
    version: int


class PromoRuleListOut(Schema):
    items: list[PromoRuleOut]


class DeactivateQuery(Strict):
    reason: str | None = Field(default=None, max_length=500, description="Recorded in the audit entry.")


# --- pricing ---------------------------------------------------------------------------------------------
class QuoteIn(Strict):
    serviceId: str = Identifier
    start: AwareDatetime
    tz: str = Field(max_length=64, description="Customer's IANA zone: local times shown and recurrence wall time.")
    teamId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                               description="Team whose local time judges surcharges (default: the first team).")
    options: list[str] = Field(default_factory=list, max_length=20)
    promoCodes: list[str] = Field(default_factory=list, max_length=5)
    emergency: StrictBool = False
    recurrence: str | None = Field(default=None, min_length=1, max_length=256,
                                   description="RRULE: FREQ=WEEKLY|MONTHLY, INTERVAL, COUNT<=52 or UNTIL<=1 year, "
                                               "BYDAY.")


class QuoteLineOut(Schema):
    kind: Literal["BASE", "OPTION", "SURCHARGE", "DISCOUNT"]
    code: str
    description: str
    amount: int = Field(description="Minor units; negative for discounts (the lines add up to the total).")


class NotAppliedRuleOut(Schema):
    ruleId: str
    code: str | None
    reason: str


class PriceQuoteOut(Schema):
    currency: str
    lines: list[QuoteLineOut]
    subtotal: int
    discount: int
    total: int
    appliedRules: list[str]
    notApplied: list[NotAppliedRuleOut]


class OccurrenceQuoteOut(Schema):
    index: int
    start: str
    end: str
    localStart: str
    localEnd: str
    shifted: bool = Field(description="The wall time fell in a DST gap and moved forward by the gap.")
    availability: str | None = Field(default=None, description="AVAILABLE or a conflict code (preview only).")
    quote: PriceQuoteOut


class SeriesQuoteOut(Schema):
    rrule: str
    count: int
    currency: str
    occurrences: list[OccurrenceQuoteOut]
    subtotal: int
    discount: int
    total: int


class QuoteOut(Schema):
    serviceId: str
    teamId: str
    teamTimezone: str
    tz: str
    start: str
    localStart: str
    quote: PriceQuoteOut | None = Field(description="The visit's price; null when a recurrence was given.")
    series: SeriesQuoteOut | None


class RecurringPreviewIn(Strict):
    serviceId: str = Identifier
    start: AwareDatetime
    tz: str = Field(max_length=64)
    rrule: str = Field(min_length=1, max_length=256)
    teamId: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class RecurringPreviewOut(Schema):
    serviceId: str
    teamId: str
    teamTimezone: str
    tz: str
    available: int
    conflicts: int
    series: SeriesQuoteOut


# --- payments: checkout, COD, Stripe webhook, reconciliation ----------------------------------------------
class CodCollectedIn(Strict):
    note: str | None = Field(default=None, max_length=500)


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
    errors: int
    stripeCalls: int
