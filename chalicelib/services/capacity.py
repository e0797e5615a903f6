"""The capacity a stored request holds: giving it back, the plan it was claimed with, the member-load cache that
orders candidates, and telling realtime subscribers that availability changed.

Booking claims capacity (services/booking.py); cancellation and reschedule (services/changes.py), hold expiry and
failed payments (services/payments/) give it back; admin schedule changes (services/admin.py) change it.
"""
from __future__ import annotations

import threading
from datetime import date
from typing import Callable, Protocol

from chalicelib.clock import monotonic
from chalicelib.domain import availability as av
from chalicelib.domain.cells import cell_number
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.catalog import Catalog
from chalicelib.observability import logger
from chalicelib.services.events import Event
from chalicelib.services.ports import (AvailabilityPublisher, CatalogSource, ExtraActionFailed, PromoUsage,
                                       ServiceRequestRepository)


class UsageDeps(Protocol):
    promo_usage: PromoUsage


class ReleaseDeps(UsageDeps, Protocol):
    requests: ServiceRequestRepository


class PublishDeps(Protocol):
    catalog: CatalogSource
    publisher: AvailabilityPublisher  # pushes inline
    booking_publisher: AvailabilityPublisher  # request changes: a no-op where the requests stream pushes them


class LoadSnapshots:
    """Per-container cache of one team's counters for one day, used only to ORDER candidate members (least loaded
    first). Correctness never depends on it: the booking transaction's conditions decide. Keeping it warm for a
    few seconds keeps a booking at 2 DynamoDB requests (the idempotency record and the transaction storing the
    answer)."""

    def __init__(self, ttl_seconds: float = 10.0, clock: Callable[[], float] = monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._by_day: dict[tuple[str, str], tuple[float, av.CounterSnapshot]] = {}

    def get(self, requests: ServiceRequestRepository, team_id: str, local_day: str,
            fresh: bool = False) -> av.CounterSnapshot:
        now = self._clock()
        with self._lock:
            hit = self._by_day.get((team_id, local_day))
            if hit and not fresh and now - hit[0] < self._ttl:
                return hit[1]
        day = date.fromisoformat(local_day)
        snapshot = requests.counters(day, day, teams=[team_id])
        with self._lock:
            self._by_day[(team_id, local_day)] = (now, snapshot)
        return snapshot

    def note_booking(self, team_id: str, local_day: str, member_id: str, cells: tuple[str, ...]) -> None:
        """Fold this container's own successful booking into the cached snapshot (keeps ordering fair)."""
        with self._lock:
            hit = self._by_day.get((team_id, local_day))
            if hit:
                snapshot = hit[1]
                key = (member_id, local_day)
                snapshot.member_loads[key] = snapshot.member_loads.get(key, 0) + 1
                snapshot.mark_busy(member_id, map(cell_number, cells))


def promotion_uses(deps: UsageDeps, request: ServiceRequest, consume: bool) -> tuple:
    """Usage-counter actions for the promotions a booking's stored price applied (none without limits):
    consumed in the booking transaction, given back in the releasing one."""
    claims = (request.price or {}).get("usageClaims") or []
    if not claims:
        return ()
    return tuple(deps.promo_usage.actions(claims, request.user_id, consume=consume))


def release_capacity(deps: ReleaseDeps, current: ServiceRequest, new: ServiceRequest, plan: av.CapacityPlan,
                     also: tuple = ()) -> ServiceRequest:
    """Give capacity AND the promotion uses back in one transaction (cancel, hold expiry), with `also` (the
    change's audit entry). A give-back that cannot apply (a counter already at 0, i.e. reset by hand) must not
    block the cancellation: it is retried without the counters. Raises StaleRevision."""
    give_back = promotion_uses(deps, current, consume=False)
    try:
        return deps.requests.release(current, new, plan, give_back + also) if give_back or also else \
            deps.requests.release(current, new, plan)
    except ExtraActionFailed as exc:
        if not give_back:
            raise
        logger.warning("promotion uses not given back", extra={"serviceRequestId": current.id,
                                                               "failed": sorted(exc.labels)})
        return deps.requests.release(current, new, plan, also) if also else deps.requests.release(current, new, plan)


def plan_of(catalog: Catalog, request: ServiceRequest) -> av.CapacityPlan:
    """The capacity a stored request holds (limits are irrelevant for release; cells come from the request)."""
    team = catalog.teams.get(request.placement.team_id)
    p = request.placement
    return av.CapacityPlan(team_id=p.team_id, member_id=p.member_id, local_date=p.local_date, cells=p.cells,
                           daily_limit=team.daily_limit if team else 0,
                           slot_capacity=team.slot_capacity if team else 0,
                           team_version=team.version if team else 0, timezone=p.timezone)


def publish_availability(deps: PublishDeps, service_id: str, team_id: str, dates: list[str]) -> None:
    """A service request changed the team's capacity on these team-local dates. Goes through
    `booking_publisher`: a no-op where the requests stream consumer pushes such changes instead."""
    _push(deps, service_id, team_id, dates, request_change=True)


def publish_booking_change(event: Event, deps: PublishDeps) -> None:
    """Event handler: subscribers of the request's team learn the days whose capacity the change touched."""
    publish_availability(deps, event.request.service_id, event.request.placement.team_id, event.changed_days)


def publish_team_change(deps: PublishDeps, team_id: str, dates: list[str]) -> None:
    """An admin changed the team's hours, blackouts or limits: no request changed, so no stream record will
    carry it; pushed through the inline publisher."""
    _push(deps, "", team_id, dates, request_change=False)


def _push(deps: PublishDeps, service_id: str, team_id: str, dates: list[str], request_change: bool) -> None:
    """Realtime fan-out is best effort: a failure here never fails the change that caused it. Every service of
    the team is told (its slots share the team's crews)."""
    try:
        catalog = deps.catalog.get()
        services = [s.id for s in catalog.services.values() if team_id in s.team_ids and s.active] or [service_id]
        publisher = deps.booking_publisher if request_change else deps.publisher
        publisher.availability_changed(services, team_id, dates)
    except Exception:  # noqa: BLE001
        logger.exception("availability publish failed")
