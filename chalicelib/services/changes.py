"""Changes to a stored booking: reschedule (capacity moves atomically) and cancel (capacity and promotion uses go
back atomically). Each is audited and pushed to realtime subscribers. The booking's cancellation terms
(services/change_terms.py) may forbid a customer's change inside the late window; cancelling a paid card booking
decides the refund they allow (all that is left when an admin or a rollback cancels) in the cancel's own write
and then sends it (services/payments/refunds.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol

from chalicelib.domain import availability as av
from chalicelib.domain import codec
from chalicelib.domain.booking import (ACTIVE_STATUSES, Placement, ServiceRequest, Status, check_not_past,
                                       check_status_transition)
from chalicelib.domain.catalog import Catalog, Service, Team, TeamMember
from chalicelib.domain.errors import DomainError, InvalidState, NotFound, SlotFull, SlotUnavailable, TeamDayFull
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.domain.refunds import with_requested_refund
from chalicelib.services.booking import get_own
from chalicelib.services.change_terms import CANCEL, RESCHEDULE, Applied, as_cancelled, assess_change
from chalicelib.services.catalog import require_service
from chalicelib.services.events import BookingCancelled, BookingMoved, EventPublisher
from chalicelib.services.payments.refunds import RefundGateway, send_unsent
from chalicelib.services.ports import (AuditLog, CatalogSource, Clock, MemberBusy, StaleCatalog, StaleRevision,
                                      TransactionAction)
from chalicelib.services.retry import with_retries

UTC = timezone.utc


class ChangeDeps(capacity.ReleaseDeps, Protocol):
    catalog: CatalogSource
    load_snapshots: capacity.LoadSnapshots
    audit: AuditLog
    clock: Clock
    events: EventPublisher
    stripe: RefundGateway


def reschedule(deps: ChangeDeps, principal: Principal, request_id: str, new_start: datetime,
               member_id: str | None = None, on_behalf: bool = False) -> ServiceRequest:
    return reschedule_assessed(deps, principal, request_id, new_start, member_id, on_behalf).request


def reschedule_assessed(deps: ChangeDeps, principal: Principal, request_id: str, new_start: datetime,
                        member_id: str | None = None, on_behalf: bool = False, dry_run: bool = False) -> Applied:
    """Reschedule under the booking's terms (a customer gets ChangeNotAllowed inside a late window that forbids
    it). A dry run reads the terms only: it neither checks the new slot nor writes."""
    if dry_run:
        current = _stored(deps, request_id) if on_behalf else get_own(deps, principal, request_id)
        if current.status not in ACTIVE_STATUSES:
            raise InvalidState(details={"status": current.status.value})
        return Applied(current, RESCHEDULE, assess_change(deps.catalog.get(), current, RESCHEDULE, deps.clock(),
                                                          enforce=not on_behalf), True)
    assessed: list = []
    moved = _reschedule(deps, principal, request_id, new_start, member_id, on_behalf, assessed)
    return Applied(moved, RESCHEDULE, assessed[-1])


def _reschedule(deps: ChangeDeps, principal: Principal, request_id: str, new_start: datetime,
                member_id: str | None, on_behalf: bool, assessed: list) -> ServiceRequest:
    """Move a booking. Counters move atomically; on any 409 the old booking stays exactly as it was. A move that
    lost a race (the request or the team's schedule changed meanwhile) is decided again from a fresh read.
    `on_behalf`: an admin moves any customer's booking, also one that has begun (audited as the admin); a
    customer moves only their own, before it starts. Raises NotFound, InvalidState, BookingInPast,
    SlotUnavailable, SlotFull, TeamDayFull."""
    def forget_stale_catalog(exc: Exception) -> None:
        if isinstance(exc, StaleCatalog):
            deps.catalog.invalidate()

    current, moved = with_retries(
        lambda: _move(deps, principal, request_id, new_start.astimezone(UTC), member_id, on_behalf, assessed),
        retry_on=(StaleCatalog, StaleRevision), on_retry=forget_stale_catalog,
        give_up=lambda: SlotUnavailable("The schedule changed while rescheduling; try again.", retry_after=1))
    if moved is current:
        return current
    deps.events.publish(BookingMoved(current, moved))
    count("BookingRescheduled")
    return moved


def _move(deps: ChangeDeps, principal: Principal, request_id: str, start: datetime,
          member_id: str | None, on_behalf: bool, assessed: list) -> tuple[ServiceRequest, ServiceRequest]:
    """One attempt: (the request as read, the request as moved; the same object when it already is where it
    was asked to go). Raises StaleCatalog, StaleRevision when it lost a race, and the errors of `reschedule`."""
    current = _stored(deps, request_id) if on_behalf else get_own(deps, principal, request_id)
    if current.status not in ACTIVE_STATUSES:
        raise InvalidState(details={"status": current.status.value})
    catalog = deps.catalog.get()
    if current.placement.start == start and member_id in (None, current.placement.member_id):
        assessed.append(assess_change(catalog, current, RESCHEDULE, deps.clock(), enforce=False))
        return current, current  # e.g. the retry of a move whose answer was lost: moving again would bump it twice
    if not on_behalf:
        check_not_past(current, deps.clock())
    assessed.append(assess_change(catalog, current, RESCHEDULE, deps.clock(), enforce=not on_behalf))
    service = require_service(catalog, current.service_id, allow_inactive=True)
    team = catalog.teams.get(current.placement.team_id)
    if team is None:
        raise SlotUnavailable(details={"reason": "team_unavailable"})
    problem = av.slot_problem(catalog, service, team, start, deps.clock())
    if problem:
        raise SlotUnavailable(details={"reason": problem, "start": codec.iso_utc(start)})
    members = _members_in_order(deps, catalog, service, team, current, start, member_id)
    return current, _move_with_members(deps, principal, current, service, team, members, start,
                                       capacity.plan_of(catalog, current))


def _members_in_order(deps: ChangeDeps, catalog: Catalog, service: Service, team: Team, current: ServiceRequest,
                      start: datetime, member_id: str | None) -> list[TeamMember]:
    """The member asked for, or else every member of the team for the service: the one already booked first,
    then the least loaded that day. Raises NotFound (no such member in the team)."""
    members = catalog.members_for(service.id, team.id)
    if member_id is not None:
        members = [m for m in members if m.id == member_id]
        if not members:
            raise NotFound(details={"teamMemberId": member_id})
    local_day = av.local_date_of(start, team.timezone).isoformat()
    snapshot = deps.load_snapshots.get(deps.requests, team.id, local_day, fresh=True)
    return sorted(members, key=lambda m: (m.id != current.placement.member_id,
                                          snapshot.member_loads.get((m.id, local_day), 0), m.id))


def _move_with_members(deps: ChangeDeps, principal: Principal, current: ServiceRequest, service: Service,
                       team: Team, ordered: list[TeamMember], start: datetime,
                       old_plan: av.CapacityPlan) -> ServiceRequest:
    last: DomainError = SlotFull()
    for member in ordered:
        plan = av.plan_for(service, team, member.id, start)
        placement = Placement(team_id=team.id, member_id=member.id, start=start,
                              end=start + timedelta(minutes=service.duration_minutes), local_date=plan.local_date,
                              timezone=team.timezone, cells=plan.cells)
        moved = current.with_changes(placement=placement, sequence=current.sequence + 1, updated_at=deps.clock(),
                                     reminders_sent=())
        try:
            audit = _audit(deps, principal, moved, "service_request.rescheduled", current)
            return deps.requests.move(current, moved, old_plan, plan, (audit,))
        except MemberBusy:
            continue
        except (SlotFull, TeamDayFull) as exc:
            last = exc
            break
    raise last


def cancel(deps: ChangeDeps, principal: Principal | None, request_id: str, reason: str | None = None,
           actor: Principal | None = None, by_customer: bool = True) -> ServiceRequest:
    return cancel_assessed(deps, principal, request_id, reason, actor, by_customer=by_customer).request


def cancel_assessed(deps: ChangeDeps, principal: Principal | None, request_id: str, reason: str | None = None,
                    actor: Principal | None = None, *, by_customer: bool = True, dry_run: bool = False) -> Applied:
    """Cancel and give the capacity back (and add 1 to its team-day's `cancelled` tally, same transaction).
    `principal` None = already authorised (signed link, admin). A customer (`by_customer`: portal, signed link)
    cancels only before the booking starts and under its terms (fee kept, or ChangeNotAllowed); an admin or a
    rollback at any time, refunding all that is left. A cancel that lost a race with another write reads the
    request again and decides again. Cancelling a cancelled request answers it as it is (the retry of a cancel
    whose answer was lost), sending a refund a crash left unsent. Raises NotFound, InvalidState, BookingInPast,
    ChangeNotAllowed."""
    def release() -> tuple[ServiceRequest, ServiceRequest, Applied | None]:
        current = get_own(deps, principal, request_id) if principal else _stored(deps, request_id)
        if current.status is Status.CANCELLED:
            return current, current, None
        check_status_transition(current.status, Status.CANCELLED)
        if by_customer:
            check_not_past(current, deps.clock())
        catalog = deps.catalog.get()
        assessment = assess_change(catalog, current, CANCEL, deps.clock(), by_customer)
        if dry_run:
            return current, current, Applied(current, CANCEL, assessment, True)
        cancelled = current.with_changes(status=Status.CANCELLED, sequence=current.sequence + 1,
                                         updated_at=deps.clock(), cancellation=assessment)
        if assessment.refund > 0:
            cancelled = with_requested_refund(cancelled, assessment.refund, reason or "cancelled")
        audit = _audit(deps, actor or principal, cancelled, "service_request.cancelled", current, reason)
        saved = capacity.release_capacity(deps, current, cancelled, capacity.plan_of(catalog, current), also=(audit,))
        return current, saved, Applied(saved, CANCEL, assessment)

    current, saved, applied = with_retries(
        release, retry_on=(StaleRevision,),
        give_up=lambda: InvalidState("The request changed while cancelling; try again."))
    if applied is None:  # already cancelled: a refund a crash left unsent goes now (same idempotency key)
        current = send_unsent(deps, current, _actor_name(actor or principal))
        return Applied(current, CANCEL, as_cancelled(current))
    if applied.dry_run:
        return applied
    deps.events.publish(BookingCancelled(saved))
    count("BookingCancelled")
    return Applied(send_unsent(deps, saved, _actor_name(actor or principal)), CANCEL, applied.assessment)


def _actor_name(actor: Principal | None) -> str:
    return actor.actor if actor else "system"


def _stored(deps: ChangeDeps, request_id: str) -> ServiceRequest:
    request = deps.requests.get(request_id)
    if request is None:
        raise NotFound(details={"serviceRequestId": request_id})
    return request


def _audit(deps: ChangeDeps, actor: Principal | None, after: ServiceRequest, action: str,
           before: ServiceRequest | None = None, reason: str | None = None) -> TransactionAction:
    """The change's audit entry, written in the change's own transaction: never a change without its entry."""
    return deps.audit.action(f"SR#{after.id}", actor.actor if actor else "system", action,
                             codec.request_to_doc(before) if before else None, codec.request_to_doc(after), reason)
