"""Booking: place a new request (team, then the least-loaded free member, falling back on conflicts), store it
with its capacity in one transaction, and settle what follows a stored booking. Also the customer's own reads.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from chalicelib.domain import availability as av
from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, Placement, ServiceRequest, Status, initial_states
from chalicelib.domain.catalog import Catalog, Service, Team
from chalicelib.domain.errors import (DomainError, IdempotencyKeyReused, NotFound, PromoExhausted, SlotFull,
                                      SlotUnavailable, TeamDayFull, ValidationFailed)
from chalicelib.domain.payment import check_card_total
from chalicelib.domain.principal import Principal
from chalicelib.domain.service_areas import Location
from chalicelib.observability import count, logger
from chalicelib.services import capacity, service_areas
from chalicelib.services.booking_pricing import other_shards
from chalicelib.services.catalog import require_service
from chalicelib.services.events import BookingCreated, EventPublisher, latest_request
from chalicelib.services.ports import (CatalogSource, Clock, ExtraActionFailed, MemberBusy, Pricer,
                                       ServiceRequestRepository, StaleCatalog, StaleRevision)
from chalicelib.services.retry import with_retries

if TYPE_CHECKING:
    from chalicelib.settings import Settings

UTC = timezone.utc
EMERGENCY = "EMERGENCY"
T = TypeVar("T")
# What a keyed submission stores as its answer inside the booking transaction: the action for a booking about to
# be written, or None when the answer is only known after the write (see submissions.answer_in_transaction).
AnswerAction = Callable[[ServiceRequest], "Callable[[Any], None] | None"]


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
    language: str = "en"  # the customer's language for e-mails
    priority: str = "NORMAL"  # "EMERGENCY": on-call members only, emergency surcharge
    series_id: str | None = None
    exhausted_rules: tuple[str, ...] = ()  # promotion rules found used up by an earlier attempt (priced without)
    request_id: str | None = None  # the id this booking must have (a keyed series' occurrence, see series.py)
    postal_code: str | None = None  # the customer's location as typed (resolved with the catalog's areas)
    country: str | None = None
    location: Location | None = None  # resolved: only teams whose service area covers it are considered
    created_by: str | None = None  # the admin booking for the customer (the booking's principal) by phone


class OwnRequestsDeps(Protocol):
    requests: ServiceRequestRepository


class BookingDeps(capacity.UsageDeps, OwnRequestsDeps, Protocol):
    settings: Settings  # hold_minutes
    catalog: CatalogSource
    load_snapshots: capacity.LoadSnapshots
    price: Pricer
    new_id: Callable[[], str]
    clock: Clock
    events: EventPublisher
    shuffle: Callable[[list], None]  # breaks ties between equally loaded members (random; tests seed it)


class AlreadyBooked(Exception):
    """An earlier attempt of this submission (same user and Idempotency-Key) stored its booking and died before
    answering; the booking transaction refused a second one. Carries that booking, to be answered again."""

    def __init__(self, request: ServiceRequest) -> None:
        super().__init__(request.id)
        self.request = request


def keyed_request_id(user_id: str, idempotency_key: str) -> str:
    """The id of the booking a keyed submission makes. Derived, not random, so the booking transaction itself
    (its request item must not exist yet) refuses to book twice for one key, whatever happened to the
    idempotency record in between (an invocation killed after the transaction, a record that expired)."""
    digest = hashlib.sha256(f"{user_id}\n{idempotency_key}".encode("utf-8")).hexdigest()
    return "sr_" + digest[:20]


# --- create ----------------------------------------------------------------------------------------------
def create(deps: BookingDeps, principal: Principal, draft: BookingDraft, idempotency_key: str | None = None,
           extra: tuple = (), settled: bool = True, answer: AnswerAction | None = None) -> ServiceRequest:
    """Place and store a booking. Raises NotFound, ValidationFailed, SlotUnavailable, SlotFull, TeamDayFull,
    PromoInvalid, PromoExhausted. `settled=False` leaves BookingCreated unpublished (a caller booking several at
    once settles them with `settle(deps, request)` once they all stand). `answer` joins the transaction."""
    def place(catalog: Catalog) -> ServiceRequest:
        try:
            return _place(deps, catalog, principal, draft, idempotency_key, extra, answer)
        except (SlotFull, TeamDayFull, SlotUnavailable) as exc:
            stored = stored_booking(deps, principal, draft, idempotency_key)
            if stored is not None:  # the slot is full of this very submission's booking
                raise stored from None
            count("BookingRejected", code=exc.code)
            raise

    try:
        request = with_fresh_catalog(deps, place)
    except AlreadyBooked as found:
        raise AlreadyBooked(finish_recovered(deps, found.request) if settled else found.request) from None
    count("BookingCreated")
    logger.info("booking created", extra={"serviceRequestId": request.id, "teamId": request.placement.team_id})
    return settle(deps, request) if settled else request


def with_fresh_catalog(deps: BookingDeps, operation: Callable[[Catalog], T]) -> T:
    """Run `operation` with the cached catalog. A booking transaction made from a stale copy fails on a team-day
    fenced by a newer version (StaleCatalog): the copy is dropped and the operation retried with a fresh one, a bounded
    number of times. Raises SlotUnavailable (retry after 1 s) when the schedule keeps changing meanwhile."""
    return with_retries(lambda: operation(deps.catalog.get()), retry_on=(StaleCatalog,),
                        on_retry=lambda _: deps.catalog.invalidate(),
                        give_up=lambda: SlotUnavailable("The schedule changed while booking; try again.",
                                                        retry_after=1))


def settle(deps: BookingDeps, request: ServiceRequest) -> ServiceRequest:
    """Publish BookingCreated for a stored booking (its handlers open a CARD booking's Checkout Session and push
    availability); returns the request as they stored it."""
    return latest_request(request, deps.events.publish(BookingCreated(request)))


def finish_recovered(deps: BookingDeps, request: ServiceRequest) -> ServiceRequest:
    """A booking found stored by an attempt that died: run what that attempt may not have reached (a CARD
    booking's Checkout Session, opened idempotently per request and attempt; the availability push)."""
    if request.payment_method is PaymentMethod.CARD and request.payment.session_id is None:
        return settle(deps, request)
    return request


def stored_booking(deps: BookingDeps, principal: Principal, draft: BookingDraft,
                   idempotency_key: str | None) -> AlreadyBooked | None:
    """A keyed booking about to be refused as a conflict: is the slot taken by this very submission's booking,
    stored by an earlier attempt that died? (One read, on the refusal path only.) Raises IdempotencyKeyReused."""
    if idempotency_key is None or (draft.series_id is not None and draft.request_id is None):
        return None
    request_id = draft.request_id or keyed_request_id(principal.user_id, idempotency_key)
    if deps.requests.get(request_id) is None:
        return None
    return _recover(deps, request_id, principal.user_id, draft.service_id, draft.payment_method,
                    None if draft.priority == EMERGENCY else draft.start.astimezone(UTC), idempotency_key)


def _recover(deps: BookingDeps, request_id: str, user_id: str, service_id: str, payment_method: PaymentMethod,
             start: datetime | None, idempotency_key: str | None) -> AlreadyBooked:
    """The request item of a keyed booking already exists: the same submission's earlier attempt stored it.
    Raises IdempotencyKeyReused when that booking is not what this submission asks for (`start` None: any start,
    as an emergency's slot is chosen on each attempt)."""
    existing = deps.requests.get(request_id)
    same = existing is not None and existing.user_id == user_id and existing.service_id == service_id \
        and existing.payment_method is payment_method and start in (None, existing and existing.placement.start)
    if not same:
        raise IdempotencyKeyReused(details={"idempotencyKey": idempotency_key})
    logger.info("booking recovered", extra={"serviceRequestId": existing.id})
    count("BookingRecovered")
    return AlreadyBooked(existing)


def _place(deps: BookingDeps, catalog: Catalog, principal: Principal, draft: BookingDraft, idempotency_key: str | None,
           extra: tuple, answer: AnswerAction | None) -> ServiceRequest:
    now = deps.clock()
    service, draft, open_teams = open_teams_for(catalog, draft, now)
    start = draft.start.astimezone(UTC)
    last: DomainError = SlotFull()
    for team in open_teams:
        try:
            return book_with_team(deps, catalog, service, team, principal, draft, start, now, idempotency_key, extra,
                                  answer)
        except (SlotFull, TeamDayFull) as exc:
            last = exc
    raise last


def open_teams_for(catalog: Catalog, draft: BookingDraft, now: datetime) -> tuple[Service, BookingDraft, list[Team]]:
    """Every check of a draft that needs no capacity read: the service and its options, the location, the
    candidate teams in the order booking tries them, and which of them can take the start at all (hours,
    blackouts, lead time). Returns (service, the located draft, the open teams). Raises NotFound,
    ValidationFailed, ServiceAreaNotCovered, SlotUnavailable."""
    service = require_service(catalog, draft.service_id)
    unknown = sorted(set(draft.options) - {o.id for o in service.options})
    if unknown:
        raise ValidationFailed("Unknown option.", {"fields": [{"field": "options", "unknown": unknown}]})
    start = draft.start.astimezone(UTC)
    draft = located(catalog, draft)
    problems: dict[str, str] = {}
    open_teams: list[Team] = []
    for team in _candidate_teams(catalog, service, draft):
        problem = av.slot_problem(catalog, service, team, start, now)
        if problem:
            problems[team.id] = problem
        else:
            open_teams.append(team)
    if not open_teams:
        reason = next(iter(problems.values()), "outside_hours")
        raise SlotUnavailable(details={"reason": reason, "start": codec.iso_utc(start)})
    return service, draft, open_teams


def located(catalog: Catalog, draft: BookingDraft) -> BookingDraft:
    """The draft with its location resolved (ValidationFailed when malformed); unchanged without one."""
    if draft.location is not None or draft.postal_code is None:
        return draft
    return replace(draft, location=service_areas.locate(catalog, draft.postal_code, draft.country))


def _candidate_teams(catalog: Catalog, service: Service, draft: BookingDraft) -> list[Team]:
    """The service's teams that could take the draft, in the service's order (the selection rule quotes and
    previews share): those covering its location, then the one of the pinned member or team.
    Raises ServiceAreaNotCovered, NotFound."""
    teams = av.teams_for(catalog, service)
    if draft.location is not None:
        teams = service_areas.covering_teams(catalog, service, draft.location)
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


def book_with_team(deps: BookingDeps, catalog: Catalog, service: Service, team: Team, principal: Principal,
                   draft: BookingDraft, start: datetime, now: datetime, idempotency_key: str | None,
                   extra: tuple, answer: AnswerAction | None = None) -> ServiceRequest:
    """Book `start` with this team: the least-loaded free eligible member first (on-call members only for an
    EMERGENCY draft), then the next one when a member turns out busy; the member loads are read once more before
    giving up. Raises SlotFull, TeamDayFull, StaleCatalog, PromoExhausted."""
    cells = av.cells_for(start, av.occupied_minutes(service))
    local_day = av.local_date_of(start, team.timezone).isoformat()
    eligible = catalog.members_for(service.id, team.id)
    if draft.member_id is not None:
        eligible = [m for m in eligible if m.id == draft.member_id]
    if draft.priority == EMERGENCY:
        eligible = [m for m in eligible if service.id in m.on_call_service_ids]
    snapshot = deps.load_snapshots.get(deps.requests, team.id, local_day)
    ordered = av.least_loaded(eligible, local_day, snapshot, cells, deps.shuffle)
    tried: set[str] = set()
    refreshed = False
    while True:
        candidates = [m for m in ordered if m.id not in tried]
        if not candidates:
            if refreshed:
                raise SlotFull(details={"teamId": team.id})
            snapshot = deps.load_snapshots.get(deps.requests, team.id, local_day, fresh=True)
            ordered = av.least_loaded(eligible, local_day, snapshot, cells, deps.shuffle)
            refreshed = True
            continue
        member = candidates[0]
        tried.add(member.id)
        plan = av.plan_for(service, team, member.id, start)
        request = new_request(deps, service, plan, principal, draft, start, now, idempotency_key)
        uses = capacity.promotion_uses(deps, request, consume=True)
        stored_answer = answer(request.with_changes(revision=1)) if answer is not None else None
        try:
            created = deps.requests.create(request, plan, tuple(extra) + uses + _present(stored_answer))
        except StaleRevision:
            if idempotency_key is None or (draft.series_id is not None and draft.request_id is None):
                raise
            raise _recover(deps, request.id, request.user_id, request.service_id, request.payment_method,
                           None if request.priority == EMERGENCY else request.placement.start,
                           idempotency_key) from None
        except MemberBusy:
            continue
        except ExtraActionFailed as exc:
            draft = _without_spent_rules(deps, draft, request, exc)
            tried.discard(member.id)  # same member, re-priced without the used-up automatic rule
            continue
        deps.load_snapshots.note_booking(team.id, local_day, member.id, plan.cells)
        return created


def _present(action: Callable[[Any], None] | None) -> tuple:
    return () if action is None else (action,)


def new_request(deps: BookingDeps, service: Service, plan: av.CapacityPlan, principal: Principal, draft: BookingDraft,
                 start: datetime, now: datetime, idempotency_key: str | None) -> ServiceRequest:
    status, payment_status = initial_states(draft.payment_method)
    placement = Placement(team_id=plan.team_id, member_id=plan.member_id, start=start,
                          end=start + timedelta(minutes=service.duration_minutes), local_date=plan.local_date,
                          timezone=plan.timezone, cells=plan.cells)
    hold = now + timedelta(minutes=deps.settings.hold_minutes) if status is Status.PENDING_PAYMENT else None
    # A series' occurrences share the series' key: their ids derive from the series the key claimed instead.
    keyed = idempotency_key is not None and draft.series_id is None
    request_id = draft.request_id or (keyed_request_id(principal.user_id, idempotency_key) if keyed else deps.new_id())
    request = ServiceRequest(
        id=request_id, user_id=principal.user_id, service_id=service.id, placement=placement, status=status,
        payment_status=payment_status, payment_method=draft.payment_method,
        price=deps.price(service.priced_for(plan.team_id), draft, start, plan.timezone, principal), created_at=now,
        updated_at=now,
        address=draft.address, notes=draft.notes, customer_email=draft.customer_email or principal.email,
        idempotency_key=idempotency_key, series_id=draft.series_id, priority=draft.priority,
        options=draft.options, promo_codes=draft.promo_codes, hold_expires_at=hold, location=draft.location,
        created_by=draft.created_by, language=draft.language, terms=service.terms)
    check_card_total(request)
    return request


def _without_spent_rules(deps: BookingDeps, draft: BookingDraft, request: ServiceRequest,
                         exc: ExtraActionFailed) -> BookingDraft:
    """A usage limit was reached inside the booking transaction. A code the customer typed -> PromoExhausted
    (the customer asked for that discount); an automatic rule -> the same booking priced without it.
    Raises PromoExhausted, or re-raises `exc` when no promotion counter explains the failure."""
    spent = deps.promo_usage.spent(exc.labels)
    rule_ids = {r["ruleId"] for r in spent["rules"]}
    if not rule_ids:
        raise exc
    elsewhere = other_shards(request.price.get("usageClaims", []), spent, draft.exhausted_rules)
    if elsewhere:  # a concurrent booking took that shard's last use; the rule has other shards
        return replace(draft, exhausted_rules=draft.exhausted_rules + elsewhere)
    typed = [c for c in request.price.get("usageClaims", []) if c["ruleId"] in rule_ids and c.get("code")]
    if typed or rule_ids <= set(draft.exhausted_rules):
        raise PromoExhausted(details={**spent, "codes": [c["code"] for c in typed]})
    return replace(draft, exhausted_rules=tuple(sorted(set(draft.exhausted_rules) | rule_ids)))


# --- reads -----------------------------------------------------------------------------------------------
def get_own(deps: OwnRequestsDeps, principal: Principal, request_id: str) -> ServiceRequest:
    """Another user's request is NotFound (no existence leak)."""
    request = deps.requests.get(request_id)
    if request is None or request.user_id != principal.user_id:
        raise NotFound(details={"serviceRequestId": request_id})
    return request


def list_own(deps: OwnRequestsDeps, principal: Principal, cursor: str | None,
             limit: int) -> tuple[list[ServiceRequest], str | None]:
    return deps.requests.list_for_user(principal.user_id, cursor, limit)


def new_id() -> str:
    return "sr_" + uuid.uuid4().hex[:20]

