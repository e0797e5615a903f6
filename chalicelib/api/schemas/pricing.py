"""Models of the pricing routes (api.pricing): quotes and the recurring-series preview."""
from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, StrictBool

from chalicelib.api.schemas.common import Identifier, Schema, Strict


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
