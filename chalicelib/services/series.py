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
- After the whole series stands, each booking is settled (BookingCreated: a CARD booking gets its own Checkout
  Session; realtime pushes), so a rolled-back series never opened a payment.
- Idempotency: the whole series is one submission under the client's Idempotency-Key (the stored outcome, 201
  or a deterministic 4xx, is replayed). A transient failure rolls back and is not stored, so a retry starts over.
- Cancel: one occurrence with the usual cancel route; the whole series with `cancel_series` (every occurrence
  still holding capacity and not yet started).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Callable, Protocol

from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.catalog import Catalog, Service
from chalicelib.domain.errors import DomainError, NotFound, SlotFull, SlotUnavailable, TeamDayFull
from chalicelib.domain.principal import Principal
from chalicelib.domain.recurrence import Occurrence, occurrences, parse_rrule
from chalicelib.domain.zones import load_zone
from chalicelib.observability import count, logger
from chalicelib.services import booking, changes
from chalicelib.services.catalog import require_service
from chalicelib.services.ports import Outcome
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
    tz = draft.tz or _default_zone(catalog, service)
    load_zone(tz)
    rule = parse_rrule(draft.rrule)
    series = occurrences(rule, draft.booking.start, tz, service.duration_minutes)
    series_id = new_series_id()
    booked: list[ServiceRequest] = []
    skipped: list[dict] = []
    first_conflict: DomainError | None = None
    try:
        for occ in series:
            occurrence_draft = replace(draft.booking, start=occ.start, series_id=series_id)
            try:
                booked.append(booking.create(deps, principal, occurrence_draft, idempotency_key, settled=False))
            except CONFLICTS as exc:
                _locate(exc, occ)
                if not draft.skip_conflicts:
                    raise
                first_conflict = first_conflict or exc
                skipped.append({"index": occ.index, "start": occ.to_dict()["start"], "code": exc.code})
            except DomainError as exc:
                _locate(exc, occ)
                raise
        if not booked and first_conflict is not None:
            raise first_conflict
    except BaseException as exc:
        _compensate(deps, principal, booked, f"series {series_id} not booked: {type(exc).__name__}")
        count("SeriesRolledBack")
        raise
    settled = tuple(booking.settle(deps, request) for request in booked)
    count("SeriesBooked")
    return SeriesResult(series_id=series_id, rrule=rule.to_rrule_string(), tz=tz, booked=settled,
                        skipped=tuple(skipped))


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
        if request.holds_capacity and request.placement.start > now:
            cancelled.append(changes.cancel(deps, principal, request.id, reason))
        else:
            unchanged.append(request)
    return {"seriesId": series_id, "cancelled": cancelled, "unchanged": unchanged}


def _default_zone(catalog: Catalog, service: Service) -> str:
    team = next((catalog.teams[t] for t in service.team_ids if t in catalog.teams), None)
    if team is None:
        raise NotFound("No team performs this service.", {"serviceId": service.id})
    return team.timezone


def _locate(exc: DomainError, occ: Occurrence) -> None:
    exc.details = {**(exc.details or {}), "occurrence": occ.index, "start": occ.to_dict()["start"]}


def _compensate(deps: SeriesDeps, principal: Principal, booked: list[ServiceRequest], reason: str) -> None:
    """Cancel what this series booked (capacity and promotion uses go back in each cancel's transaction).
    A cancel that keeps failing is logged loudly and left for an operator: it must not hide the original error."""
    for request in reversed(booked):
        for attempt in range(1, COMPENSATION_ATTEMPTS + 1):
            try:
                changes.cancel(deps, None, request.id, reason, actor=principal)
                break
            except Exception:  # noqa: BLE001 - keep compensating the others
                if attempt == COMPENSATION_ATTEMPTS:
                    logger.exception("series compensation failed", extra={"serviceRequestId": request.id})
