"""Bases, the error body, paging and the field types that more than one area uses."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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


# --- field types -----------------------------------------------------------------------------------------
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
OptionalId = Identifier | None
ZoneName = Annotated[str, Field(max_length=64)]  # checked by the use case that loads the zone
IanaZone = Annotated[ZoneName, AfterValidator(_known_zone)]  # rejected here unless zoneinfo knows it
Cursor = Annotated[str, Field(max_length=2048)]  # opaque; from the previous page's nextCursor
Reason = Annotated[str, Field(max_length=500)]  # free text kept with the change or its audit entry
Address = Annotated[str, Field(max_length=500)]
Notes = Annotated[str, Field(max_length=2000)]
PaymentMethodCode = Literal["CARD", "COD"]
OptionIds = Annotated[list[str], Field(max_length=20)]
PromoCodes = Annotated[list[str], Field(max_length=5)]
RRule = Annotated[str, Field(min_length=1, max_length=256)]
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
