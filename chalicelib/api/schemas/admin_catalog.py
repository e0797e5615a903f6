"""Models of the catalog administration routes (api.admin_catalog): services, teams, members, their lists."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from chalicelib.api.schemas.admin import HH_MM
from chalicelib.api.schemas.terms import CancellationTermsIn, CancellationTermsOut
from chalicelib.api.schemas.common import (Count, Cursor, IanaZone, Identifier, Instant, OptionalId, Reason, Schema,
                                           Strict)

Name = Annotated[str, Field(min_length=1, max_length=120)]
Text = Annotated[str, Field(max_length=2000)]
Minutes = Annotated[StrictInt, Field(ge=0, le=24 * 60)]
Duration = Annotated[StrictInt, Field(ge=15, le=24 * 60)]
Step = Annotated[StrictInt, Field(ge=5, le=24 * 60)]
Version = Annotated[StrictInt, Field(ge=1, description="The version last read; a stale one answers 409.")]
Ids = Annotated[list[Identifier], Field(max_length=50)]


class MoneyIn(Strict):
    amount: Count = Field(le=10_000_000, description="Minor units (cents).")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")


class OptionIn(Strict):
    id: Identifier
    name: Name
    price: MoneyIn


class OptionPriceIn(Strict):
    id: Identifier
    price: MoneyIn


class AreaPriceIn(Strict):
    teamId: Identifier
    basePrice: MoneyIn
    options: list[OptionPriceIn] = Field(default_factory=list, max_length=20)


class ServiceFields(Strict):
    """What an admin sets on a service; times in minutes. A slot step and a duration are never 0."""
    name: Name
    description: Text = ""
    category: Name
    durationMinutes: Duration
    bufferMinutes: Minutes = 0
    slotStepMinutes: Step = 15
    leadTimeMinutes: Annotated[StrictInt, Field(ge=0, le=60 * 24 * 60)] = 0
    basePrice: MoneyIn
    teamIds: Ids = Field(min_length=1)
    options: list[OptionIn] = Field(default_factory=list, max_length=20)
    areaPrices: list[AreaPriceIn] = Field(default_factory=list, max_length=50)
    terms: CancellationTermsIn | None = Field(None, description="Omitted: the default terms.")


class ServiceCreateIn(ServiceFields):
    id: OptionalId = None
    reason: Reason | None = None


class ServiceUpdateIn(Strict):
    """Only the fields given change; `version` is the one read."""
    version: Version
    reason: Reason | None = None
    name: Name | None = None
    description: Text | None = None
    category: Name | None = None
    durationMinutes: Duration | None = None
    bufferMinutes: Minutes | None = None
    slotStepMinutes: Step | None = None
    leadTimeMinutes: Annotated[StrictInt, Field(ge=0, le=60 * 24 * 60)] | None = None
    basePrice: MoneyIn | None = None
    teamIds: Ids | None = Field(None, min_length=1)
    options: list[OptionIn] | None = Field(None, max_length=20)
    areaPrices: list[AreaPriceIn] | None = Field(None, max_length=50)
    terms: CancellationTermsIn | None = None

    def changes(self) -> dict:
        return self.model_dump(exclude_none=True, exclude={"version", "reason"})


class DeactivateIn(Strict):
    version: Version
    reason: Reason = Field(min_length=1)
    force: StrictBool = False


class AdminServiceOut(Schema):
    id: str
    name: str
    category: str
    description: str
    durationMinutes: int
    bufferMinutes: int
    slotStepMinutes: int
    leadTimeMinutes: int
    basePrice: dict
    teamIds: list[str]
    options: list[dict]
    areaPrices: list[dict]
    terms: CancellationTermsOut
    active: bool
    version: int


class PageQuery(Strict):
    cursor: Cursor | None = None
    limit: int = Field(50, ge=1, le=200)


class ActiveQuery(PageQuery):
    active: bool | None = None


class AdminServiceListOut(Schema):
    items: list[AdminServiceOut]
    nextCursor: str | None = None


def _nonempty_reason(model: object) -> object:
    if getattr(model, "force", False) and not (getattr(model, "reason", None) or "").strip():
        raise ValueError("force requires a reason")
    return model


class ForceIn(Strict):
    force: StrictBool = False
    reason: Reason | None = None

    @model_validator(mode="after")
    def _force_reason(self) -> "ForceIn":
        return _nonempty_reason(self)  # type: ignore[return-value]


# --- members ---------------------------------------------------------------------------------------------------
Email = Annotated[str, Field(max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, Field(max_length=32, pattern=r"^[0-9+() .-]*$")]


class MemberCreateIn(Strict):
    id: OptionalId = None
    teamId: Identifier
    displayName: Name
    serviceIds: Ids = Field(default_factory=list)
    onCallServiceIds: Ids = Field(default_factory=list)
    email: Email = ""
    phone: Phone = ""
    internalNotes: Text = ""
    bio: Text = ""
    reason: Reason | None = None


class MemberUpdateIn(Strict):
    version: Version
    reason: Reason | None = None
    teamId: Identifier | None = None
    displayName: Name | None = None
    serviceIds: Ids | None = None
    onCallServiceIds: Ids | None = None
    email: Email | None = None
    phone: Phone | None = None
    internalNotes: Text | None = None
    bio: Text | None = None

    def changes(self) -> dict:
        return self.model_dump(exclude_none=True, exclude={"version", "reason"})


class AdminMemberOut(Schema):
    """Includes contact details: admin routes only."""
    id: str
    teamId: str
    displayName: str
    serviceIds: list[str]
    onCallServiceIds: list[str]
    email: str
    phone: str
    internalNotes: str
    bio: str
    rating: float | None = None
    active: bool
    version: int
    toReassign: list["BookingToReassign"] | None = Field(None, description="On deactivation: their booked work.")


class MemberListQuery(ActiveQuery):
    teamId: Identifier | None = None
    serviceId: Identifier | None = None


class AdminMemberListOut(Schema):
    items: list[AdminMemberOut]
    nextCursor: str | None = None


# --- time off --------------------------------------------------------------------------------------------------
class TimeOffIn(ForceIn):
    start: Instant
    end: Instant


class BookingToReassign(Schema):
    id: str
    serviceId: str | None = None
    start: str | None = None
    end: str | None = None
    status: str | None = None


class TimeOffOut(Schema):
    id: str
    memberId: str
    teamId: str
    start: str
    end: str
    reason: str
    forcedOver: list[str] = Field(default_factory=list)
    toReassign: list[BookingToReassign] = Field(default_factory=list,
                                                description="Booked work the member keeps until reassigned.")


class TimeOffListOut(Schema):
    items: list[TimeOffOut]
    nextCursor: str | None = None


class ReasonQuery(Strict):
    reason: Reason | None = None


# --- teams -----------------------------------------------------------------------------------------------------
WeeklyHours = Annotated[dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[tuple[str, str]]],
                        Field(max_length=7)]


def hours_windows(value: dict | None) -> dict | None:
    """At most 6 windows a day, HH:MM, each starting before it ends (as TeamAvailabilityIn)."""
    for day, windows in (value or {}).items():
        if len(windows) > 6:
            raise ValueError(f"{day}: at most 6 windows")
        for start, end in windows:
            if not (HH_MM.fullmatch(start) and HH_MM.fullmatch(end)) or start >= end:
                raise ValueError(f"{day}: windows are HH:MM, start before end")
    return value


class ServiceAreaIn(Strict):
    country: str = Field(pattern=r"^[A-Za-z]{2}$")
    codes: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(default_factory=list, max_length=500)
    prefixes: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(default_factory=list, max_length=500)


class TeamFields(Strict):
    name: Name
    timezone: IanaZone
    weeklyHours: WeeklyHours
    dailyLimit: Count = Field(le=1000)
    slotCapacity: Count = Field(le=1000, description="Crews: bookings that may overlap any instant.")
    serviceAreas: list[ServiceAreaIn] = Field(default_factory=list, max_length=50)

    _hours = field_validator("weeklyHours")(hours_windows)


class TeamCreateIn(TeamFields):
    id: OptionalId = None
    reason: Reason | None = None


class TeamUpdateIn(Strict):
    version: Version
    reason: Reason | None = None
    name: Name | None = None
    timezone: IanaZone | None = None
    weeklyHours: WeeklyHours | None = None
    dailyLimit: Count | None = Field(None, le=1000)
    slotCapacity: Count | None = Field(None, le=1000)
    serviceAreas: list[ServiceAreaIn] | None = Field(None, max_length=50)

    _hours = field_validator("weeklyHours")(hours_windows)

    def changes(self) -> dict:
        return self.model_dump(exclude_none=True, exclude={"version", "reason"})


class AdminTeamOut(Schema):
    id: str
    name: str
    timezone: str
    weeklyHours: dict
    dailyLimit: int
    slotCapacity: int
    blackouts: list[dict]
    serviceAreas: list[dict]
    active: bool
    version: int
    affectedBookings: list[dict] | None = None
    affectedCount: int | None = None


class AdminTeamListOut(Schema):
    items: list[AdminTeamOut]
    nextCursor: str | None = None


class OverrideOut(Schema):
    teamId: str
    date: str
    limit: int
    reason: str
    booked: int


class OverrideListOut(Schema):
    items: list[OverrideOut]
    nextCursor: str | None = None


class ReassignIn(Strict):
    memberId: Identifier
    reason: Reason | None = None
