"""Models of the calendar routes (api.calendar); link cancellation uses bookings.CancelIn/ServiceRequestOut."""
from __future__ import annotations

from pydantic import Field, field_validator

from chalicelib.api.schemas.common import Strict, check_zone


class CalendarQuery(Strict):
    tz: str | None = Field(default=None, max_length=64,
                           description="IANA zone to write the times in (default: the team's zone)")

    _zone = field_validator("tz")(classmethod(lambda cls, v: v if v is None else check_zone(v)))
