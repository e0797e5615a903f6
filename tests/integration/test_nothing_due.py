"""A card booking whose total is 0 (a 100 % promotion): Stripe refuses a 0 amount, so nothing is asked of it; the
request is confirmed and PAID with amount 0 at once, its hold ends, a cancel refunds nothing, and reconciliation
does not flag it as "paid here, not at Stripe". A series pays only for its occurrences that cost something."""
from __future__ import annotations

import json

from chalicelib.domain.booking import PaymentStatus, Status
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, book, gateway, pay_api, pay_catalog, stored, stub,  # noqa: F401
                                                users)
from tests.integration.test_series_card import book_series, cancel, states

P, S = PaymentStatus, Status


def free_rule(pay_api, users, code: str | None = None) -> None:
    doc = {"id": f"free-{code or 'auto'}", "kind": "percent", "value": 10000, "serviceIds": ["svc"]}
    if code:
        doc["code"] = code
    answer = pay_api.http.post("/admin/promo-rules", body=json.dumps(doc),
                               headers={**auth(users["admin"]), "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.body


def reconcile(pay_api, users) -> dict:
    run = pay_api.http.post("/admin/jobs/reconcile", body="{}",
                            headers={**auth(users["admin"]), "Content-Type": "application/json"})
    assert run.status_code == 200, run.body
    return body_of(run)


def test_a_free_card_booking_is_confirmed_without_stripe_and_cancels_without_a_refund(pay_api, users, stub):
    free_rule(pay_api, users)
    answer = book(pay_api, users["a"], "free-1", 9)

    assert answer.status_code == 201, answer.body
    body = body_of(answer)
    assert body["price"]["total"] == 0
    assert (body["status"], body["paymentStatus"]) == ("CONFIRMED", "PAID")
    assert body.get("checkoutUrl") is None and body.get("paymentError") is None
    request = stored(body["id"])
    assert request.hold_expires_at is None and request.payment.amount == 0 and request.payment.nothing_due
    assert stub.sessions == {}  # nothing was asked of Stripe

    assert reconcile(pay_api, users)["flaggedPaidNotInStripe"] == 0
    assert stored(body["id"]).payment.open_notes == ()

    cancelled = cancel(pay_api, users["a"], body["id"])
    assert cancelled.status_code == 200, cancelled.body
    assert body_of(cancelled)["change"]["refund"] == 0
    after = stored(body["id"])
    assert (after.status, after.payment_status, after.payment.refunds) == (S.CANCELLED, P.PAID, ())


def test_a_paying_booking_next_to_it_still_opens_a_session(pay_api, users, stub):
    answer = book(pay_api, users["a"], "paying-1", 10)
    assert answer.status_code == 201, answer.body
    assert body_of(answer)["checkoutUrl"] and len(stub.sessions) == 1
    assert stored(body_of(answer)["id"]).payment_status is P.PENDING


def test_a_free_card_series_is_confirmed_without_a_session(pay_api, users, stub):
    free_rule(pay_api, users)
    answer = book_series(pay_api, users["a"], "free-series")

    assert answer.status_code == 201, answer.body
    body = body_of(answer)
    ids = [item["id"] for item in body["items"]]
    assert len(ids) == 3 and body.get("checkoutUrl") is None and body.get("paymentError") is None
    assert states(ids) == [(S.CONFIRMED, P.PAID)] * 3
    assert stub.sessions == {}
