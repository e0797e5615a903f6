"""Booking use cases: availability, create (idempotent), read, reschedule, cancel.

Each function takes `deps` (the composition root's Container or a test double exposing the same names:
settings, catalog, requests, publisher, audit, idempotency, clock, new_id, load_snapshots).
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from chalicelib.clock import monotonic
from chalicelib.domain import availability as av
from chalicelib.domain import codec
from chalicelib.domain.booking import (PaymentMethod, Placement, ServiceRequest, Status, check_status_transition,
                                       initial_states)
from chalicelib.domain.catalog import Catalog, Service, Team
from chalicelib.domain.errors import (DomainError, InvalidState, NotFound, PromoExhausted, RangeTooLarge, SlotFull,
                                      SlotUnavailable, TeamDayFull, ValidationFailed)
from chalicelib.domain.principal import Principal
from chalicelib.observability import count, logger
from chalicelib.services.ports import ExtraActionFailed, MemberBusy, Outcome, StaleCatalog, StaleRevision

UTC = timezone.utc
EMERGENCY = "EMERGENCY"
MAX_CATALOG_RETRIES = 2


@dataclass(frozen=True)
class BookingDraft:
    service_id: str
    start: datetime  # aware
    payment_method: PaymentMethod
    member_id: str | None = None
    team_id: str | None = None
    address: str = ""
    notes: str = ""
    options: tuple[str, ...] = ()
    promo_codes: tuple[str, ...] = ()
    customer_email: str | None = None
    priority: str = "NORMAL"  # "EMERGENCY": on-call members only, emergency surcharge
    series_id: str | None = None
    exhausted_rules: tuple[str, ...] = ()  # promotion rules found used up by an earlier attempt (priced without)


class LoadSnapshots:
    """Per-container cache of team-day counters, used only to ORDER candidate members (least loaded first).
    Correctness never depends on it: the booking transaction's conditions decide. Keeping it warm for a few
    seconds keeps a booking at 3 DynamoDB requests (idempotency start + transaction + idempotency end)."""

    def __init__(self, ttl_seconds: float = 10.0, clock: Callable[[], float] = monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._by_day: dict[str, tuple[float, av.CounterSnapshot]] = {}

    def get(self, requests: Any, local_day: str, fresh: bool = False) -> av.CounterSnapshot:
        now = self._clock()
        with self._lock:
            hit = self._by_day.get(local_day)
            if hit and not fresh and now - hit[0] < self._ttl:
                return hit[1]
        day = date.fromisoformat(local_day)
        snapshot = requests.counters(day, day)
        with self._lock:
            self._by_day[local_day] = (now, snapshot)
        return snapshot

    def note_booking(self, local_day: str, member_id: str, cells: tuple[str, ...]) -> None:
        """Fold this container's own successful booking into the cached snapshot (keeps ordering fair)."""
        with self._lock:
            hit = self._by_day.get(local_day)
            if hit:
                snapshot = hit[1]
                key = (member_id, local_day)
                snapshot.member_loads[key] = snapshot.member_loads.get(key, 0) + 1
                snapshot.member_cells.setdefault(member_id, set()).update(cells)


# --- availability ----------------------------------------------------------------------------------------
def get_availability(deps: Any, service_id: str, from_day: date, to_day: date, tz: str,
                     member_id: str | None = None) -> dict:
    """Raises NotFound, RangeTooLarge, ValidationFailed."""
    catalog = deps.catalog.get()
    service = _service(catalog, service_id)
    if to_day < from_day:
        raise ValidationFailed("`to` is before `from`.", {"fields": [{"field": "to"}]})
    days = av.validate_range(from_day, to_day)
    if days > av.MAX_RANGE_DAYS:
        raise RangeTooLarge(details={"maxDays": av.MAX_RANGE_DAYS, "requestedDays": days})
    if member_id is not None and member_id not in {m.id for m in catalog.members_for(service.id)}:
        raise NotFound(details={"teamMemberId": member_id})
    window_start, window_end = av.requested_window(from_day, to_day, tz)
    teams = av.teams_for(catalog, service)
    dates = [d for ds in av.team_local_dates(teams, window_start, window_end).values() for d in ds]
    snapshot = deps.requests.counters(min(dates), max(dates)) if dates else av.CounterSnapshot()
    return {"serviceId": service.id, "tz": tz, "from": from_day.isoformat(), "to": to_day.isoformat(),
            "days": av.availability(catalog, service, from_day, to_day, tz, deps.clock(), snapshot, member_id)}


