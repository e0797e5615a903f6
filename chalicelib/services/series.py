"""Recurring series: book every occurrence of an RRULE, all or nothing (or skipping conflicts on request).

How a series is booked:
- Occurrences come from chalicelib.domain.recurrence (same local wall time in the series' zone across DST; the
  zone defaults to the service's first team's zone).
- Each occurrence is its own booking transaction (request item + its capacity counters + promotion usage: far
  below DynamoDB's 100-item limit), made by booking.create with the series' `seriesId`, so the capacity rules,
  member fallback and pricing are exactly those of a single booking.
- All or nothing: when an occurrence conflicts (SLOT_FULL, TEAM_DAY_FULL, SLOT_UNAVAILABLE) or ANY error
  interrupts the series (a promotion error, a throttled or failed transaction, a crash of a dependency), the
  occurrences already booked are compensated: cancelled through changes.cancel, which gives back their
  capacity counters and promotion uses in the same transaction as the status change, and audits them with the
  reason. The customer then sees them as CANCELLED in their list (the audit trail explains why) and every
  counter is back where it was. The conflict is answered 409 with `details.occurrence` (0-based index) and
  `details.start`.
- `skipConflicts`: occurrences with a capacity conflict are left out and listed in `skipped` (index, start,
  code); everything else is booked. Other errors still roll the whole series back. If every occurrence
  conflicts, the first conflict is answered (nothing is booked).
- After the whole series stands, each booking is settled (BookingCreated: realtime pushes), then the series
  (SeriesBooked: a CARD series gets ONE Checkout Session, a line per occurrence, see
  services/payments/series_checkout.py), so a rolled-back series never opened a payment. A card series whose
  sum a card cannot be charged (above 0, below Stripe's minimum) is rolled back with CARD_AMOUNT_TOO_SMALL.
- Idempotency: the whole series is one submission under the client's Idempotency-Key (the stored outcome, 201
  or a deterministic 4xx, is replayed). A transient failure rolls back and is not stored, so a retry starts over.
- Exactly once across crashes: the key claims a series id (series_claims) and each occurrence's request id
  derives from it, so a retry after a process died mid-series books the same ids: the occurrences already
  stored are taken as they are (DynamoDB refuses them twice) and the rest are booked. A rollback frees the claim
  only once every occurrence is cancelled; a retry that finds a half-rolled-back series finishes the rollback
  and starts afresh.
- Cancel: one occurrence with the usual cancel route; the whole series with `cancel_series` (every occurrence
  still holding capacity and not yet started).
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from typing import Callable, Protocol

from chalicelib.domain.booking import ACTIVE_STATUSES, PaymentMethod, ServiceRequest, Status
from chalicelib.domain.catalog import Catalog, Service
from chalicelib.domain.errors import ChangeNotAllowed, DomainError, NotFound, SlotFull, SlotUnavailable, TeamDayFull
from chalicelib.domain.payment import amount_due, check_card_amount
from chalicelib.domain.principal import Principal
from chalicelib.domain.service_areas import Location
from chalicelib.domain.recurrence import Occurrence, occurrences, parse_rrule
from chalicelib.domain.zones import load_zone
from chalicelib.observability import count, logger
from chalicelib.services import booking, changes, service_areas
from chalicelib.services.catalog import require_service
from chalicelib.services.events import SeriesBooked, latest_requests
from chalicelib.services.ports import Outcome, SeriesClaims
from chalicelib.services.retry import with_retries
from chalicelib.services.submissions import SubmissionDeps, once_per_key

CONFLICTS = (SlotFull, TeamDayFull, SlotUnavailable)
COMPENSATION_ATTEMPTS = 3


@dataclass(frozen=True)
class SeriesDraft:
    booking: booking.BookingDraft  # the first occurrence's start; options, codes, payment for all
    rrule: str
    tz: str | None = None  # IANA zone whose wall time the series keeps (default: the first team's zone)
    skip_conflicts: bool = False


@dataclass(frozen=True)
class SeriesResult:
    series_id: str
    rrule: str
    tz: str
    booked: tuple[ServiceRequest, ...]
    skipped: tuple[dict, ...]  # {"index", "start", "code"}


class SeriesDeps(booking.BookingDeps, changes.ChangeDeps, SubmissionDeps, Protocol):
    """Books through booking.create and compensates through changes.cancel."""
    series_claims: SeriesClaims
    sleep: Callable[[float], None]  # backoff between compensation attempts


def new_series_id() -> str:
    return "ser_" + uuid.uuid4().hex[:20]


def create_idempotent(deps: SeriesDeps, principal: Principal, key: str, body: dict, draft: SeriesDraft,
                      render: Callable[[SeriesResult], dict]) -> Outcome:
    """The whole series once per (user, Idempotency-Key)."""
    return once_per_key(deps, principal, key, body, lambda: create(deps, principal, draft, key), render)


def create(deps: SeriesDeps, principal: Principal, draft: SeriesDraft,
           idempotency_key: str | None = None) -> SeriesResult:
    """Book the series (see the module docstring). Raises ValidationFailed (rule, zone), NotFound, SlotFull,
    TeamDayFull, SlotUnavailable (details.occurrence, details.start), PromoInvalid, PromoExhausted, and any
    transient error; in every case nothing of the series stays booked."""
    catalog = deps.catalog.get()
    service = require_service(catalog, draft.booking.service_id)
    draft = replace(draft, booking=booking.located(catalog, draft.booking))
    tz = draft.tz or _default_zone(catalog, service, draft.booking.location)
    load_zone(tz)
    rule = parse_rrule(draft.rrule)
    series = occurrences(rule, draft.booking.start, tz, service.duration_minutes)
    series_id = _claim(deps, principal, idempotency_key)
    booked: list[ServiceRequest] = []
    recovered: set[str] = set()
    skipped: list[dict] = []
    try:
        first_conflict = _book_each(deps, principal, draft, series, series_id, idempotency_key, booked, recovered,
                                    skipped)
        if not booked and first_conflict is not None:
            raise first_conflict
        _check_card_sum(booked)
    except BaseException as exc:
        _roll_back(deps, principal, idempotency_key, series_id, booked, f"series {series_id} not booked: "
                   f"{type(exc).__name__}")
        raise
    settled = tuple(booking.finish_recovered(deps, r) if r.id in recovered else booking.settle(deps, r)
                    for r in booked)
    settled = latest_requests(settled, deps.events.publish(SeriesBooked(series_id, settled)))
    count("SeriesBooked")
    return SeriesResult(series_id=series_id, rrule=rule.to_rrule_string(), tz=tz, booked=settled,
                        skipped=tuple(skipped))


def _check_card_sum(booked: list[ServiceRequest]) -> None:
    """A card series is one Checkout Session for the sum of its occurrences (services/payments/series_checkout.py):
    CardAmountTooSmall when a card could not be charged that sum (the series is then rolled back)."""
    dues = [amount_due(r) for r in booked if r.payment_method is PaymentMethod.CARD]
    if dues:
        check_card_amount(sum(amount for amount, _ in dues), dues[0][1])


def _book_each(deps: SeriesDeps, principal: Principal, draft: SeriesDraft, series: list[Occurrence], series_id: str,
               idempotency_key: str | None, booked: list[ServiceRequest], recovered: set[str],
               skipped: list[dict]) -> DomainError | None:
    """Book every occurrence, appending to `booked` (an occurrence an earlier attempt of this key stored is
    taken as it is, into `recovered` too) and `skipped`. Returns the first skipped conflict."""
    first_conflict: DomainError | None = None
    for occ in series:
        occurrence_id = occurrence_request_id(series_id, occ.index) if idempotency_key else None
        occurrence_draft = replace(draft.booking, start=occ.start, series_id=series_id, request_id=occurrence_id)
        try:
            booked.append(booking.create(deps, principal, occurrence_draft, idempotency_key, settled=False))
        except booking.AlreadyBooked as found:
            if not found.request.holds_capacity:  # being rolled back by a concurrent attempt of this key
                raise SlotUnavailable("This series is being rolled back; try again.", retry_after=1) from None
            booked.append(found.request)
            recovered.add(found.request.id)
        except CONFLICTS as exc:
            _locate(exc, occ)
            if not draft.skip_conflicts:
                raise
            first_conflict = first_conflict or exc
            skipped.append({"index": occ.index, "start": occ.to_dict()["start"], "code": exc.code})
        except DomainError as exc:
            _locate(exc, occ)
            raise
    return first_conflict


def occurrence_request_id(series_id: str, index: int) -> str:
    """A keyed series' occurrence id: a retry of the key books the same ids, which DynamoDB refuses to store
    twice (see booking.keyed_request_id)."""
    return "sr_" + hashlib.sha256(f"{series_id}\n{index}".encode("utf-8")).hexdigest()[:20]


def _claim(deps: SeriesDeps, principal: Principal, idempotency_key: str | None) -> str:
    """The series this submission books: a fresh one, or the one an earlier attempt of the same key claimed and
    did not finish (its process died). An earlier attempt that died while rolling back (an occurrence of its
    series is cancelled) is rolled back completely first, and the key claimed afresh."""
    if idempotency_key is None:
        return new_series_id()
    series_id = deps.series_claims.claim(principal.user_id, idempotency_key, new_series_id())
    stored = deps.requests.by_series(series_id)
    if any(not r.holds_capacity for r in stored):
        _roll_back(deps, principal, idempotency_key, series_id, [r for r in stored if r.holds_capacity],
                   f"series {series_id} not booked: rolled back after an interrupted attempt")
        series_id = deps.series_claims.claim(principal.user_id, idempotency_key, new_series_id())
    return series_id


def _roll_back(deps: SeriesDeps, principal: Principal, idempotency_key: str | None, series_id: str,
               booked: list[ServiceRequest], reason: str) -> None:
    """Cancel what the series booked, then free its key for a fresh attempt. A cancel that failed leaves the key
    claimed, so the next attempt finishes the rollback before booking again."""
    if _compensate(deps, principal, booked, reason) and idempotency_key is not None:
        deps.series_claims.release(principal.user_id, idempotency_key, series_id)
    count("SeriesRolledBack")


def cancel_series(deps: SeriesDeps, principal: Principal, series_id: str, reason: str | None = None) -> dict:
    """Cancel every occurrence of the customer's series that still holds capacity and has not started.
    Another user's series is NotFound. Returns {"seriesId", "cancelled": [ServiceRequest], "unchanged": [...]}.
    Raises NotFound."""
    members = [r for r in deps.requests.by_series(series_id) if r.user_id == principal.user_id]
    if not members:
        raise NotFound(details={"seriesId": series_id})
    now = deps.clock()
    cancelled, unchanged = [], []
    for request in sorted(members, key=lambda r: r.placement.start):
        if request.status in ACTIVE_STATUSES and request.placement.start > now:
            try:
                cancelled.append(changes.cancel(deps, principal, request.id, reason))
            except ChangeNotAllowed:  # inside a late window its terms close: it stays booked
                unchanged.append(request)
        else:
            unchanged.append(request)
    return {"seriesId": series_id, "cancelled": cancelled, "unchanged": unchanged}


def _default_zone(catalog: Catalog, service: Service, location: Location | None) -> str:
    """The zone of the first team that would serve the series (of those covering the location, if given)."""
    if location is not None:
        return service_areas.covering_teams(catalog, service, location)[0].timezone
    team = next((catalog.teams[t] for t in service.team_ids if t in catalog.teams), None)
    if team is None:
        raise NotFound("No team performs this service.", {"serviceId": service.id})
    return team.timezone


def _locate(exc: DomainError, occ: Occurrence) -> None:
    exc.details = {**(exc.details or {}), "occurrence": occ.index, "start": occ.to_dict()["start"]}


def _compensate(deps: SeriesDeps, principal: Principal, booked: list[ServiceRequest], reason: str) -> bool:
    """Cancel what this series booked (capacity and promotion uses go back in each cancel's transaction).
    A cancel that keeps failing is logged loudly and left for an operator (or the key's next attempt): it must not
    hide the original error. Returns whether every cancel succeeded."""
    complete = True
    for request in reversed(booked):
        try:
            with_retries(lambda: _cancel_once(deps, principal, request.id, reason), retry_on=(Exception,),
                         attempts=COMPENSATION_ATTEMPTS, sleep=deps.sleep,
                         give_up=lambda: CompensationFailed(request.id))
        except CompensationFailed:
            complete = False
            logger.exception("series compensation failed", extra={"serviceRequestId": request.id})
    return complete


class CompensationFailed(Exception):
    """An occurrence could not be cancelled after every attempt."""


def _cancel_once(deps: SeriesDeps, principal: Principal, request_id: str, reason: str) -> None:
    """One compensation attempt. An attempt that failed after its transaction stood (a lost answer) leaves the
    occurrence CANCELLED: the next attempt finds it so and is done, rather than cancelling twice."""
    stored = deps.requests.get(request_id)
    if stored is not None and stored.status is Status.CANCELLED:
        return
    changes.cancel(deps, None, request_id, reason, actor=principal, by_customer=False)  # a rollback
