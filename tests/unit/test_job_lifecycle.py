"""The job after booking against in-memory fakes: every allowed and refused status transition, start / complete /
no-show with their audit entries, COD completion rules, the team-day tallies (cancelled, noShows) counted once,
and customers refused BOOKING_IN_PAST once a booking has begun (admins are not)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.dynamodb import keys
from chalicelib.domain.booking import PaymentStatus, Status, check_status_transition
from chalicelib.domain.errors import (BookingInPast, BookingNotStarted, CashNotRecorded, InvalidState, NotFound,
                                      ValidationFailed)
from chalicelib.domain.job import Completion
from chalicelib.domain.principal import Principal
from chalicelib.services import booking, changes, job_lifecycle
from tests.unit.test_booking_with_fakes import A, DAY, Deps, at, draft

S = Status
ADMIN = Principal("admin-1", groups=("admin",))
# Written out here, not read from the domain table: the test must fail if the table changes.
ALLOWED = {
    S.CONFIRMED: {S.PENDING_PAYMENT},
    S.IN_PROGRESS: {S.CONFIRMED},
    S.COMPLETED: {S.CONFIRMED, S.IN_PROGRESS},
    S.NO_SHOW: {S.CONFIRMED},
    S.CANCELLED: {S.PENDING_PAYMENT, S.CONFIRMED},
    S.EXPIRED: {S.PENDING_PAYMENT},
    S.PENDING_PAYMENT: set(),
}
PAIRS = [(current, target) for target in Status for current in Status]


@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{c.value}->{t.value}" for c, t in PAIRS])
def test_every_transition_is_allowed_or_refused_as_the_table_says(current, target):
    if current in ALLOWED[target]:
        check_status_transition(current, target)
    else:
        with pytest.raises(InvalidState):
            check_status_transition(current, target)


def booked(deps: Deps, hour: int = 10):
    return booking.create(deps, A, draft(hour))


def team_day(deps: Deps) -> dict:
    return deps.requests.capacity.get(keys.team_day_key("t1", DAY), {})


def actions(deps: Deps, request_id: str) -> list[tuple[str, str]]:
    return [(e["actor"], e["action"]) for e in deps.audit.entries if e["entity"] == f"SR#{request_id}"]


def at_start(deps: Deps, request, minutes: int = 0) -> None:
    deps.clock = type(deps.clock)(request.placement.start + timedelta(minutes=minutes))


def test_start_then_complete_with_cash_records_times_payment_and_audit():
    deps = Deps()
    request = booked(deps)
    at_start(deps, request, 5)
    started = job_lifecycle.start(deps, ADMIN, request.id, notes="crew arrived")
    assert started.status is S.IN_PROGRESS and started.job.started_at == request.placement.start + timedelta(minutes=5)
    assert job_lifecycle.start(deps, ADMIN, request.id).revision == started.revision  # a repeat writes nothing
    at_start(deps, request, 70)
    done = job_lifecycle.complete(deps, ADMIN, request.id, Completion(notes="all clean", cash_collected=True))
    assert done.status is S.COMPLETED and done.payment_status is PaymentStatus.COD_COLLECTED
    assert done.payment.collected_by == "admin:admin-1"
    assert (done.job.started_at, done.job.ended_at, done.job.notes) == (
        started.job.started_at, request.placement.start + timedelta(minutes=70), "all clean")
    assert deps.requests.get(request.id) == done
    assert actions(deps, request.id) == [("admin:admin-1", "service_request.started"),
                                         ("admin:admin-1", "service_request.completed")]
    assert team_day(deps)["count"] == 1  # the job used the crew's time: its capacity stays counted


def test_cod_completion_needs_the_cash_or_an_unpaid_reason():
    deps = Deps()
    request = booked(deps)
    at_start(deps, request, 90)
    with pytest.raises(CashNotRecorded):
        job_lifecycle.complete(deps, ADMIN, request.id, Completion())
    assert deps.requests.get(request.id).status is S.CONFIRMED and actions(deps, request.id) == []
    with pytest.raises(ValidationFailed):
        job_lifecycle.complete(deps, ADMIN, request.id, Completion(cash_collected=True, unpaid_reason="x"))
    done = job_lifecycle.complete(deps, ADMIN, request.id, Completion(unpaid_reason="customer had no cash"))
    assert (done.status, done.payment_status) == (S.COMPLETED, PaymentStatus.COD_DUE)
    assert done.job.unpaid_reason == "customer had no cash" and done.job.started_at == request.placement.start


def test_cash_fields_are_refused_for_a_card_job_and_times_must_make_sense():
    deps = Deps()
    request = booked(deps)
    deps.requests.docs[request.id].update(paymentMethod="CARD", paymentStatus="PAID")
    at_start(deps, request, 90)
    with pytest.raises(ValidationFailed):
        job_lifecycle.complete(deps, ADMIN, request.id, Completion(cash_collected=True))
    now = deps.clock()
    with pytest.raises(ValidationFailed):  # ends before it started
        job_lifecycle.complete(deps, ADMIN, request.id, Completion(actual_start=now - timedelta(minutes=5),
                                                                   actual_end=now - timedelta(minutes=10)))
    with pytest.raises(ValidationFailed):  # ends in the future
        job_lifecycle.complete(deps, ADMIN, request.id, Completion(actual_end=now + timedelta(minutes=1)))
    with pytest.raises(ValidationFailed):  # started in the future
        job_lifecycle.start(deps, ADMIN, request.id, started_at=now + timedelta(minutes=1))
    assert deps.requests.get(request.id).revision == request.revision
    assert job_lifecycle.complete(deps, ADMIN, request.id, Completion()).payment_status is PaymentStatus.PAID


def test_no_show_only_after_the_start_and_counted_once():
    deps = Deps()
    request = booked(deps)
    at_start(deps, request, -1)
    with pytest.raises(BookingNotStarted):
        job_lifecycle.no_show(deps, ADMIN, request.id)
    assert "noShows" not in team_day(deps)
    at_start(deps, request, 20)
    missed = job_lifecycle.no_show(deps, ADMIN, request.id, reason="nobody home")
    assert missed.status is S.NO_SHOW and missed.job.no_show_at == deps.clock()
    again = job_lifecycle.no_show(deps, ADMIN, request.id, reason="nobody home")  # a retried request
    assert again.revision == missed.revision
    assert team_day(deps)["noShows"] == 1 and team_day(deps)["count"] == 1
    assert actions(deps, request.id) == [("admin:admin-1", "service_request.no_show")]
    with pytest.raises(InvalidState):
        job_lifecycle.start(deps, ADMIN, request.id)


def test_cancel_counts_once_and_releases_the_day():
    deps = Deps()
    request = booked(deps)
    changes.cancel(deps, A, request.id)
    changes.cancel(deps, A, request.id)  # the retry of a cancel whose answer was lost
    assert team_day(deps)["cancelled"] == 1 and team_day(deps)["count"] == 0


def test_a_started_job_cannot_be_cancelled_nor_a_cancelled_one_started():
    deps = Deps()
    first, second = booked(deps, hour=10), booked(deps, hour=12)
    at_start(deps, first, 1)
    job_lifecycle.start(deps, ADMIN, first.id)
    with pytest.raises(InvalidState):
        job_lifecycle.cancel_for_customer(deps, ADMIN, first.id, "phoned")
    changes.cancel(deps, A, second.id)
    with pytest.raises(InvalidState):
        job_lifecycle.start(deps, ADMIN, second.id)
    with pytest.raises(NotFound):
        job_lifecycle.start(deps, ADMIN, "sr_missing")


def test_customers_cannot_change_a_booking_that_has_begun_but_an_admin_can():
    deps = Deps()
    request = booked(deps)
    at_start(deps, request, 0)  # the very start counts as begun
    with pytest.raises(BookingInPast):
        changes.cancel(deps, A, request.id)
    with pytest.raises(BookingInPast):
        changes.cancel(deps, None, request.id, actor=A)  # the signed-link path
    with pytest.raises(BookingInPast):
        changes.reschedule(deps, A, request.id, at(14))
    assert deps.requests.get(request.id).revision == request.revision
    moved = job_lifecycle.reschedule_for_customer(deps, ADMIN, request.id, at(14))
    assert moved.placement.start == at(14) and moved.user_id == "user-a"
    cancelled = job_lifecycle.cancel_for_customer(deps, ADMIN, request.id, "customer phoned")
    assert cancelled.status is S.CANCELLED
    assert actions(deps, request.id) == [("admin:admin-1", "service_request.rescheduled"),
                                         ("admin:admin-1", "service_request.cancelled")]


def test_one_minute_before_the_start_the_customer_still_may():
    deps = Deps()
    request = booked(deps)
    at_start(deps, request, -1)
    assert changes.cancel(deps, A, request.id).status is S.CANCELLED
