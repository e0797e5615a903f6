"""Models of the booking routes (api.bookings): availability, service requests, recurring series, submissions."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, RootModel

from chalicelib.api.schemas.common import (RRULE_HELP, Address, CountryCode, DateOut, Day, IanaZone, Identifier,
                                           Instant, InstantOut, Notes, OptionalId, OptionIds, PaymentMethodCode,
                                           PostalCode, PromoCodes, Reason, RRule, Schema, Strict)
from chalicelib.api.schemas.pricing import PriceQuoteOut
from chalicelib.api.schemas.terms import CancellationTermsOut, ChangeTermsOut
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Status

Priority = Literal["NORMAL", "EMERGENCY"]


class AvailabilityQuery(Strict):
    from_: Day = Field(alias="from", description="First day (in tz), YYYY-MM-DD")
    to: Day = Field(description="Last day (in tz), inclusive; at most 31 days after from")
    tz: IanaZone = Field(default="UTC", description="IANA zone the days and times are shown in")
    teamMemberId: OptionalId = None
    postalCode: PostalCode | None = Field(default=None, description="Only the teams whose service area covers it")
    country: CountryCode | None = None


class SlotOut(Schema):
    start: InstantOut
    end: InstantOut
    remaining: int
    teamId: str  # who serves it: send it with the booking to book exactly this offer
    teamTimezone: str


class DayOut(Schema):
    date: DateOut
    slots: list[SlotOut]


class AvailabilityOut(Schema):
    serviceId: str
    tz: str
    from_: DateOut = Field(alias="from")
    to: DateOut
    days: list[DayOut]


class RecurrenceIn(Strict):
    rrule: RRule = Field(description=RRULE_HELP)
    tz: IanaZone | None = Field(default=None,
                                description="IANA zone whose wall time every occurrence keeps (default: the team's).")


class CreateServiceRequestIn(Strict):
    serviceId: Identifier
    start: Instant
    paymentMethod: PaymentMethodCode
    teamMemberId: OptionalId = None
    teamId: OptionalId = None
    postalCode: PostalCode = Field(description="Where the crew goes (required): only teams whose service area "
                                   "covers it are considered (422 SERVICE_AREA_NOT_COVERED).")
    country: CountryCode | None = None
    address: Address = ""
    notes: Notes = ""
    options: OptionIds = Field(default_factory=list)
    promoCodes: PromoCodes = Field(default_factory=list)
    customerEmail: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    language: Literal["en", "es"] = Field(default="en", description="Language of the e-mails about this booking.")
    recurrence: RecurrenceIn | None = Field(default=None, description="Book a whole series, all or nothing: "
                                            "201 returns a SeriesBookingOut; 409 names the conflicting occurrence.")
    skipConflicts: bool = Field(default=False, strict=True,
                                description="With recurrence: book the free occurrences and list the others.")


class LocationOut(Schema):
    postalCode: str
    country: str


class ServiceRequestOut(Schema):
    id: str
    serviceId: str
    teamId: str
    memberId: str
    start: InstantOut
    end: InstantOut
    timezone: str
    status: Status
    paymentStatus: PaymentStatus
    paymentMethod: PaymentMethod
    price: PriceQuoteOut
    address: str
    notes: str
    sequence: int
    seriesId: str | None = None
    priority: Priority
    options: list[str]
    promoCodes: list[str]
    location: LocationOut | None = None
    holdExpiresAt: InstantOut | None = Field(default=None, description="Only while the booking awaits card payment.")
    checkoutUrl: str | None = Field(default=None, description="Only while the booking awaits card payment.")
    paymentError: dict | None = None  # why checkoutUrl is null (Stripe unavailable): retry with POST .../checkout
    cancellationTerms: CancellationTermsOut | None = None
    createdAt: InstantOut
    updatedAt: InstantOut


class ChangedRequestOut(ServiceRequestOut):
    """The booking after the cancel or reschedule (as it is, with ?dryRun=true), and what the terms applied."""
    change: ChangeTermsOut


class ValidatedRequestOut(Schema):
    """The request booking would create now (nothing is written or reserved)."""
    serviceId: str
    teamId: str
    teamTimezone: str
    memberId: str | None = None  # only when the body pinned a member; booking picks one otherwise
    start: InstantOut
    end: InstantOut
    localStart: InstantOut  # in the team's zone
    localEnd: InstantOut
    paymentMethod: PaymentMethod
    price: PriceQuoteOut
    location: LocationOut | None = None
    cancellationTerms: CancellationTermsOut | None = None


class SkippedOccurrenceOut(Schema):
    index: int
    start: InstantOut
    code: str


class SeriesBookingOut(Schema):
    seriesId: str
    rrule: str
    tz: str
    items: list[ServiceRequestOut]
    skipped: list[SkippedOccurrenceOut]
    checkoutUrl: str | None = Field(default=None, description="A card series is paid once: one Checkout Session "
                                    "with a line per occurrence (every item carries the same link and hold).")
    holdExpiresAt: InstantOut | None = Field(default=None, description="When the series' unpaid hold ends.")
    paymentError: dict | None = None  # why checkoutUrl is null (Stripe unavailable): retry with POST .../checkout


class BookingCreatedOut(RootModel[ServiceRequestOut | SeriesBookingOut]):
    """One booking, or a whole series when the request carried `recurrence`."""
    model_config = ConfigDict(defer_build=True)


class ServiceRequestListOut(Schema):
    items: list[ServiceRequestOut]
    nextCursor: str | None = None


class RescheduleIn(Strict):
    start: Instant
    teamMemberId: OptionalId = None


class CancelIn(Strict):
    reason: Reason | None = None


class SeriesCancelOut(Schema):
    seriesId: str
    cancelled: list[ServiceRequestOut]
    unchanged: list[ServiceRequestOut] = Field(description="Already closed or already started: left as they are.")


class SubmissionOut(Schema):
    idempotencyKey: str
    status: Literal["COMPLETED", "IN_PROGRESS"]
    httpStatus: int | None = None
    serviceRequestId: str | None = None
    error: dict | None = None
