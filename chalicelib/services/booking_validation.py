"""The wizard's confirmation step: everything booking would check and charge, with nothing written.

`validate` runs booking's own checks (service, options, location and service area, the team selection rule, hours,
blackouts, lead time, pricing with per-customer promotion limits) and judges capacity from a strongly consistent
read of the day's counters: the team-day limit, the slot's crews and a free eligible member, team by team in the
order booking tries them. It answers the request booking would create at that moment. Booking itself still decides
atomically: a slot taken between the two calls, or a company-wide promotion limit reached, is refused then.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain import availability as av
from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.catalog import Team
from chalicelib.domain.errors import DomainError, SlotFull, TeamDayFull
from chalicelib.domain.principal import Principal
from chalicelib.domain.terms import terms_to_doc
from chalicelib.services import booking

UTC = booking.UTC


@dataclass(frozen=True)
class Validated:
    request: ServiceRequest  # as booking would store it (its id is not reserved)
    team: Team
    member_pinned: bool


def validate(deps: booking.BookingDeps, principal: Principal, draft: booking.BookingDraft) -> Validated:
    """Raises exactly what booking would: NotFound, ValidationFailed, ServiceAreaNotCovered, SlotUnavailable,
    SlotFull, TeamDayFull, PromoInvalid, PromoExhausted."""
    catalog = deps.catalog.get()
    now = deps.clock()
    service, draft, open_teams = booking.open_teams_for(catalog, draft, now)
    start = draft.start.astimezone(UTC)
    cells = av.cells_for(start, av.occupied_minutes(service))
    last: DomainError = SlotFull()
    for team in open_teams:
        local_day = av.local_date_of(start, team.timezone).isoformat()
        snapshot = deps.load_snapshots.get(deps.requests, team.id, local_day, fresh=True)
        if snapshot.day_left(team, local_day) <= 0:
            last = TeamDayFull(details={"teamId": team.id})
            continue
        members = _eligible(catalog, service.id, team, draft)
        free = av.least_loaded(members, local_day, snapshot, cells)
        if av.remaining_at(service, team, start, members, snapshot) <= 0 or not free:
            last = SlotFull(details={"teamId": team.id})
            continue
        plan = av.plan_for(service, team, free[0].id, start)
        request = booking.new_request(deps, service, plan, principal, draft, start, now, None)
        return Validated(request=request, team=team, member_pinned=draft.member_id is not None)
    raise last


def _eligible(catalog, service_id: str, team: Team, draft: booking.BookingDraft) -> list:
    members = catalog.members_for(service_id, team.id)
    if draft.member_id is not None:
        members = [m for m in members if m.id == draft.member_id]
    return members


def view(validated: Validated) -> dict:
    """What the confirmation step shows: team, pinned member, times (UTC and the team's wall time), the price."""
    request, team = validated.request, validated.team
    zone = av.zone(team.timezone)
    placement = request.placement
    price = {k: v for k, v in request.price.items() if k != "usageClaims"}  # internal bookkeeping
    return {"serviceId": request.service_id, "teamId": team.id, "teamTimezone": team.timezone,
            "memberId": placement.member_id if validated.member_pinned else None,
            "start": codec.iso_utc(placement.start), "end": codec.iso_utc(placement.end),
            "localStart": placement.start.astimezone(zone).isoformat(),
            "localEnd": placement.end.astimezone(zone).isoformat(),
            "paymentMethod": request.payment_method.value, "price": price,
            "location": request.location.to_dict() if request.location else None,
            "cancellationTerms": terms_to_doc(request.terms) if request.terms else None}
