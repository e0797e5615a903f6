"""Models of the emergency route (api.emergency); it answers a bookings.ServiceRequestOut."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.api.schemas.common import Identifier, Strict


class EmergencyRequestIn(Strict):
    serviceId: str = Identifier
    address: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=2000)
    paymentMethod: Literal["CARD", "COD"]
