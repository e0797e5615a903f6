"""Recurring series preview: every occurrence with its availability and its price, nothing booked.

Availability comes from an injected ``check(service_id, team, start_utc) -> "AVAILABLE" | conflict code``
so this use case stays independent of how capacity is read.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from chalicelib.domain.catalog import Catalog, Team
from chalicelib.domain.codec import parse_iso
from chalicelib.domain.pricing import PricingPolicy, price
from chalicelib.domain.recurrence import occurrences, parse_rrule
from chalicelib.domain.zones import load_zone
from chalicelib.services.ports import PricingRules
from chalicelib.services.pricing import (exhausted_among, location_of, relevant_rules, series_summary,
                                         service_and_team)

AVAILABLE = "AVAILABLE"
SlotCheck = Callable[[str, Team, datetime], str]


@dataclass(frozen=True)
class PreviewRequest:
    service_id: str
    start: datetime  # aware
    tz: str  # IANA zone whose wall time the series keeps
    rrule: str
    team_id: str | None = None
    customer_id: str | None = None
    postal_code: str | None = None  # the customer's location: the team is chosen as quotes and bookings do
    country: str | None = None
    now: datetime | None = None


def preview(catalog: Catalog, promotions: PricingRules, policy: PricingPolicy, request: PreviewRequest,
            check: SlotCheck) -> dict:
    """Raises NotFound or ValidationFailed (rule, zone, team). Conflicts are reported, never raised."""
    location = location_of(catalog, request.postal_code, request.country)
    service, team = service_and_team(catalog, request.service_id, request.team_id, location, request.start,
                                     request.now)
    service = service.priced_for(team.id)
    load_zone(request.tz)
    rule = parse_rrule(request.rrule)
    series = occurrences(rule, request.start, request.tz, service.duration_minutes)
    rules = relevant_rules(promotions.list_rules(), service.id, ())
    exhausted = exhausted_among(promotions, rules, service.id, request.customer_id)
    priced = [(occ, price(service, occ.start, team.timezone, rules=rules, policy=policy, exhausted=exhausted,
                          customer_id=request.customer_id)) for occ in series]
    availability = {occ.index: check(service.id, team, occ.start) for occ in series}
    summary = series_summary(rule.to_rrule_string(), priced,
                             annotate=lambda occ: {"availability": availability[occ.index]})
    conflicts = sum(1 for code in availability.values() if code != AVAILABLE)
    return {"serviceId": service.id, "teamId": team.id, "teamTimezone": team.timezone, "tz": request.tz,
            "available": len(series) - conflicts, "conflicts": conflicts, "series": summary}


def check_from_day_slots(day_slots: Callable[[str, str, str], list[dict]]) -> SlotCheck:
    """A SlotCheck built on ``day_slots(service_id, team_local_date, team_id) -> [{"start", "remaining"}]``
    (the slots a customer could pick that day, already excluding past, lead time, closed hours and blackouts):
    a listed slot with room is AVAILABLE, a listed slot without room is SLOT_FULL (whichever limit — slot, team
    day or free members — is exhausted), a start that is not a bookable slot is SLOT_UNAVAILABLE."""
    def check(service_id: str, team: Team, start: datetime) -> str:
        local_day: date = start.astimezone(load_zone(team.timezone, "teamTimezone")).date()
        for slot in day_slots(service_id, local_day.isoformat(), team.id):
            if parse_iso(slot["start"]) == start:
                return AVAILABLE if slot["remaining"] > 0 else "SLOT_FULL"
        return "SLOT_UNAVAILABLE"
    return check
