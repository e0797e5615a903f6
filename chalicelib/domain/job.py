"""The job after booking: an admin (later a technician app) starts it, completes it or records that the customer
was not there. Each `decide_*` takes the request as just read and returns the Change to write conditionally on
its revision, or None when the request already is where it was asked to go (a repeated or retried call writes
nothing, so it is audited and counted once). The allowed-from rules are STATUS_ALLOWED_FROM (domain/booking.py).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from chalicelib.domain.booking import PaymentMethod, PaymentStatus, ServiceRequest, Status, check_status_transition
from chalicelib.domain.errors import BookingNotStarted, CashNotRecorded, ValidationFailed
from chalicelib.domain.payment import Change

S, P = Status, PaymentStatus


@dataclass(frozen=True)
class JobRecord:
    """What happened at the appointment, as recorded by whoever ran it."""
    started_at: datetime | None = None  # when the work began (start, or the completion's actual start)
    ended_at: datetime | None = None  # when it ended (completion)
    notes: str = ""
    unpaid_reason: str | None = None  # a COD job completed without the cash, and why
    no_show_at: datetime | None = None  # when the no-show was recorded

    def with_changes(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)


def _job(request: ServiceRequest) -> JobRecord:
    return request.job or JobRecord()


def _not_future(field_name: str, value: datetime, now: datetime) -> None:
    if value > now:
        raise ValidationFailed(f"{field_name} is in the future.", {"fields": [{"field": field_name,
                                                                              "message": "not after now"}]})


def decide_start(now: datetime, started_at: datetime | None = None, notes: str | None = None):
    """CONFIRMED -> IN_PROGRESS. Raises InvalidState, ValidationFailed (a start in the future)."""
    at = started_at or now
    _not_future("startedAt", at, now)

    def decide(current: ServiceRequest) -> Change | None:
        if current.status is S.IN_PROGRESS:
            return None
        check_status_transition(current.status, S.IN_PROGRESS)
        job = _job(current).with_changes(started_at=at, notes=notes if notes is not None else _job(current).notes)
        return Change(current.with_changes(status=S.IN_PROGRESS, job=job), "service_request.started", notes)
    return decide


@dataclass(frozen=True)
class Completion:
    actual_start: datetime | None = None  # default: when it was started, else the booked start
    actual_end: datetime | None = None  # default: now
    notes: str | None = None
    cash_collected: bool = False  # a COD job: the cash was collected now (recorded as POST .../cod-collected does)
    unpaid_reason: str | None = None  # a COD job completed without the cash


def decide_complete(now: datetime, actor: str, done: Completion):
    """CONFIRMED or IN_PROGRESS -> COMPLETED with the actual start and end. A COD job whose cash is still due needs
    `cash_collected` (COD_DUE -> COD_COLLECTED in the same write) or an `unpaid_reason`. Raises InvalidState,
    ValidationFailed, CashNotRecorded."""
    if done.cash_collected and done.unpaid_reason:
        raise ValidationFailed("Give either cashCollected or unpaidReason, not both.",
                               {"fields": [{"field": "unpaidReason", "message": "not with cashCollected"}]})
    if done.actual_end is not None:
        _not_future("actualEnd", done.actual_end, now)

    def decide(current: ServiceRequest) -> Change | None:
        if current.status is S.COMPLETED:
            return None
        check_status_transition(current.status, S.COMPLETED)
        job = _job(current)
        start = done.actual_start or job.started_at or current.placement.start
        end = done.actual_end or now
        if end <= start:
            raise ValidationFailed("The job must end after it started.",
                                   {"fields": [{"field": "actualEnd", "message": "after actualStart"}]})
        _not_future("actualStart", start, now)
        payment, payment_status = _cash(current, now, actor, done)
        job = job.with_changes(started_at=start, ended_at=end, unpaid_reason=done.unpaid_reason,
                               notes=done.notes if done.notes is not None else job.notes)
        return Change(current.with_changes(status=S.COMPLETED, job=job, payment=payment,
                                           payment_status=payment_status),
                      "service_request.completed", done.unpaid_reason and f"unpaid: {done.unpaid_reason}")
    return decide


def _cash(current: ServiceRequest, now: datetime, actor: str, done: Completion):
    """(payment, payment status) after completion. Raises CashNotRecorded, ValidationFailed."""
    if current.payment_method is not PaymentMethod.COD:
        if done.cash_collected or done.unpaid_reason:
            raise ValidationFailed("cashCollected and unpaidReason apply to cash-on-delivery jobs only.",
                                   {"fields": [{"field": "cashCollected", "message": "COD only"}]})
        return current.payment, current.payment_status
    if current.payment_status is not P.COD_DUE:
        if done.unpaid_reason:  # the cash is already recorded: there is nothing unpaid to explain
            raise ValidationFailed("The cash is already recorded.", {"fields": [{"field": "unpaidReason",
                                                                                "message": "cash recorded"}]})
        return current.payment, current.payment_status
    if done.cash_collected:
        return current.payment.with_changes(collected_at=now, collected_by=actor), P.COD_COLLECTED
    if done.unpaid_reason:
        return current.payment, current.payment_status
    raise CashNotRecorded(details={"serviceRequestId": current.id, "paymentStatus": current.payment_status.value})


def decide_no_show(now: datetime, reason: str | None = None):
    """CONFIRMED -> NO_SHOW, only once the appointment has begun. Raises InvalidState, BookingNotStarted."""
    def decide(current: ServiceRequest) -> Change | None:
        if current.status is S.NO_SHOW:
            return None
        check_status_transition(current.status, S.NO_SHOW)
        if now < current.placement.start:
            raise BookingNotStarted(details={"serviceRequestId": current.id,
                                             "start": current.placement.start.isoformat()})
        job = _job(current).with_changes(no_show_at=now, notes=reason if reason is not None else _job(current).notes)
        return Change(current.with_changes(status=S.NO_SHOW, job=job), "service_request.no_show", reason)
    return decide