def day_slots(deps: Any, service_id: str, team_id: str, local_day: str) -> list[dict]:
    """Remaining counts of one team's slots on one team-local date (for realtime pushes)."""
    catalog = deps.catalog.get()
    service = _service(catalog, service_id)
    team = catalog.teams.get(team_id)
    if team is None:
        return []
    day = date.fromisoformat(local_day)
    snapshot = deps.requests.counters(day, day, consistent=True)  # pushed right after our own write
    return [{"start": s.start.astimezone(av.zone(team.timezone)).isoformat(), "remaining": s.remaining}
            for s in av.team_slots(catalog, service, team, day, deps.clock(), snapshot)]


# --- create ----------------------------------------------------------------------------------------------
def once_per_key(deps: Any, principal: Principal, key: str, body: dict, action: Callable[[], Any],
                 render: Callable[[Any], dict]) -> Any:
    """Run `action` at most once per (user, Idempotency-Key) and return its Outcome (a replay returns the stored
    one). A deterministic DomainError (slot full, invalid promo...) is stored and replayed like a success; a
    transient one raises, which frees the key so the client's retry runs again."""
    def work() -> Outcome:
        try:
            result = action()
        except DomainError as exc:
            if exc.transient:
                raise
            return Outcome(ok=False, body={"code": exc.code, "message": exc.message, "details": exc.details})
        return Outcome(ok=True, body=render(result))

    return deps.idempotency.run(principal.user_id, key, body, work)


def create_idempotent(deps: Any, principal: Principal, key: str, body: dict, draft: BookingDraft,
                      render: Callable[[ServiceRequest], dict]) -> Any:
    """Book once per (user, Idempotency-Key)."""
    return once_per_key(deps, principal, key, body, lambda: create(deps, principal, draft, key), render)


def create(deps: Any, principal: Principal, draft: BookingDraft, idempotency_key: str | None = None,
           extra: tuple = (), settled: bool = True) -> ServiceRequest:
    """Place and store a booking. Raises NotFound, ValidationFailed, SlotUnavailable, SlotFull, TeamDayFull,
    PromoInvalid, PromoExhausted. `settled=False` skips the after-booking hook and the realtime push (a caller
    booking several at once settles them with `settle(deps, request)` once they all stand)."""
    for attempt in range(MAX_CATALOG_RETRIES + 1):
        catalog = deps.catalog.get()
        try:
            request = _place(deps, catalog, principal, draft, idempotency_key, extra)
        except StaleCatalog:
            deps.catalog.invalidate()
            continue
        except (SlotFull, TeamDayFull, SlotUnavailable) as exc:
            count("BookingRejected", code=exc.code)
            raise
        count("BookingCreated")
        logger.info("booking created", extra={"serviceRequestId": request.id, "teamId": request.placement.team_id})
        return settle(deps, request) if settled else request
    raise SlotUnavailable("The schedule changed while booking; try again.", retry_after=1)


def settle(deps: Any, request: ServiceRequest) -> ServiceRequest:
    """What follows a stored booking: the after-booking hook (payments: opens the Checkout Session of CARD
    bookings) and the realtime push."""
    after_booking = getattr(deps, "after_booking", None)
    if after_booking is not None:
        request = after_booking(request)
    _publish(deps, request.service_id, request.placement.team_id, [request.placement.local_date])
    return request


def _place(deps: Any, catalog: Catalog, principal: Principal, draft: BookingDraft, idempotency_key: str | None,
           extra: tuple) -> ServiceRequest:
    service = _service(catalog, draft.service_id)
    unknown = sorted(set(draft.options) - {o.id for o in service.options})
    if unknown:
        raise ValidationFailed("Unknown option.", {"fields": [{"field": "options", "unknown": unknown}]})
    start = draft.start.astimezone(UTC)
    now = deps.clock()
    teams = _candidate_teams(catalog, service, draft)
    problems: dict[str, str] = {}
    open_teams: list[Team] = []
    for team in teams:
        problem = av.slot_problem(catalog, service, team, start, now)
        if problem:
            problems[team.id] = problem
        else:
            open_teams.append(team)
    if not open_teams:
        reason = next(iter(problems.values()), "outside_hours")
        raise SlotUnavailable(details={"reason": reason, "start": codec.iso_utc(start)})
    last: DomainError = SlotFull()
    for team in open_teams:
        try:
            return _book_with_team(deps, catalog, service, team, principal, draft, start, now, idempotency_key, extra)
        except (SlotFull, TeamDayFull) as exc:
            last = exc
    raise last


