"""Models of the emergency route (api.emergency); it answers a bookings.ServiceRequestOut."""
from __future__ import annotations

from pydantic import Field

from chalicelib.api.schemas.common import Address, Identifier, Notes, PaymentMethodCode, Strict


class EmergencyRequestIn(Strict):
    serviceId: Identifier
    address: Address = Field(min_length=1)
    description: Notes = ""
    paymentMethod: PaymentMethodCode
