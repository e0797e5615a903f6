"""Emergency requests: the earliest real capacity among the members on call for the service.

Rules (decided here):
- Candidates are the slots of every team performing the service, served only by members whose
  ``on_call_service_ids`` include the service (booking.book_with_team filters on priority EMERGENCY).
- The LEAD TIME is ignored (an emergency wants the next slot); opening HOURS and BLACKOUTS are not (nobody is
  on site outside them) and neither are the capacity rules: slot capacity, team-day limit and member locks are
  enforced by the same booking transaction as any booking, trying the next candidate on a conflict.
- The window (settings.emergency_window_minutes, default 240) is counted in the team's OPENING time from now:
  the clock pauses while the team is closed. A request at 22:00 for a team opening at 07:00 therefore has its
  window run 07:00-11:00 the next day, instead of expiring overnight with nothing bookable.
- Nothing free inside the window -> 409 SLOT_UNAVAILABLE with details.nextAvailableAt (the earliest slot that
  looks free within HORIZON_DAYS, or null) and details.windowMinutes.
- The booking carries priority "EMERGENCY" (emergency surcharge in its price) and, once stored, is announced to
  admins with ``publisher.emergency_created(request_doc)`` (best effort: never fails the booking).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Callable, Protocol

from chalicelib.domain import availability as av
from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, ServiceRequest
from chalicelib.domain.catalog import Catalog, Service, Team
from chalicelib.domain.errors import SlotFull, SlotUnavailable, TeamDayFull
from chalicelib.domain.principal import Principal
from chalicelib.observability import count, logger
from chalicelib.services import booking, service_areas
from chalicelib.services.catalog import require_service
from chalicelib.services.ports import AvailabilityPublisher, Outcome
from chalicelib.services.submissions import SubmissionDeps, answer_in_transaction, once_per_key

HORIZON_DAYS = 7
EMERGENCY = booking.EMERGENCY


@dataclass(frozen=True)
class EmergencyDraft:
    service_id: str
    address: str
    description: str
    payment_method: PaymentMethod
    postal_code: str | None = None  # only on-call crews whose service area covers it are considered
    country: str | None = None


class EmergencyDeps(booking.BookingDeps, SubmissionDeps, Protocol):
    booking_publisher: AvailabilityPublisher  # announces the emergency (a no-op where the requests stream does)


def create_idempotent(deps: EmergencyDeps, principal: Principal, key: str, body: dict, draft: EmergencyDraft,
                      render: Callable[[ServiceRequest], dict]) -> Outcome:
    """Once per (user, Idempotency-Key), as bookings (the answer stored by the booking transaction)."""
    answer = answer_in_transaction(deps, render)
    return once_per_key(deps, principal, key, body, lambda: create(deps, principal, draft, key, answer), render)


def create(deps: EmergencyDeps, principal: Principal, draft: EmergencyDraft,
           idempotency_key: str | None = None, answer: booking.AnswerAction | None = None) -> ServiceRequest:
    """Book the earliest on-call slot inside the window. Raises NotFound, SlotUnavailable (nextAvailableAt)."""
    try:
        request = booking.with_fresh_catalog(
            deps, lambda catalog: _book_earliest(deps, catalog, principal, draft, idempotency_key, answer))
    except booking.AlreadyBooked as found:  # an earlier attempt stored it and died before answering
        raise booking.AlreadyBooked(booking.finish_recovered(deps, found.request)) from None
    request = booking.settle(deps, request)
    count("EmergencyCreated")
    try:
        deps.booking_publisher.emergency_created(codec.request_to_doc(request))
    except Exception:  # noqa: BLE001 - the booking stands; admins also see it in the list
        logger.exception("emergency publish failed")
    return request


def _book_earliest(deps: EmergencyDeps, catalog: Catalog, principal: Principal, draft: EmergencyDraft,
                   idempotency_key: str | None, answer: booking.AnswerAction | None) -> ServiceRequest:
    service = replace(require_service(catalog, draft.service_id), lead_time_minutes=0)
    location = service_areas.locate(catalog, draft.postal_code, draft.country) if draft.postal_code else None
    teams = service_areas.covering_teams(catalog, service, location) if location else av.teams_for(catalog, service)
    now = deps.clock()
    window = deps.settings.emergency_window_minutes
    candidates = _free_looking_slots(deps, catalog, service, teams, now)
    deadlines = {team.id: opening_deadline(team, now, window) for _, team in candidates}
    in_window = [(start, team) for start, team in candidates if start <= deadlines[team.id]]
    for start, team in in_window:
        visit = booking.BookingDraft(service_id=service.id, start=start, payment_method=draft.payment_method,
                                     address=draft.address, notes=draft.description, priority=EMERGENCY,
                                     location=location)
        try:
            return booking.book_with_team(deps, catalog, service, team, principal, visit, start, now,
                                          idempotency_key, (), answer)
        except (SlotFull, TeamDayFull):
            continue  # taken meanwhile: next candidate
    later = [start for start, team in candidates if start > deadlines[team.id]]
    raise SlotUnavailable("No on-call capacity inside the emergency window.", {
        "reason": "no_on_call_capacity", "windowMinutes": window,
        "nextAvailableAt": codec.iso_utc(min(later)) if later else None})


def _free_looking_slots(deps: EmergencyDeps, catalog: Catalog, service: Service, teams: list[Team],
                        now: datetime) -> list[tuple[datetime, Team]]:
    """Slots within HORIZON_DAYS (hours and blackouts respected) where an on-call member looks free, earliest
    first (ties by team id). Counters are read once; the booking transaction decides."""
    horizon = now + timedelta(days=HORIZON_DAYS)
    teams = [t for t in teams if _on_call(catalog, service, t)]
    if not teams:
        return []
    dates = av.team_local_dates(teams, now, horizon)
    all_dates = [d for ds in dates.values() for d in ds]
    snapshot = deps.requests.counters(min(all_dates), max(all_dates), teams=[t.id for t in teams])
    out = []
    for team in teams:
        members = _on_call(catalog, service, team)
        blackouts = av.blackouts_for(catalog, team)
        occupied = timedelta(minutes=av.occupied_minutes(service))
        for day in dates.get(team.id, ()):
            for start in av.candidate_starts(service, team, day):
                if not now < start <= horizon or av.overlaps_blackout(start, start + occupied, blackouts):
                    continue
                if av.remaining_at(service, team, start, members, snapshot) > 0:
                    out.append((start, team))
    return sorted(out, key=lambda pair: (pair[0], pair[1].id))


def _on_call(catalog: Catalog, service: Service, team: Team) -> list:
    return [m for m in catalog.members_for(service.id, team.id) if service.id in m.on_call_service_ids]


def opening_deadline(team: Team, now: datetime, minutes: int, max_days: int = 14) -> datetime:
    """The instant at which `minutes` of the team's opening hours have elapsed after `now` (the clock pauses
    while the team is closed). Without opening hours in `max_days`, now + max_days."""
    remaining = timedelta(minutes=minutes)
    zone = av.zone(team.timezone)
    first_day: date = now.astimezone(zone).date()
    for offset in range(max_days + 1):
        day = first_day + timedelta(days=offset)
        for window in team.weekly_hours.get(day.weekday(), ()):
            begin = max(datetime.combine(day, window.start, tzinfo=zone).astimezone(av.UTC), now)
            finish = datetime.combine(day, window.end, tzinfo=zone).astimezone(av.UTC)
            if finish <= begin:
                continue
            if remaining <= finish - begin:
                return begin + remaining
            remaining -= finish - begin
    return now + timedelta(days=max_days)