def _candidate_teams(catalog: Catalog, service: Service, draft: BookingDraft) -> list[Team]:
    teams = av.teams_for(catalog, service)
    if draft.member_id is not None:
        member = catalog.members.get(draft.member_id)
        if member is None or service.id not in member.service_ids:
            raise NotFound("No such team member for this service.", {"teamMemberId": draft.member_id})
        teams = [t for t in teams if t.id == member.team_id]
    if draft.team_id is not None:
        teams = [t for t in teams if t.id == draft.team_id]
        if not teams:
            raise NotFound("No such team for this service.", {"teamId": draft.team_id})
    return teams


def _book_with_team(deps: Any, catalog: Catalog, service: Service, team: Team, principal: Principal,
                    draft: BookingDraft, start: datetime, now: datetime, idempotency_key: str | None,
                    extra: tuple) -> ServiceRequest:
    cells = av.cells_for(start, av.occupied_minutes(service))
    local_day = av.local_date_of(start, team.timezone).isoformat()
    eligible = catalog.members_for(service.id, team.id)
    if draft.member_id is not None:
        eligible = [m for m in eligible if m.id == draft.member_id]
    if draft.priority == EMERGENCY:
        eligible = [m for m in eligible if service.id in m.on_call_service_ids]
    snapshot = deps.load_snapshots.get(deps.requests, local_day)
    ordered = av.least_loaded(eligible, local_day, snapshot, cells)
    tried: set[str] = set()
    refreshed = False
    while True:
        candidates = [m for m in ordered if m.id not in tried]
        if not candidates:
            if refreshed:
                raise SlotFull(details={"teamId": team.id})
            snapshot = deps.load_snapshots.get(deps.requests, local_day, fresh=True)
            ordered = av.least_loaded(eligible, local_day, snapshot, cells)
            refreshed = True
            continue
        member = candidates[0]
        tried.add(member.id)
        plan = av.plan_for(service, team, member.id, start)
        request = _new_request(deps, service, plan, principal, draft, start, now, idempotency_key)
        try:
            created = deps.requests.create(request, plan, tuple(extra) + _promo_actions(deps, request, consume=True))
        except MemberBusy:
            continue
        except ExtraActionFailed as exc:
            draft = _without_spent_rules(deps, draft, request, exc)
            tried.discard(member.id)  # same member, re-priced without the used-up automatic rule
            continue
        deps.load_snapshots.note_booking(local_day, member.id, plan.cells)
        return created


def _new_request(deps: Any, service: Service, plan: av.CapacityPlan, principal: Principal, draft: BookingDraft,
                 start: datetime, now: datetime, idempotency_key: str | None) -> ServiceRequest:
    status, payment_status = initial_states(draft.payment_method)
    placement = Placement(team_id=plan.team_id, member_id=plan.member_id, start=start,
                          end=start + timedelta(minutes=service.duration_minutes), local_date=plan.local_date,
                          timezone=plan.timezone, cells=plan.cells)
    hold = now + timedelta(minutes=deps.settings.hold_minutes) if status is Status.PENDING_PAYMENT else None
    return ServiceRequest(
        id=deps.new_id(), user_id=principal.user_id, service_id=service.id, placement=placement, status=status,
        payment_status=payment_status, payment_method=draft.payment_method,
        price=deps.price(service, draft, start, plan.timezone, principal), created_at=now, updated_at=now,
        address=draft.address, notes=draft.notes, customer_email=draft.customer_email or principal.email,
        idempotency_key=idempotency_key, series_id=draft.series_id, priority=draft.priority,
        options=draft.options, promo_codes=draft.promo_codes, hold_expires_at=hold)


# --- reads -----------------------------------------------------------------------------------------------
def get_own(deps: Any, principal: Principal, request_id: str) -> ServiceRequest:
    """Another user's request is NotFound (no existence leak)."""
    request = deps.requests.get(request_id)
    if request is None or request.user_id != principal.user_id:
        raise NotFound(details={"serviceRequestId": request_id})
    return request


def list_own(deps: Any, principal: Principal, cursor: str | None, limit: int) -> tuple[list[ServiceRequest], str | None]:
    return deps.requests.list_for_user(principal.user_id, cursor, limit)


def get_submission(deps: Any, principal: Principal, key: str) -> dict:
    found = deps.idempotency.lookup(principal.user_id, key)
    if found is None:
        raise NotFound("No submission with this Idempotency-Key.", {"idempotencyKey": key})
    if found.status != "COMPLETED":
        return {"idempotencyKey": key, "status": "IN_PROGRESS"}
    outcome = found.outcome or {}
    body = outcome.get("body") or {}
    if outcome.get("ok"):
        return {"idempotencyKey": key, "status": "COMPLETED", "serviceRequestId": body.get("id"), "error": None}
    return {"idempotencyKey": key, "status": "COMPLETED", "serviceRequestId": None, "error": body}


