"""Every write path keeps the jobs' sparse index keys in step with the request: booking, checkout resume, payment
webhooks, refund, cancel, hold expiry. Read back from the table (the stored attributes) and through the indexes
themselves (chalice.test.Client, moto, the Stripe stub)."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import codec
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, book, booking_day, gateway, pay_api, pay_catalog,  # noqa: F401
                                                stored, stub, users)


def keys_of(request_id: str) -> tuple[str | None, str | None, str | None]:
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    item = ServiceRequestItem.get(request_id, consistent_read=True)
    return item.holdKey, item.holdExpiresAt, item.paidDay


def in_holds_index(app_container, far: int = 400) -> set[str]:
    return {r.id for r in app_container.payment_store.due_holds(app_container.clock() + timedelta(days=far))}


def deliver(app_container, stub, event_ids: list[str]) -> None:
    from chalicelib.services import payments
    for event_id in event_ids:
        payments.process_event(app_container, stub.events[event_id], "test")


def test_card_payment_moves_a_request_from_the_holds_index_to_the_paid_one(pay_api, users, stub, app_container):
    request_id = body_of(book(pay_api, users["a"], "w1", 9))["id"]
    held = stored(request_id)
    assert keys_of(request_id) == ("HOLD", f"{codec.iso_utc(held.hold_expires_at)}#{request_id}", None)
    assert request_id in in_holds_index(app_container)

    _, events = stub.pay(held.payment.session_id, "paid")
    deliver(app_container, stub, events)
    paid = stored(request_id)
    assert keys_of(request_id) == (None, None, codec.iso_utc(paid.updated_at)[:10])
    assert request_id not in in_holds_index(app_container)
    since = paid.updated_at - timedelta(minutes=1)
    assert [r.id for r in app_container.payment_store.recently_paid(since, since)] == [request_id]

    _, events = stub.refund_session(held.payment.session_id)
    deliver(app_container, stub, events)
    assert keys_of(request_id) == (None, None, None)  # refunded: out of the paid check
    assert list(app_container.payment_store.recently_paid(since, since)) == []


def test_cancel_makes_an_unpaid_hold_due_at_once_and_expiry_takes_it_out(pay_api, users, stub, app_container):
    from chalicelib.services import payments
    request_id = body_of(book(pay_api, users["a"], "w2", 10))["id"]
    cancelled = pay_api.http.post(f"/portal/service-requests/{request_id}/cancel", headers=auth(users["a"]))
    assert cancelled.status_code == 200, cancelled.body
    changed = stored(request_id).updated_at
    assert keys_of(request_id) == ("HOLD", f"{codec.iso_utc(changed)}#{request_id}", None)
    assert request_id in {r.id for r in app_container.payment_store.due_holds(app_container.clock())}

    assert payments.expire_holds(app_container)["expired"] == 1
    assert keys_of(request_id) == (None, None, None)
    assert request_id not in in_holds_index(app_container)


def test_a_resumed_checkout_moves_the_hold_key_to_the_new_hold(pay_api, users, stub, app_container):
    stub.set_faults({"fail_next": 1, "fail_status": 503})
    request_id = body_of(book(pay_api, users["a"], "w3", 11))["id"]
    unpaid = stored(request_id)
    assert keys_of(request_id)[1] == f"{codec.iso_utc(unpaid.hold_expires_at)}#{request_id}"
    resumed = pay_api.http.post(f"/portal/service-requests/{request_id}/checkout", headers=auth(users["a"]))
    assert resumed.status_code == 200, resumed.body
    pending = stored(request_id)
    assert keys_of(request_id) == ("HOLD", f"{codec.iso_utc(pending.hold_expires_at)}#{request_id}", None)


def test_cash_bookings_never_enter_the_job_indexes(pay_api, users, app_container):
    request_id = body_of(book(pay_api, users["a"], "w4", 12, method="COD"))["id"]
    assert keys_of(request_id) == (None, None, None)
    collected = pay_api.http.post(f"/admin/service-requests/{request_id}/cod-collected", headers={
        **auth(users["admin"]), "Content-Type": "application/json"}, body="{}")
    assert collected.status_code == 200, collected.body
    assert keys_of(request_id) == (None, None, None) and request_id not in in_holds_index(app_container)


def test_an_expired_hold_leaves_the_index_and_a_fresh_one_stays(pay_api, users, stub, app_container):
    from chalicelib.services import payments
    day = booking_day()
    due = body_of(book(pay_api, users["a"], "w5", 13, day=day))["id"]
    fresh = body_of(book(pay_api, users["a"], "w6", 14, day=day))["id"]
    current = stored(due)
    app_container.requests.save(current, current.with_changes(hold_expires_at=current.created_at - timedelta(minutes=1)))
    assert payments.expire_holds(app_container)["expired"] == 1
    assert keys_of(due) == (None, None, None)
    assert keys_of(fresh)[0] == "HOLD" and in_holds_index(app_container) == {fresh}
