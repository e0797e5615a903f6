"""Models of the catalog routes (api.catalog): services and portal-safe team members."""
from __future__ import annotations

from pydantic import ConfigDict, Field

from chalicelib.api.schemas.common import CountryCode, MoneyOut, PostalCode, Schema, Strict
from chalicelib.api.schemas.terms import CancellationTermsOut


class ServiceOptionOut(Schema):
    id: str
    name: str
    price: MoneyOut


class OptionPriceOut(Schema):
    id: str
    price: MoneyOut


class AreaPriceOut(Schema):
    """The service's prices where this team works (its currency); other teams charge basePrice."""
    teamId: str
    basePrice: MoneyOut
    options: list[OptionPriceOut]


class ServiceOut(Schema):
    id: str
    name: str
    category: str
    description: str
    durationMinutes: int
    bufferMinutes: int
    slotStepMinutes: int
    leadTimeMinutes: int
    basePrice: MoneyOut
    teamIds: list[str]
    options: list[ServiceOptionOut]
    areaPrices: list[AreaPriceOut] = []
    terms: CancellationTermsOut | None = Field(default=None, description="Cancellation and reschedule terms.")


class ServiceListOut(Schema):
    items: list[ServiceOut]


class TeamMemberOut(Schema):
    """Portal-safe: no e-mail, phone or internal notes."""
    model_config = ConfigDict(extra="forbid")
    id: str
    teamId: str
    displayName: str
    bio: str
    rating: float | None = None


class TeamMemberListOut(Schema):
    items: list[TeamMemberOut]


class ServiceAreaLookupQuery(Strict):
    postalCode: PostalCode
    country: CountryCode | None = None


class CoveringTeamOut(Schema):
    teamId: str
    timezone: str


class CoveredServiceOut(Schema):
    serviceId: str
    name: str
    teams: list[CoveringTeamOut]


class ServiceAreaLookupOut(Schema):
    postalCode: str
    country: str
    services: list[CoveredServiceOut]
