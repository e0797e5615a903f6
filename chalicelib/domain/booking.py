"""ServiceRequest and its two state machines (status, paymentStatus).

Transitions only move forward. Stores apply them as conditional writes ("only if the current state is one
of ALLOWED_FROM[target]"), so late, duplicated or reordered events converge on the same final state.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from chalicelib.domain.errors import BookingInPast, InvalidState

if TYPE_CHECKING:
    from chalicelib.domain.job import JobRecord
    from chalicelib.domain.payment import Payment
    from chalicelib.domain.service_areas import Location
    from chalicelib.domain.terms import Assessment, CancellationTerms


class Status(str, Enum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    CONFIRMED = "CONFIRMED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    # After the appointment (services/job_lifecycle.py). Last, so stored list cursors keep their status indexes.
    IN_PROGRESS = "IN_PROGRESS"
    NO_SHOW = "NO_SHOW"


class PaymentStatus(str, Enum):
    UNPAID = "UNPAID"
    PENDING = "PENDING"
    PAID = "PAID"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    REFUND_PENDING = "REFUND_PENDING"  # a refund was asked of Stripe and is not confirmed yet
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    COD_DUE = "COD_DUE"
    COD_COLLECTED = "COD_COLLECTED"


class PaymentMethod(str, Enum):
    CARD = "CARD"
    COD = "COD"


S, P = Status, PaymentStatus

# target -> states it may be reached from
STATUS_ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    S.CONFIRMED: frozenset({S.PENDING_PAYMENT}),
    S.IN_PROGRESS: frozenset({S.CONFIRMED}),
    S.COMPLETED: frozenset({S.CONFIRMED, S.IN_PROGRESS}),  # from CONFIRMED: recorded after the fact
    S.NO_SHOW: frozenset({S.CONFIRMED}),
    S.CANCELLED: frozenset({S.PENDING_PAYMENT, S.CONFIRMED}),  # not once started: the crew is there
    S.EXPIRED: frozenset({S.PENDING_PAYMENT}),
}

PAYMENT_ALLOWED_FROM: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.PENDING: frozenset({P.UNPAID}),
    # An expired or failed session can still turn out paid (async method settles late): money wins.
    P.PAID: frozenset({P.UNPAID, P.PENDING, P.FAILED, P.EXPIRED}),
    P.FAILED: frozenset({P.UNPAID, P.PENDING}),
    P.EXPIRED: frozenset({P.UNPAID, P.PENDING}),
    P.REFUND_PENDING: frozenset({P.PAID, P.PARTIALLY_REFUNDED}),
    P.PARTIALLY_REFUNDED: frozenset({P.PAID, P.REFUND_PENDING, P.PARTIALLY_REFUNDED}),
    P.REFUNDED: frozenset({P.PAID, P.REFUND_PENDING, P.PARTIALLY_REFUNDED}),
    P.COD_COLLECTED: frozenset({P.COD_DUE}),
}

OPEN_PAYMENT = frozenset({P.UNPAID, P.PENDING})
ACTIVE_STATUSES = frozenset({S.PENDING_PAYMENT, S.CONFIRMED})  # awaiting the appointment: may move or cancel
# Those whose capacity stays counted: a job that took place (or that the customer missed) used the crew's time,
# and the team-day counts are what the utilisation report reads. Only CANCELLED and EXPIRED give it back.
HOLDING_STATUSES = ACTIVE_STATUSES | {S.IN_PROGRESS, S.COMPLETED, S.NO_SHOW}
# Team-day tallies (attributes of the capacity table's team-day item, see adapters/dynamodb/keys.py) that a
# status change adds 1 to, in the transaction that makes it.
DAY_TALLIES: dict[Status, str] = {S.CANCELLED: "cancelled", S.NO_SHOW: "noShows"}


def check_status_transition(current: Status, target: Status) -> None:
    if current not in STATUS_ALLOWED_FROM.get(target, frozenset()):
        raise InvalidState(details={"status": current.value, "target": target.value})


def day_tally(old: "ServiceRequest", new: "ServiceRequest") -> str | None:
    """The team-day tally the change from `old` to `new` adds 1 to (on the team-local date of the start), if any:
    only the write that enters the status counts, so a repeated or replayed change counts nothing."""
    if new.status is old.status:
        return None
    return DAY_TALLIES.get(new.status)


def check_not_past(request: "ServiceRequest", now: datetime) -> None:
    """A customer changes a booking only before it starts. Raises BookingInPast."""
    if request.placement.start <= now:
        raise BookingInPast(details={"serviceRequestId": request.id, "start": request.placement.start.isoformat()})


@dataclass(frozen=True)
class Placement:
    """Where a booking sits: team, member and time, plus the capacity cells it holds."""
    team_id: str
    member_id: str
    start: datetime  # aware UTC
    end: datetime  # start + duration (the buffer is capacity-only, not shown to the customer)
    local_date: str  # team-local date, drives the day counter
    timezone: str  # team's IANA zone
    cells: tuple[str, ...] = ()  # UTC instants (ISO) of the slot cells occupied incl. buffer


def _no_payment() -> Payment:
    # Imported on use: domain/payment.py decides on ServiceRequests, so it imports this module.
    from chalicelib.domain.payment import Payment
    return Payment()


@dataclass(frozen=True)
class ServiceRequest:
    id: str
    user_id: str
    service_id: str
    placement: Placement
    status: Status
    payment_status: PaymentStatus
    payment_method: PaymentMethod
    price: dict  # the pricing quote: {"total": Money dict, "lines": [...], ...}
    created_at: datetime
    updated_at: datetime
    address: str = ""
    notes: str = ""
    customer_email: str | None = None
    sequence: int = 0  # bumps on every reschedule and cancel (ICS SEQUENCE)
    idempotency_key: str | None = None
    series_id: str | None = None
    priority: str = "NORMAL"
    options: tuple[str, ...] = ()
    promo_codes: tuple[str, ...] = ()
    hold_expires_at: datetime | None = None
    payment: Payment = field(default_factory=_no_payment)  # session, Stripe's reports, cash (domain/payment.py)
    reminders_sent: tuple[str, ...] = ()  # "24h", "2h"
    location: Location | None = None  # the customer's location the booking was routed by (service areas)
    created_by: str | None = None  # the admin's actor when an admin booked for the customer (user_id: the owner)
    job: JobRecord | None = None  # what happened at the appointment (domain/job.py)
    language: str = "en"  # the customer's language for e-mails (domain/messages.LANGUAGES)
    # The service's cancellation terms when booked (a later change of the service's terms does not apply to it);
    # None for bookings made before terms existed: the service's current terms apply.
    terms: CancellationTerms | None = None
    cancellation: Assessment | None = None  # what the terms applied when it was cancelled (fee, refund)
    revision: int = 0  # storage revision this copy was read at (writes are conditional on it)

    def with_changes(self, **changes) -> "ServiceRequest":
        return replace(self, **changes)

    @property
    def holds_capacity(self) -> bool:
        return self.status in HOLDING_STATUSES


def initial_states(method: PaymentMethod) -> tuple[Status, PaymentStatus]:
    if method is PaymentMethod.COD:
        return Status.CONFIRMED, PaymentStatus.COD_DUE
    return Status.PENDING_PAYMENT, PaymentStatus.UNPAID


def as_dict(request: ServiceRequest) -> dict:
    return asdict(request)
