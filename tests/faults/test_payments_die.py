"""Checkout resume and Stripe webhooks killed after their write and before the answer: the customer's retry (or
Stripe's redelivery once the dead invocation's claim lease ran out) ends with one Checkout Session per attempt,
one state change, one audit entry and one capacity release, and every event claim finished."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.clock import system_clock
from tests.faults.crash import ProcessDied, dies_after, restart
from tests.faults.invariants import assert_consistent
from tests.integration.conftest import auth
from tests.integration.payments_support import body_of, book, deliver, stored

LEASE_PASSED = timedelta(minutes=3)  # past the event claim lease (payments_repository.CLAIM_LEASE_SECONDS)


def later_clock():
    return lambda: system_clock() + LEASE_PASSED


def sessions_of(stub, request_id: str) -> list[dict]:
    return [s for s in stub.sessions.values() if s["client_reference_id"] == request_id]


def audit_actions(app_container, request_id: str) -> list[str]:
    return sorted(e["action"] for e in app_container.audit.for_entity(f"SR#{request_id}"))


def unpaid_card_booking(pay_api, users, stub) -> str:
    """A card booking whose Checkout Session could not be opened at booking time (UNPAID, attempt 1)."""
    stub.set_faults({"fail_next": 1, "fail_status": 503})
    created = body_of(book(pay_api, users["a"], "card-1", 9))
    assert created["checkoutUrl"] is None
    return created["id"]


@pytest.mark.parametrize("dependency,method", [("stripe", "create_checkout_session"), ("requests", "save")])
def test_a_killed_checkout_resume_leaves_one_session_and_the_retry_answers_it(pay_api, users, stub, gateway,
                                                                              app_container, dependency, method):
    request_id = unpaid_card_booking(pay_api, users, stub)
    dies_after(app_container, dependency, method)
    path = f"/portal/service-requests/{request_id}/checkout"
    with pytest.raises(ProcessDied):
        pay_api.http.post(path, headers=auth(users["a"]))
    restart(app_container, stripe=gateway, clock=later_clock())  # a later retry asks for a later expiry

    retry = pay_api.http.post(path, headers=auth(users["a"]))
    assert retry.status_code == 200, retry.body
    [session] = sessions_of(stub, request_id)  # the dead attempt's session, adopted: never a second payable one
    assert body_of(retry)["checkoutUrl"] == session["url"] and body_of(retry)["paymentStatus"] == "PENDING"
    assert stored(request_id).payment.session_id == session["id"]
    assert_consistent()
    assert audit_actions(app_container, request_id) == ["payment.checkout_opened"]


def paid_event(stub, session_id: str) -> tuple[list[dict], dict]:
    """(events delivered before, the event whose processing is killed)."""
    _, ids = stub.pay(session_id, "paid")
    return [], next(stub.events[e] for e in ids if stub.events[e]["type"] == "checkout.session.completed")


def expired_event(stub, session_id: str) -> tuple[list[dict], dict]:
    _, ids = stub.expire_session(session_id)
    return [], stub.events[ids[0]]


def async_failed_event(stub, session_id: str) -> tuple[list[dict], dict]:
    _, ids = stub.pay(session_id, "async_failed")
    events = [stub.events[e] for e in ids]
    return events[:-1], events[-1]


def refunded_event(stub, session_id: str) -> tuple[list[dict], dict]:
    before, paid = paid_event(stub, session_id)
    _, ids = stub.refund_session(session_id)
    return [*before, paid], stub.events[ids[-1]]


# kind -> (events, the repository write killed, final (status, paymentStatus), audit actions after checkout_opened)
EVENTS = {"paid": (paid_event, "save", ("CONFIRMED", "PAID"), ["payment.paid"]),
          "expired": (expired_event, "release", ("EXPIRED", "EXPIRED"), ["payment.expired"]),
          "async_failed": (async_failed_event, "release", ("EXPIRED", "FAILED"),
                           ["payment.awaiting_settlement", "payment.failed"]),
          "refunded": (refunded_event, "save", ("CONFIRMED", "REFUNDED"), ["payment.paid", "payment.refunded"])}


@pytest.mark.parametrize("kind", EVENTS)
def test_a_webhook_killed_after_its_write_is_applied_once_when_stripe_redelivers(pay_api, users, stub, gateway,
                                                                                 app_container, kind):
    make_events, write, final, actions = EVENTS[kind]
    created = body_of(book(pay_api, users["a"], "card-1", 9))
    assert book(pay_api, users["b"], "card-2", 9).status_code == 201  # shares the slot: stays held
    before, event = make_events(stub, stored(created["id"]).payment.session_id)
    for earlier in before:
        assert deliver(pay_api, earlier, "whsec_test").status_code == 200
    dies_after(app_container, "requests", write)
    with pytest.raises(ProcessDied):
        deliver(pay_api, event, "whsec_test")
    restart(app_container, stripe=gateway)

    # Stripe redelivers at once: the dead invocation's claim still holds, so this is not acknowledged.
    early = deliver(pay_api, event, "whsec_test")
    assert early.status_code == 503 and early.headers.get("Retry-After"), early.body
    restart(app_container, stripe=gateway, clock=later_clock())
    redelivered = deliver(pay_api, event, "whsec_test")  # after the claim's lease: taken over, nothing left to do
    assert redelivered.status_code == 200, redelivered.body
    assert body_of(redelivered)["outcome"] == "unchanged"
    request = stored(created["id"])
    assert (request.status.value, request.payment_status.value) == final
    requests = assert_consistent()  # counters: released once (expired) or still held (paid); claim finished
    assert sum(r.holds_capacity for r in requests) == (1 if final[0] == "EXPIRED" else 2)
    assert audit_actions(app_container, created["id"]) == sorted(["payment.checkout_opened", *actions])
    again = deliver(pay_api, event, "whsec_test")
    assert again.status_code == 200 and body_of(again)["outcome"] == "duplicate"


def test_a_webhook_killed_after_finishing_its_claim_is_a_duplicate_when_redelivered(pay_api, users, stub, gateway,
                                                                                    app_container):
    created = body_of(book(pay_api, users["a"], "card-1", 9))
    _, event = paid_event(stub, stored(created["id"]).payment.session_id)
    dies_after(app_container, "payment_store", "finish_event")
    with pytest.raises(ProcessDied):
        deliver(pay_api, event, "whsec_test")
    restart(app_container, stripe=gateway)
    redelivered = deliver(pay_api, event, "whsec_test")
    assert redelivered.status_code == 200 and body_of(redelivered)["outcome"] == "duplicate"
    assert stored(created["id"]).payment_status.value == "PAID"
    assert_consistent()
    assert audit_actions(app_container, created["id"]) == ["payment.checkout_opened", "payment.paid"]


def test_a_killed_cash_collection_is_recorded_once_and_the_retry_answers_it(pay_api, users, gateway, app_container):
    created = body_of(book(pay_api, users["a"], "cash-1", 9, method="COD"))
    dies_after(app_container, "requests", "save")
    path = f"/admin/service-requests/{created['id']}/cod-collected"
    with pytest.raises(ProcessDied):
        pay_api.http.post(path, headers=auth(users["admin"]))
    restart(app_container, stripe=gateway)
    retry = pay_api.http.post(path, headers=auth(users["admin"]))
    assert retry.status_code == 200 and body_of(retry)["paymentStatus"] == "COD_COLLECTED", retry.body
    assert_consistent()
    assert audit_actions(app_container, created["id"]) == ["payment.cod_collected"]
