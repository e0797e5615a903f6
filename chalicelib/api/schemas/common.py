"""Bases, the error body, paging and the field types that more than one area uses."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from chalicelib.domain.zones import load_zone


class Schema(BaseModel):
    """Every model: built on first use rather than at import (about 150 ms off a Lambda cold start)."""
    model_config = ConfigDict(defer_build=True)


class Strict(Schema):
    """Request models reject unknown fields so typos fail loudly instead of being ignored."""
    model_config = ConfigDict(extra="forbid")


def _known_zone(value: str) -> str:
    try:
        load_zone(value)
    except Exception as exc:  # noqa: BLE001 - any failure means "not an IANA zone we know"
        raise ValueError("must be an IANA time zone such as America/New_York") from exc
    return value


# The calendar the API accepts. Dates outside it are refused at parse time: near year 1 or 9999 converting
# between zones overflows, and nothing this business books lies outside it. Use cases apply their own, narrower
# windows (booking horizon, lead time) on top.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def _iso_text(value: Any) -> Any:
    """Dates and instants arrive as ISO 8601 text; a number (epoch) or a bool is refused, not interpreted."""
    if isinstance(value, (date, datetime)) or (isinstance(value, str) and len(value) <= 40):
        return value
    raise ValueError("must be an ISO 8601 string")


def _in_calendar(value: date | datetime) -> date | datetime:
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return value


# --- field types -----------------------------------------------------------------------------------------
Day = Annotated[date, BeforeValidator(_iso_text), AfterValidator(_in_calendar)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_calendar)]
Count = Annotated[StrictInt, Field(ge=0)]  # a JSON integer: "5", 5.0 and true are refused
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
OptionalId = Identifier | None
ZoneName = Annotated[str, Field(max_length=64)]  # checked by the use case that loads the zone
IanaZone = Annotated[ZoneName, AfterValidator(_known_zone)]  # rejected here unless zoneinfo knows it
Cursor = Annotated[str, Field(max_length=2048)]  # opaque; from the previous page's nextCursor
Reason = Annotated[str, Field(max_length=500)]  # free text kept with the change or its audit entry
Address = Annotated[str, Field(max_length=500)]
Notes = Annotated[str, Field(max_length=2000)]
PaymentMethodCode = Literal["CARD", "COD"]
OptionIds = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)]
PromoCodes = Annotated[list[Annotated[str, Field(max_length=32)]], Field(max_length=5)]
RRule = Annotated[str, Field(min_length=1, max_length=256)]
# A customer's location (chalicelib/domain/service_areas.py normalises and checks it per country).
PostalCode = Annotated[str, Field(min_length=1, max_length=16, description="Postal code or ZIP (e.g. 10001, SW1A 1AA)")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2; default: the one "
                                   "country among the service areas whose postal-code format fits")]
# Answers: documented as date-time / date strings (the routes serialise them as ISO 8601 text).
InstantOut = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
DateOut = Annotated[str, Field(json_schema_extra={"format": "date"})]
RRULE_HELP = "RRULE: FREQ=WEEKLY|MONTHLY, INTERVAL, COUNT<=52 or UNTIL<=1 year, BYDAY."


# --- shared models ---------------------------------------------------------------------------------------
class MoneyOut(Schema):
    amount: int = Field(description="Minor units (cents).")
    currency: str = "USD"


class ErrorInfo(Schema):
    code: str
    message: str
    details: dict = Field(default_factory=dict)


class ErrorResponse(Schema):
    error: ErrorInfo


class PageQuery(Strict):
    cursor: Cursor | None = None
    limit: int = Field(default=20, ge=1, le=100)
