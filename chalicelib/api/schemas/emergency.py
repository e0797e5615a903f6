"""Models of the emergency route (api.emergency); it answers a bookings.ServiceRequestOut."""
from __future__ import annotations

from pydantic import Field

from chalicelib.api.schemas.common import (Address, CountryCode, Identifier, Notes, PaymentMethodCode, PostalCode,
                                           Strict)


class EmergencyRequestIn(Strict):
    serviceId: Identifier
    address: Address = Field(min_length=1)
    description: Notes = ""
    paymentMethod: PaymentMethodCode
    postalCode: PostalCode = Field(description="Where the crew goes (required): only on-call crews whose service "
                                   "area covers it are considered (422 SERVICE_AREA_NOT_COVERED).")
    country: CountryCode | None = None
