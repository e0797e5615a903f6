"""Quote use case: the price of one visit, or of every occurrence of a recurring series.

The team whose local time and prices apply is chosen by the rule booking follows (`serving_team`): ``team_id``
when given (it must serve the service, and the location when one is given); otherwise, among the service's teams
that cover the customer's location (all of them without one), the first in the service's order whose slot at
``start`` is open (working hours, blackouts, lead time) — the team a booking of that slot tries first — or the first
of them when none is open. Recurring occurrences keep the start's wall time in the customer's ``tz``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from chalicelib.domain import availability as av
from chalicelib.domain.catalog import Catalog, Service, Team
from chalicelib.domain.errors import NotFound, PromoExhausted, PromoInvalid, ServiceAreaNotCovered, ValidationFailed
from chalicelib.domain.pricing import PricingPolicy, Quote, price
from chalicelib.domain.promotions import PromoRule, normalize_code
from chalicelib.domain.recurrence import Occurrence, occurrences, parse_rrule
from chalicelib.domain.zones import load_zone
from chalicelib.domain.service_areas import Location
from chalicelib.services import catalog as catalog_service, service_areas
from chalicelib.services.ports import PricingRules


@dataclass(frozen=True)
class QuoteRequest:
    service_id: str
    start: datetime  # aware
    tz: str  # the customer's IANA zone: local times shown, recurrence wall time
    team_id: str | None = None
    options: tuple[str, ...] = ()
    promo_codes: tuple[str, ...] = ()
    emergency: bool = False
    recurrence: str | None = None  # RRULE
    customer_id: str | None = None
    postal_code: str | None = None  # the customer's location (service areas)
    country: str | None = None
    now: datetime | None = None  # judges lead time when choosing the team, as booking does


def service_and_team(catalog: Catalog, service_id: str, team_id: str | None = None,
                     location: Location | None = None, start: datetime | None = None,
                     now: datetime | None = None) -> tuple[Service, Team]:
    """The service and the team serving it (module docstring). Raises NotFound (unknown/inactive service, team
    without data), ValidationFailed (team does not serve the service), ServiceAreaNotCovered."""
    service = catalog_service.require_service(catalog, service_id)  # NotFound / ServiceInactive
    if team_id is not None and team_id not in service.team_ids:
        raise ValidationFailed("This team does not perform the service.",
                               {"fields": [{"field": "teamId", "message": "not a team of the service"}]})
    teams = service_areas.covering_teams(catalog, service, location) if location else av.teams_for(catalog, service)
    if team_id is not None:
        if location is not None and team_id not in {t.id for t in teams}:
            raise ServiceAreaNotCovered(details={**location.to_dict(), "serviceId": service.id, "teamId": team_id})
        teams = [t for t in teams if t.id == team_id]
    if not teams:
        raise NotFound("No team performs this service.", {"serviceId": service_id})
    if start is not None and now is not None:
        start = start.astimezone(av.UTC)
        return service, next((t for t in teams if not av.slot_problem(catalog, service, t, start, now)), teams[0])
    return service, teams[0]


def location_of(catalog: Catalog, postal_code: str | None, country: str | None) -> Location | None:
    return service_areas.locate(catalog, postal_code, country) if postal_code else None


def in_scope(rule: PromoRule, service_id: str) -> bool:
    """The rule can discount this service at all (active, and the service is in its scope)."""
    return rule.active and (not rule.service_ids or service_id in rule.service_ids)


def relevant_rules(rules: Iterable[PromoRule], service_id: str, codes: Iterable[str]) -> list[PromoRule]:
    """The automatic rules that can apply to this service plus the rules named by the codes (whatever their state:
    the resolver says why a typed code does not apply). Automatic rules of other services are left out, so
    their usage counters are never read for this price."""
    wanted = {normalize_code(c) for c in codes if c and c.strip()}
    return [r for r in rules if (r.code is None and in_scope(r, service_id)) or (r.code is not None and r.code in wanted)]


def rules_for(promotions: PricingRules, service_id: str, codes: Iterable[str]) -> list[PromoRule]:
    """The rules that matter for this service and these codes. The cached rules are read again once when a typed
    code is unknown to them, so a code created a moment ago works at once (automatic rules follow the catalog
    version, services.catalog.CatalogVersion)."""
    rules = promotions.list_rules()
    wanted = {normalize_code(c) for c in codes if c and c.strip()}
    if wanted - {r.code for r in rules}:
        rules = promotions.refresh()
    return relevant_rules(rules, service_id, codes)


def exhausted_among(promotions: PricingRules, rules: Iterable[PromoRule], service_id: str,
                    customer_id: str | None) -> set[str]:
    """Used-up rules among those that can apply to this service: a typed code that cannot (inactive, another
    service) is refused by the resolver whatever its counters say, so they are not read."""
    return promotions.exhausted_rule_ids([r for r in rules if in_scope(r, service_id)], customer_id)


def quote(catalog: Catalog, promotions: PricingRules, policy: PricingPolicy, request: QuoteRequest) -> dict:
    """Raises NotFound, ValidationFailed (options, zone, recurrence), PromoInvalid or PromoExhausted; for a series,
    a promotion error names the occurrence (details.occurrence)."""
    location = location_of(catalog, request.postal_code, request.country)
    service, team = service_and_team(catalog, request.service_id, request.team_id, location, request.start,
                                     request.now)
    service = service.priced_for(team.id)
    zone = load_zone(request.tz)
    rules = rules_for(promotions, service.id, request.promo_codes)
    exhausted = exhausted_among(promotions, rules, service.id, request.customer_id)

    def price_at(start: datetime) -> Quote:
        return price(service, start, team.timezone, option_ids=request.options, promo_codes=request.promo_codes,
                     emergency=request.emergency, customer_id=request.customer_id, rules=rules, policy=policy,
                     exhausted=exhausted)

    head = {"serviceId": service.id, "teamId": team.id, "teamTimezone": team.timezone, "tz": request.tz}
    if request.recurrence is None:
        from chalicelib.domain.codec import iso_utc
        return {**head, "start": iso_utc(request.start), "localStart": request.start.astimezone(zone).isoformat(),
                "quote": price_at(request.start).to_dict(), "series": None}
    rule = parse_rrule(request.recurrence)
    series = occurrences(rule, request.start, request.tz, service.duration_minutes)
    priced = [(occ, _price_occurrence(price_at, occ)) for occ in series]
    return {**head, "start": series[0].to_dict()["start"], "localStart": series[0].local_start.isoformat(),
            "quote": None, "series": series_summary(rule.to_rrule_string(), priced)}


def _price_occurrence(price_at, occ: Occurrence) -> Quote:
    try:
        return price_at(occ.start)
    except (PromoInvalid, PromoExhausted) as exc:
        exc.details = {**exc.details, "occurrence": occ.index, "start": occ.to_dict()["start"]}
        raise


def series_summary(rrule: str, priced: list[tuple[Occurrence, Quote]],
                   annotate: Callable[[Occurrence], dict] | None = None) -> dict:
    """Per-occurrence quotes (plus ``annotate(occurrence)`` fields) and the series totals, which are sums of
    the per-occurrence integer amounts."""
    currency = priced[0][1].currency if priced else "USD"
    rows = [{**occ.to_dict(), **(annotate(occ) if annotate else {}), "quote": q.to_dict()} for occ, q in priced]
    return {"rrule": rrule, "count": len(priced), "currency": currency, "occurrences": rows,
            "subtotal": sum(q.subtotal for _, q in priced), "discount": sum(q.discount for _, q in priced),
            "total": sum(q.total for _, q in priced)}
