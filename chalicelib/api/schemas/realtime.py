"""Models of the realtime edge (api.realtime): websocket frames and the polling change feed."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from chalicelib.api.schemas.common import DateOut, Day, InstantOut, Schema, Strict

FrameServiceId = Annotated[str, Field(min_length=1, max_length=128)]


class Frame(Strict):
    """A websocket frame; `from` may also be sent as `from_`."""
    model_config = ConfigDict(populate_by_name=True)


class SubscribeMessage(Frame):
    """Websocket frame: start receiving `availability.changed` for a service's team-local days [from, to]."""
    action: Literal["subscribe"]
    serviceId: FrameServiceId
    from_: Day = Field(alias="from")
    to: Day


class UnsubscribeMessage(Frame):
    """Websocket frame: stop receiving a service's days [from, to], or all of its days when no range is given."""
    action: Literal["unsubscribe"]
    serviceId: FrameServiceId
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None


class PingMessage(Frame):
    """Websocket frame: the application heartbeat; answered {"type":"pong"} and nothing is stored. API Gateway
    closes a connection idle for 10 minutes and ignores protocol-level pings for that, so clients send this."""
    action: Literal["ping"]


class AvailabilityChangesQuery(Strict):
    since: str | None = Field(default=None, max_length=64, pattern=r"^\d{8}T\d{6}\.\d{6}Z-([0-9a-f]{8}|~)$",
                              description="Cursor from the previous response; omit to get a starting cursor.")
    limit: int = Field(default=50, ge=1, le=200)


class SlotRemainingOut(Schema):
    start: InstantOut
    remaining: int


class AvailabilityChangeOut(Schema):
    cursor: str
    serviceId: str
    teamId: str
    date: DateOut = Field(description="Team-local date (yyyy-mm-dd) whose slots changed.")
    slots: list[SlotRemainingOut]
    at: InstantOut


class AvailabilityChangesOut(Schema):
    serviceId: str
    changes: list[AvailabilityChangeOut]
    cursor: str = Field(description="Pass as `since` on the next poll.")
    hasMore: bool
    reset: bool = Field(description="The cursor was older than the change log keeps: reload availability.")
