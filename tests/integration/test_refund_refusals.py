"""Refunds Stripe refuses at creation (the stub answers 400 invalid_request_error as Stripe does) against moto
and the stub through the real SDK: recorded failed and flagged (GET /admin/reconciliation/flagged), not sent again
by the next reconciliation runs, retried by an admin as a new attempt (new idempotency key); a transient failure
(5xx, or the answer lost after Stripe made the refund) is retried by reconciliation with the same key."""
from __future__ import annotations

import json

from chalicelib.domain.booking import PaymentStatus, Status
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, gateway, pay_api, pay_catalog, stored, stub,  # noqa: F401
                                                users)
from tests.integration.test_cancel_refunds import cancel, paid, refunds_at_stripe


def refund_posts(stub) -> int:
    return sum(n for route, n in stub.request_stats()["by_route"].items() if route.startswith("POST /v1/refunds"))


def admin_post(pay_api, users, path: str, body: dict | None = None):
    return pay_api.http.post(path, headers={**auth(users["admin"]), "Content-Type": "application/json"},
                             body=json.dumps(body or {}))


def reconcile(pay_api, users) -> dict:
    run = admin_post(pay_api, users, "/admin/jobs/reconcile")
    assert run.status_code == 200, run.body
    return body_of(run)


def flagged(pay_api, users) -> dict[str, list[str]]:
    page = pay_api.http.get("/admin/reconciliation/flagged", headers=auth(users["admin"]))
    assert page.status_code == 200, page.body
    return {item["id"]: [n["kind"] for n in item["reconciliationNotes"]] for item in body_of(page)["items"]}


def test_a_refusal_is_flagged_and_no_later_run_sends_it_again(pay_api, users, stub):
    request_id = paid(pay_api, users, stub, "r1", 9)
    stub.dispute_session(stored(request_id).payment.session_id)  # the cardholder's bank took the money back

    answer = cancel(pay_api, users["a"], request_id)
    assert answer.status_code == 200, answer.body  # the cancel stands; the refund is an admin's to settle
    assert (body_of(answer)["status"], body_of(answer)["paymentStatus"]) == ("CANCELLED", "PAID")
    request = stored(request_id)
    assert [(r.id, r.status, r.attempt) for r in request.payment.refunds] == [("", "failed", 1)]
    [note] = request.payment.reconciliation_notes
    assert (note.kind, note.details["providerCode"], note.details["providerType"]) == (
        "refund_refused", "charge_disputed", "invalid_request_error")
    assert flagged(pay_api, users) == {request_id: ["refund_refused"]}
    assert refund_posts(stub) == 1 and refunds_at_stripe(stub, request_id) == []

    for _ in range(2):  # nightly runs: nothing left to send
        assert reconcile(pay_api, users)["errors"] == 0
    assert refund_posts(stub) == 1 and stored(request_id).payment.refunds == request.payment.refunds
    again = cancel(pay_api, users["a"], request_id)  # a repeated cancel does not send it either
    assert again.status_code == 200 and refund_posts(stub) == 1


def test_refused_because_the_dashboard_refunded_first_then_an_admin_retries_with_a_new_key(pay_api, users, stub):
    request_id = paid(pay_api, users, stub, "r2", 10)
    stub.refund_session(stored(request_id).payment.session_id, 4000)  # dashboard refund, no webhook delivered
    stub.set_faults({"fail_next": 1, "fail_status": 502, "path_prefix": "/v1/refunds"})
    body = body_of(cancel(pay_api, users["a"], request_id))  # free window: asks for all 10000; Stripe is down
    assert body["paymentStatus"] == "REFUND_PENDING"
    # The nightly run sends it (refused: more than is left) and records the dashboard refund.
    assert reconcile(pay_api, users)["refundsRefused"] == 1
    request = stored(request_id)
    assert request.payment_status is PaymentStatus.PARTIALLY_REFUNDED
    assert [(r.amount, r.status, r.attempt) for r in request.payment.refunds] == [
        (10000, "failed", 1), (4000, "succeeded", None)]
    [note] = request.payment.reconciliation_notes
    assert (note.details["providerCode"], note.details["amount"], note.details["attempt"]) == (
        "amount_too_large", 10000, 1)
    assert reconcile(pay_api, users)["refundsRefused"] == 0 and refund_posts(stub) == 2  # not sent again

    path = f"/admin/service-requests/{request_id}/refund"
    retried = admin_post(pay_api, users, path, {"reason": "refund the rest after the refusal"})
    assert retried.status_code == 200, retried.body
    assert body_of(retried)["paymentStatus"] == "REFUND_PENDING"
    [refund] = refunds_at_stripe(stub, request_id)
    assert (refund["amount"], refund["metadata"]["refundAttempt"]) == (6000, "2")  # key refund-<id>-2

    refused_again = admin_post(pay_api, users, path, {"amount": 100, "reason": "one more"})  # nothing left
    assert refused_again.status_code == 409, refused_again.body
    assert body_of(refused_again)["error"]["code"] == "INVALID_STATE"


def test_an_admin_refund_stripe_refuses_answers_409_with_stripes_reason(pay_api, users, stub):
    request_id = paid(pay_api, users, stub, "r3", 11)
    stub.dispute_session(stored(request_id).payment.session_id)
    answer = admin_post(pay_api, users, f"/admin/service-requests/{request_id}/refund",
                        {"amount": 2500, "reason": "goodwill"})
    assert answer.status_code == 409, answer.body
    error = body_of(answer)["error"]
    assert (error["code"], error["details"]["providerCode"], error["details"]["attempt"]) == (
        "REFUND_REFUSED", "charge_disputed", 1)
    assert stored(request_id).payment_status is PaymentStatus.PAID
    assert flagged(pay_api, users) == {request_id: ["refund_refused"]}
    audit = body_of(pay_api.http.get(f"/admin/service-requests/{request_id}/audit", headers=auth(users["admin"])))
    assert [e["action"] for e in audit["items"]][-2:] == ["payment.refund_requested", "payment.refund_refused"]


def test_a_transient_failure_is_retried_by_reconciliation_with_the_same_key(pay_api, users, stub):
    first = paid(pay_api, users, stub, "r4", 12)
    second = paid(pay_api, users, stub, "r5", 13)
    stub.set_faults({"fail_next": 1, "fail_status": 500, "path_prefix": "/v1/refunds"})
    assert body_of(cancel(pay_api, users["a"], first))["paymentStatus"] == "REFUND_PENDING"  # not executed
    stub.set_faults({"fail_next": 1, "fail_status": 503, "fail_mode": "after", "path_prefix": "/v1/refunds"})
    assert body_of(cancel(pay_api, users["a"], second))["paymentStatus"] == "REFUND_PENDING"  # made, answer lost
    assert [r.status for r in stored(first).payment.refunds] == ["requested"]
    assert len(refunds_at_stripe(stub, second)) == 1

    reconcile(pay_api, users)
    for request_id in (first, second):
        [refund] = refunds_at_stripe(stub, request_id)  # the same key: never a second refund
        request = stored(request_id)
        assert refund["metadata"]["refundAttempt"] == "1" and request.status is Status.CANCELLED
        assert [(r.id, r.attempt) for r in request.payment.refunds] == [(refund["id"], 1)]
        assert not request.payment.reconciliation_notes
