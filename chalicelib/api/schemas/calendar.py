"""Models of the calendar routes (api.calendar); link cancellation uses bookings.CancelIn/ServiceRequestOut."""
from __future__ import annotations

from pydantic import Field

from chalicelib.api.schemas.common import IanaZone, Strict


class CalendarQuery(Strict):
    tz: IanaZone | None = Field(default=None, description="IANA zone to write the times in (default: the team's zone)")
