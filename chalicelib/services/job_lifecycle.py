"""The job after booking (start, complete, no-show) and an admin acting for a customer who phoned in (book, move,
cancel on their behalf).

Every change is one conditional write on the revision read, with its audit entry (actor: the admin) in the same
transaction; a no-show also adds 1 to its team-day's `noShows` tally there (the repository adds what
`booking.day_tally` names). A write that lost a race reads again and decides again, so a start racing a cancel
ends with exactly one of them: the other finds a status it may not leave (409 INVALID_STATE).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Callable, Protocol

from chalicelib.domain import codec
from chalicelib.domain import job as jobs
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.payment import Decide
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import booking, changes, submissions
from chalicelib.services.ports import AuditLog, Clock, Outcome, ServiceRequestRepository, StaleRevision
from chalicelib.services.retry import with_retries

CREATED_FOR_CUSTOMER = "service_request.created_for_customer"


class JobDeps(Protocol):
    requests: ServiceRequestRepository
    audit: AuditLog
    clock: Clock


class ActForCustomerDeps(submissions.BookOnceDeps, changes.ChangeDeps, Protocol):
    audit: AuditLog


# --- the job after booking ------------------------------------------------------------------------------------
def start(deps: JobDeps, admin: Principal, request_id: str, started_at: datetime | None = None,
          notes: str | None = None) -> ServiceRequest:
    """CONFIRMED -> IN_PROGRESS. Raises NotFound, InvalidState, ValidationFailed, ConcurrentUpdate."""
    return _apply(deps, admin, request_id, jobs.decide_start(deps.clock(), started_at, notes))


def complete(deps: JobDeps, admin: Principal, request_id: str, done: jobs.Completion) -> ServiceRequest:
    """CONFIRMED or IN_PROGRESS -> COMPLETED with the actual times; a COD job with its cash recorded now or an
    unpaid reason. Raises NotFound, InvalidState, ValidationFailed, CashNotRecorded, ConcurrentUpdate."""
    return _apply(deps, admin, request_id, jobs.decide_complete(deps.clock(), admin.actor, done))


def no_show(deps: JobDeps, admin: Principal, request_id: str, reason: str | None = None) -> ServiceRequest:
    """CONFIRMED -> NO_SHOW once the appointment has begun (+1 `noShows` on its team-day, same transaction).
    Raises NotFound, InvalidState, BookingNotStarted, ConcurrentUpdate."""
    return _apply(deps, admin, request_id, jobs.decide_no_show(deps.clock(), reason))


def _apply(deps: JobDeps, admin: Principal, request_id: str, decide: Decide) -> ServiceRequest:
    """Read, decide, write conditionally on the revision read (with the audit entry); a repeated call finds
    nothing to do and writes nothing."""
    def read_decide_write() -> tuple[ServiceRequest, str | None]:
        current = deps.requests.get(request_id)
        if current is None:
            raise NotFound(details={"serviceRequestId": request_id})
        change = decide(current)
        if change is None:
            return current, None
        new = change.new.with_changes(updated_at=deps.clock())
        audit = deps.audit.action(f"SR#{request_id}", admin.actor, change.action, codec.request_to_doc(current),
                                  codec.request_to_doc(new), change.reason)
        return deps.requests.save(current, new, (audit,)), change.action

    saved, action = with_retries(read_decide_write, retry_on=(StaleRevision,),
                                 give_up=lambda: ConcurrentUpdate(details={"serviceRequestId": request_id}))
    if action is not None:
        count("JobTransition", action=action)
    return saved


# --- acting for a customer ----------------------------------------------------------------------------------
def book_for_customer(deps: ActForCustomerDeps, admin: Principal, customer: Principal, key: str, body: dict,
                      draft: booking.BookingDraft, render: Callable[[ServiceRequest], dict]) -> Outcome:
    """Book for `customer` (the booking's owner: it is in their list like their own) exactly as the portal books
    (capacity transaction, pricing with the customer's promotions), once per (admin, Idempotency-Key). The request
    records `createdBy` and its creation is audited as the admin in the booking's own transaction."""
    draft = replace(draft, created_by=admin.actor)
    stored_answer = submissions.answer_in_transaction(deps, render)

    def answer(request: ServiceRequest):
        audit = deps.audit.action(f"SR#{request.id}", admin.actor, CREATED_FOR_CUSTOMER, None,
                                  codec.request_to_doc(request), f"for {customer.user_id}")
        answer_action = stored_answer(request)
        if answer_action is None:
            return audit

        def both(tx) -> None:
            audit(tx)
            answer_action(tx)
        return both

    # The request id derives from (customer, key), so a retried submission finds the booking it already made.
    return submissions.once_per_key(deps, admin, key, body,
                                    lambda: booking.create(deps, customer, draft, key, answer=answer), render)


def reschedule_for_customer(deps: changes.ChangeDeps, admin: Principal, request_id: str, start: datetime,
                            member_id: str | None = None) -> ServiceRequest:
    """Move any customer's booking (also one that has begun), audited as the admin. Raises NotFound,
    InvalidState, SlotUnavailable, SlotFull, TeamDayFull."""
    return changes.reschedule(deps, admin, request_id, start, member_id, on_behalf=True)


def cancel_for_customer(deps: changes.ChangeDeps, admin: Principal, request_id: str, reason: str) -> ServiceRequest:
    """Cancel any customer's booking (also one that has begun), audited as the admin with the reason.
    Raises NotFound, InvalidState."""
    return changes.cancel(deps, None, request_id, reason, actor=admin, by_customer=False)
