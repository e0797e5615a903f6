"""Models of the pricing routes (api.pricing): quotes and the recurring-series preview."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from chalicelib.api.schemas.common import (RRULE_HELP, CountryCode, Identifier, Instant, InstantOut, OptionalId,
                                           OptionIds, PostalCode, PromoCodes, RRule, Schema, Strict, ZoneName)


class QuoteIn(Strict):
    serviceId: Identifier
    start: Instant
    tz: ZoneName = Field(description="Customer's IANA zone: local times shown and recurrence wall time.")
    teamId: OptionalId = Field(default=None, description="Team whose prices and local time apply (default: the team "
                               "a booking of this slot would try first, among those covering postalCode).")
    postalCode: PostalCode | None = None
    country: CountryCode | None = None
    options: OptionIds = Field(default_factory=list)
    promoCodes: PromoCodes = Field(default_factory=list)
    emergency: StrictBool = False
    recurrence: RRule | None = Field(default=None, description=RRULE_HELP)


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
    start: InstantOut
    end: InstantOut
    localStart: InstantOut
    localEnd: InstantOut
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
    start: InstantOut
    localStart: InstantOut
    quote: PriceQuoteOut | None = Field(description="The visit's price; null when a recurrence was given.")
    series: SeriesQuoteOut | None


class RecurringPreviewIn(Strict):
    serviceId: Identifier
    start: Instant
    tz: ZoneName
    rrule: RRule
    teamId: OptionalId = None
    postalCode: PostalCode | None = None
    country: CountryCode | None = None


class RecurringPreviewOut(Schema):
    serviceId: str
    teamId: str
    teamTimezone: str
    tz: str
    available: int
    conflicts: int
    series: SeriesQuoteOut