# --- changes ---------------------------------------------------------------------------------------------
def reschedule(deps: Any, principal: Principal, request_id: str, new_start: datetime,
               member_id: str | None = None) -> ServiceRequest:
    """Move a booking. Counters move atomically; on any 409 the old booking stays exactly as it was.
    Raises NotFound, InvalidState, SlotUnavailable, SlotFull, TeamDayFull."""
    for _ in range(MAX_CATALOG_RETRIES + 1):
        current = get_own(deps, principal, request_id)
        if current.status not in (Status.PENDING_PAYMENT, Status.CONFIRMED):
            raise InvalidState(details={"status": current.status.value})
        catalog = deps.catalog.get()
        service = _service(catalog, current.service_id, allow_inactive=True)
        start = new_start.astimezone(UTC)
        now = deps.clock()
        team = catalog.teams.get(current.placement.team_id)
        if team is None:
            raise SlotUnavailable(details={"reason": "team_unavailable"})
        problem = av.slot_problem(catalog, service, team, start, now)
        if problem:
            raise SlotUnavailable(details={"reason": problem, "start": codec.iso_utc(start)})
        old_plan = plan_of(catalog, current)
        members = catalog.members_for(service.id, team.id)
        if member_id is not None:
            members = [m for m in members if m.id == member_id]
            if not members:
                raise NotFound(details={"teamMemberId": member_id})
        # Prefer keeping the same person; otherwise the least loaded free member.
        local_day = av.local_date_of(start, team.timezone).isoformat()
        snapshot = deps.load_snapshots.get(deps.requests, local_day, fresh=True)
        cells = av.cells_for(start, av.occupied_minutes(service))
        ordered = sorted(members, key=lambda m: (m.id != current.placement.member_id,
                                                 snapshot.member_loads.get((m.id, local_day), 0), m.id))
        try:
            moved = _move_with_members(deps, current, service, team, ordered, start, old_plan, cells)
        except StaleCatalog:
            deps.catalog.invalidate()
            continue
        except StaleRevision:
            continue
        _audit(deps, principal, moved, "service_request.rescheduled", current)
        dates = sorted({current.placement.local_date, moved.placement.local_date})
        _publish(deps, moved.service_id, team.id, dates)
        count("BookingRescheduled")
        return moved
    raise SlotUnavailable("The schedule changed while rescheduling; try again.", retry_after=1)


def _move_with_members(deps: Any, current: ServiceRequest, service: Service, team: Team, ordered: list,
                       start: datetime, old_plan: av.CapacityPlan, cells: tuple[str, ...]) -> ServiceRequest:
    last: DomainError = SlotFull()
    for member in ordered:
        plan = av.plan_for(service, team, member.id, start)
        placement = Placement(team_id=team.id, member_id=member.id, start=start,
                              end=start + timedelta(minutes=service.duration_minutes), local_date=plan.local_date,
                              timezone=team.timezone, cells=plan.cells)
        moved = current.with_changes(placement=placement, sequence=current.sequence + 1, updated_at=deps.clock(),
                                     reminders_sent=())
        try:
            return deps.requests.move(current, moved, old_plan, plan)
        except MemberBusy:
            continue
        except (SlotFull, TeamDayFull) as exc:
            last = exc
            break
    raise last


def cancel(deps: Any, principal: Principal | None, request_id: str, reason: str | None = None,
           actor: Principal | None = None) -> ServiceRequest:
    """Cancel and give the capacity back. `principal` None = already authorised (signed link, admin).
    Raises NotFound, InvalidState."""
    for _ in range(3):
        current = get_own(deps, principal, request_id) if principal else _get(deps, request_id)
        check_status_transition(current.status, Status.CANCELLED)
        catalog = deps.catalog.get()
        cancelled = current.with_changes(status=Status.CANCELLED, sequence=current.sequence + 1,
                                         updated_at=deps.clock())
        try:
            saved = release_capacity(deps, current, cancelled, plan_of(catalog, current))
        except StaleRevision:
            continue
        who = actor or principal
        _audit(deps, who, saved, "service_request.cancelled", current, reason)
        _publish(deps, saved.service_id, saved.placement.team_id, [saved.placement.local_date])
        count("BookingCancelled")
        return saved
    raise InvalidState("The request changed while cancelling; try again.")


def _promo_actions(deps: Any, request: ServiceRequest, consume: bool) -> tuple:
    """Usage-counter actions for the promotions a booking's stored price applied (none without limits)."""
    claims = (request.price or {}).get("usageClaims") or []
    usage = getattr(deps, "promo_usage", None)
    if not claims or usage is None:
        return ()
    return tuple(usage.actions(claims, request.user_id, consume=consume))


