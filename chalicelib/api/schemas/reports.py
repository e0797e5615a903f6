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
