"""Models of the report routes (api.reports)."""
from __future__ import annotations

from pydantic import Field

from chalicelib.api.schemas.common import DateOut, Day, Identifier, Schema, Strict


class UtilisationQuery(Strict):
    teamId: Identifier
    from_: Day = Field(alias="from", description="First team-local date.")
    to: Day = Field(description="Last team-local date (at most 92 days in all).")


class MemberUtilisationOut(Schema):
    memberId: str
    bookedMinutes: int = Field(description="Minutes of 15-minute cells the member's bookings hold (buffer included).")
    workingMinutes: int = Field(description="The team's working minutes that day, less blackouts (0: not in the "
                                            "team any more).")


class UtilisationDayOut(Schema):
    date: DateOut
    booked: int = Field(description="Bookings counted on the day.")
    limit: int = Field(description="The day's override if set, else the team's daily limit.")
    limitOverridden: bool
    crews: int = Field(description="The team's slot capacity (bookings that may overlap).")
    peak: int = Field(description="Bookings overlapping the busiest 15-minute cell.")
    peakAt: str | None = Field(default=None, description="Local start of the first busiest cell.")
    hours: list[int] = Field(description="Busiest cell of each local wall hour 0..23.")
    workingMinutes: int
    members: list[MemberUtilisationOut]
    cancelled: int
    noShows: int


class UtilisationTotalsOut(Schema):
    booked: int
    limit: int
    cancelled: int
    noShows: int
    workingMinutes: int
    bookedMinutes: int


class UtilisationOut(Schema):
    teamId: str
    timezone: str
    from_: DateOut = Field(alias="from")
    to: DateOut
    days: list[UtilisationDayOut]
    totals: UtilisationTotalsOut


class RevenueQuery(Strict):
    from_: Day = Field(alias="from", description="First UTC day.")
    to: Day = Field(description="Last UTC day (at most 92 days in all).")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$",
                                 description="ISO 4217 code: only this currency, every day listed.")


class RevenueAmountsOut(Schema):
    booked: int = Field(description="Prices of bookings made that day (minor units).")
    paid: int = Field(description="Card payments received that day.")
    refunded: int = Field(description="Refunds issued that day.")
    codDue: int = Field(description="Prices of cash-on-delivery bookings made that day.")
    codCollected: int = Field(description="Cash recorded as collected that day.")
    currency: str


class RevenueDayOut(RevenueAmountsOut):
    date: DateOut


class RevenueOut(Schema):
    from_: DateOut = Field(alias="from")
    to: DateOut
    days: list[RevenueDayOut]
    totals: list[RevenueAmountsOut]