def _without_spent_rules(deps: Any, draft: BookingDraft, request: ServiceRequest,
                         exc: ExtraActionFailed) -> BookingDraft:
    """A usage limit was reached inside the booking transaction. A code the customer typed -> PromoExhausted
    (the customer asked for that discount); an automatic rule -> the same booking priced without it.
    Raises PromoExhausted, or re-raises `exc` when no promotion counter explains the failure."""
    spent = deps.promo_usage.spent(exc.labels)
    rule_ids = {r["ruleId"] for r in spent["rules"]}
    if not rule_ids:
        raise exc
    typed = [c for c in request.price.get("usageClaims", []) if c["ruleId"] in rule_ids and c.get("code")]
    if typed or rule_ids <= set(draft.exhausted_rules):
        raise PromoExhausted(details={**spent, "codes": [c["code"] for c in typed]})
    return replace(draft, exhausted_rules=tuple(sorted(set(draft.exhausted_rules) | rule_ids)))


def release_capacity(deps: Any, current: ServiceRequest, new: ServiceRequest,
                     plan: av.CapacityPlan) -> ServiceRequest:
    """Give capacity AND the promotion uses back in one transaction (cancel, hold expiry). A give-back that cannot apply (a counter
    already at 0, i.e. reset by hand) must not block the cancellation: it is retried without the counters."""
    give_back = _promo_actions(deps, current, consume=False)
    try:
        return deps.requests.release(current, new, plan, give_back) if give_back else \
            deps.requests.release(current, new, plan)
    except ExtraActionFailed as exc:
        logger.warning("promotion uses not given back", extra={"serviceRequestId": current.id,
                                                               "failed": sorted(exc.labels)})
        return deps.requests.release(current, new, plan)


def plan_of(catalog: Catalog, request: ServiceRequest) -> av.CapacityPlan:
    """The capacity a stored request holds (limits are irrelevant for release; cells come from the request)."""
    team = catalog.teams.get(request.placement.team_id)
    p = request.placement
    return av.CapacityPlan(team_id=p.team_id, member_id=p.member_id, local_date=p.local_date, cells=p.cells,
                           daily_limit=team.daily_limit if team else 0,
                           slot_capacity=team.slot_capacity if team else 0,
                           team_version=team.version if team else 0, timezone=p.timezone)


# --- helpers ---------------------------------------------------------------------------------------------
def _service(catalog: Catalog, service_id: str, allow_inactive: bool = False) -> Service:
    service = catalog.services.get(service_id)
    if service is None or (not service.active and not allow_inactive):
        raise NotFound(details={"serviceId": service_id})
    return service


def _get(deps: Any, request_id: str) -> ServiceRequest:
    request = deps.requests.get(request_id)
    if request is None:
        raise NotFound(details={"serviceRequestId": request_id})
    return request


def _audit(deps: Any, actor: Principal | None, after: ServiceRequest, action: str,
           before: ServiceRequest | None = None, reason: str | None = None) -> None:
    deps.audit.record(f"SR#{after.id}", actor.actor if actor else "system", action,
                      codec.request_to_doc(before) if before else None, codec.request_to_doc(after), reason)


def _publish(deps: Any, service_id: str, team_id: str, dates: list[str], request_change: bool = True) -> None:
    """Realtime fan-out is best effort: a failure here never fails the booking. Changes of a service request
    go through `booking_publisher` (a no-op where the requests stream consumer pushes them instead)."""
    try:
        catalog = deps.catalog.get()
        services = [s.id for s in catalog.services.values() if team_id in s.team_ids] or [service_id]
        publisher = getattr(deps, "booking_publisher", deps.publisher) if request_change else deps.publisher
        publisher.availability_changed(services, team_id, dates)
    except Exception:  # noqa: BLE001
        logger.exception("availability publish failed")


def basic_price(service: Service, draft: BookingDraft, start: datetime, tz: str, principal: Principal) -> dict:
    """Base price plus options (the pricing resolver replaces this when wired in the container)."""
    lines = [{"kind": "base", "code": service.id, "description": service.name, "amount": service.base_price.amount}]
    for option in service.options:
        if option.id in draft.options:
            lines.append({"kind": "option", "code": option.id, "description": option.name,
                          "amount": option.price.amount})
    total = sum(line["amount"] for line in lines)
    return {"currency": service.base_price.currency, "lines": lines, "subtotal": total, "discount": 0,
            "total": total}


def new_id() -> str:
    return "sr_" + uuid.uuid4().hex[:20]

