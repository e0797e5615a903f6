"""Cancelling a paid card booking under its terms: the fee kept, the refund sent once (per-attempt idempotency
key) and settled by Stripe's events; dry runs change nothing; closed late windows refuse; admin refunds are
audited; reconciliation finds a dashboard refund no webhook delivered."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.booking import PaymentStatus, Status
from chalicelib.domain.principal import Principal
from chalicelib.domain.terms import CancellationTerms
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, book, booking_day, deliver, gateway, pay_api,  # noqa: F401
                                                pay_catalog, stored, stub, users)

SECRET = "whsec_test"


def paid(pay_api, users, stub, key: str, hour: int) -> str:
    created = body_of(book(pay_api, users["a"], key, hour))
    _, [completed] = stub.pay(stored(created["id"]).payment.session_id, "paid")
    assert body_of(deliver(pay_api, stub.events[completed], SECRET))["outcome"] == "changed"
    return created["id"]


def cancel(pay_api, token, request_id: str, dry_run: bool = False):
    query = "?dryRun=true" if dry_run else ""
    return pay_api.http.post(f"/portal/service-requests/{request_id}/cancel{query}",
                             headers={**auth(token), "Content-Type": "application/json"},
                             body=json.dumps({"reason": "plans changed"}))


def refunds_at_stripe(stub, request_id: str) -> list[dict]:
    return [r for r in stub.refunds.values() if r["metadata"].get("serviceRequestId") == request_id]


def deliver_refund_events(pay_api, stub, request_id: str) -> None:
    for event_id in list(stub.event_order):
        event = stub.events[event_id]
        if event["type"] in ("charge.refunded", "refund.updated"):
            deliver(pay_api, event, SECRET)


def at(app_container, instant) -> None:
    app_container.override(clock=lambda: instant)


def test_free_window_refunds_everything_once(pay_api, users, stub):
    request_id = paid(pay_api, users, stub, "k1", 9)
    dry = cancel(pay_api, users["a"], request_id, dry_run=True)
    assert dry.status_code == 200, dry.body
    assert body_of(dry)["change"] | {"freeUntil": None} == {
        "action": "cancel", "allowed": True, "late": False, "fee": 0, "refund": 10000, "currency": "USD",
        "freeUntil": None, "dryRun": True}
    assert body_of(dry)["status"] == "CONFIRMED" and not refunds_at_stripe(stub, request_id)  # nothing changed

    done = cancel(pay_api, users["a"], request_id)
    assert done.status_code == 200, done.body
    body = body_of(done)
    assert (body["status"], body["paymentStatus"]) == ("CANCELLED", "REFUND_PENDING")
    assert body["change"]["refund"] == 10000 and body["cancellationTerms"]["freeUntilHours"] == 24
    [refund] = refunds_at_stripe(stub, request_id)
    assert refund["amount"] == 10000 and refund["metadata"]["refundAttempt"] == "1"

    deliver_refund_events(pay_api, stub, request_id)
    assert stored(request_id).payment_status is PaymentStatus.REFUNDED
    again = cancel(pay_api, users["a"], request_id)  # the retry of a lost answer refunds nothing more
    assert body_of(again)["change"] == body["change"] and len(refunds_at_stripe(stub, request_id)) == 1


def test_late_window_keeps_the_fee_and_refunds_the_rest(pay_api, users, stub, app_container):
    request_id = paid(pay_api, users, stub, "k2", 10)
    at(app_container, stored(request_id).placement.start - timedelta(hours=2))
    body = body_of(cancel(pay_api, users["a"], request_id))
    assert (body["change"]["late"], body["change"]["fee"], body["change"]["refund"]) == (True, 5000, 5000)
    deliver_refund_events(pay_api, stub, request_id)
    request = stored(request_id)
    assert (request.status, request.payment_status) == (Status.CANCELLED, PaymentStatus.PARTIALLY_REFUNDED)
    assert request.payment.amount_refunded == 5000


def test_a_closed_late_window_refuses_cancel_and_reschedule(pay_api, users, stub, app_container, pay_catalog):
    service = app_container.catalog.get().services["svc"]
    pay_catalog.put_service(replace(service, terms=CancellationTerms(free_until_hours=48, late_policy="not_allowed")))
    app_container.catalog.invalidate()
    request_id = paid(pay_api, users, stub, "k3", 11)
    at(app_container, stored(request_id).placement.start - timedelta(hours=3))
    refused = cancel(pay_api, users["a"], request_id)
    assert refused.status_code == 409 and body_of(refused)["error"]["code"] == "CHANGE_NOT_ALLOWED"
    moved = pay_api.http.post(f"/portal/service-requests/{request_id}/reschedule",
                              headers={**auth(users["a"]), "Content-Type": "application/json"},
                              body=json.dumps({"start": (booking_day() + timedelta(hours=15)).isoformat()}))
    assert moved.status_code == 409 and body_of(moved)["error"]["code"] == "CHANGE_NOT_ALLOWED"
    assert stored(request_id).status is Status.CONFIRMED and not refunds_at_stripe(stub, request_id)


class Killed(BaseException):
    """The process dies (not an error any handler would catch)."""


def test_crash_between_refund_creation_and_its_record_never_refunds_twice(pay_api, users, stub, app_container,
                                                                           gateway):
    request_id = paid(pay_api, users, stub, "k4", 12)

    class DiesAfterStripe:
        def __getattr__(self, name):
            return getattr(gateway, name)

        def create_refund(self, **kwargs):
            gateway.create_refund(**kwargs)
            raise Killed

    from chalicelib.services import changes
    app_container.override(stripe=DiesAfterStripe())
    with pytest.raises(Killed):
        changes.cancel(app_container, Principal("user-a"), request_id, "plans changed")
    app_container.override(stripe=gateway)
    assert [r.status for r in stored(request_id).payment.refunds] == ["requested"]

    answer = cancel(pay_api, users["a"], request_id)  # the client retries: the refund is sent again, same key
    assert answer.status_code == 200, answer.body
    [refund] = refunds_at_stripe(stub, request_id)
    assert [(r.id, r.status) for r in stored(request_id).payment.refunds] == [(refund["id"], "pending")]


def test_admin_refund_is_audited_and_partial(pay_api, users, stub):
    request_id = paid(pay_api, users, stub, "k5", 13)
    path = f"/admin/service-requests/{request_id}/refund"
    headers = {**auth(users["admin"]), "Content-Type": "application/json"}
    assert pay_api.http.post(path, headers={**auth(users["a"]), "Content-Type": "application/json"},
                             body=json.dumps({"reason": "x"})).status_code == 403
    too_much = pay_api.http.post(path, headers=headers, body=json.dumps({"amount": 20000, "reason": "goodwill"}))
    assert too_much.status_code == 409
    done = pay_api.http.post(path, headers=headers, body=json.dumps({"amount": 2500, "reason": "late crew"}))
    assert done.status_code == 200, done.body
    assert body_of(done)["paymentStatus"] == "REFUND_PENDING"
    deliver_refund_events(pay_api, stub, request_id)
    assert stored(request_id).payment_status is PaymentStatus.PARTIALLY_REFUNDED
    audit = body_of(pay_api.http.get(f"/admin/service-requests/{request_id}/audit", headers=auth(users["admin"])))
    assert any(e.get("action") == "payment.refund_requested" and e.get("reason") == "late crew"
               for e in audit["items"])


def test_reconciliation_finds_a_dashboard_refund_no_webhook_delivered(pay_api, users, stub):
    request_id = paid(pay_api, users, stub, "k6", 14)
    stub.refund_session(stored(request_id).payment.session_id, 4000)  # events never delivered
    assert stored(request_id).payment_status is PaymentStatus.PAID
    run = pay_api.http.post("/admin/jobs/reconcile", headers={**auth(users["admin"]),
                                                               "Content-Type": "application/json"}, body="{}")
    assert run.status_code == 200, run.body
    request = stored(request_id)
    assert request.payment_status is PaymentStatus.PARTIALLY_REFUNDED
    assert [(r.amount, r.status) for r in request.payment.refunds] == [(4000, "succeeded")]
