"""Where crews go: turning a customer's postal code into the teams that can serve them.

Every customer-facing step that takes a location resolves it here, so availability, quotes, previews and
bookings all consider exactly the same teams. Areas live in the cached catalog: resolving costs no read.
"""
from __future__ import annotations

from chalicelib.domain.catalog import Catalog, Service, Team
from chalicelib.domain.errors import ServiceAreaNotCovered, ValidationFailed
from chalicelib.domain.service_areas import Location, default_country, normalise
from chalicelib.services.catalog import require_service


def locate(catalog: Catalog, postal_code: str, country: str | None) -> Location:
    """The customer's normalised location. Without `country`: the one country among the catalog's service areas
    whose postal-code format accepts the code (e.g. `10001` is a US ZIP, `SW1A 1AA` a UK postcode).
    Raises ValidationFailed (malformed, or the country cannot be told)."""
    if country:
        return normalise(postal_code, country)
    areas = [a for team in catalog.teams.values() for a in team.service_areas]
    only = default_country(areas)
    if only is not None:
        return normalise(postal_code, only)
    fitting = []
    for candidate in sorted({a.country for a in areas}):
        try:
            fitting.append(normalise(postal_code, candidate))
        except ValidationFailed:
            continue
    if len(fitting) != 1:
        raise ValidationFailed("Give the country of this postal code.",
                               {"fields": [{"field": "country", "expected": "an ISO 3166-1 alpha-2 country code"}]})
    return fitting[0]


def covering_teams(catalog: Catalog, service: Service, location: Location) -> list[Team]:
    """The teams performing `service` that serve `location`. Raises ServiceAreaNotCovered."""
    teams = catalog.teams_covering(service, location)
    if not teams:
        raise ServiceAreaNotCovered(details={**location.to_dict(), "serviceId": service.id})
    return teams


def lookup(catalog: Catalog, postal_code: str, country: str | None) -> dict:
    """Which active services can be booked at a location, and by which teams. Raises ValidationFailed,
    ServiceAreaNotCovered (no service at all there)."""
    location = locate(catalog, postal_code, country)
    services = []
    for service in sorted(catalog.services.values(), key=lambda s: s.id):
        teams = catalog.teams_covering(service, location) if service.active else []
        if teams:
            services.append({"serviceId": service.id, "name": service.name,
                             "teams": [{"teamId": t.id, "timezone": t.timezone} for t in teams]})
    if not services:
        raise ServiceAreaNotCovered(details=location.to_dict())
    return {**location.to_dict(), "services": services}


def require_covered(catalog: Catalog, service_id: str, location: Location) -> list[Team]:
    return covering_teams(catalog, require_service(catalog, service_id), location)
