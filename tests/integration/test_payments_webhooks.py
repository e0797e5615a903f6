"""Payments over chalice.test.Client + in-process moto + the Stripe stub: checkout at booking, resume, COD,
webhook signature rejection, and webhook chaos (every event 3 times, shuffled)."""
from __future__ import annotations

import json
import random
import time

from chalicelib.domain.booking import PaymentStatus, Status
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, book, booking_day, day_count, deliver, gateway,  # noqa: F401
                                                pay_api, pay_catalog, stored, stub, users)


def test_card_booking_opens_a_checkout_session_bound_to_the_request(pay_api, users, stub):
    response = book(pay_api, users["a"], "c1", 9)
    assert response.status_code == 201, response.body
    created = body_of(response)
    assert created["status"] == "PENDING_PAYMENT" and created["paymentStatus"] == "PENDING"
    assert created["checkoutUrl"].startswith(stub.public_base_url + "/pay/cs_test_")
    request = stored(created["id"])
    session = stub.get_session(request.payment.session_id)
    assert session["client_reference_id"] == created["id"]
    assert session["metadata"] == {"serviceRequestId": created["id"]}
    assert session["amount_total"] == 10000 and session["currency"] == "usd"
    # The hold ends exactly when the session does.
    assert int(request.hold_expires_at.timestamp()) == session["expires_at"]
    assert session["expires_at"] - time.time() >= 30 * 60
    # An idempotent replay returns the same checkout URL (no second session).
    replay = book(pay_api, users["a"], "c1", 9)
    assert body_of(replay)["checkoutUrl"] == created["checkoutUrl"]
    assert len(stub.sessions) == 1


def test_stripe_down_at_booking_gives_201_without_url_then_checkout_resumes(pay_api, users, stub):
    stub.set_faults({"fail_next": 1, "fail_status": 503})
    response = book(pay_api, users["a"], "c2", 10)
    assert response.status_code == 201, response.body
    created = body_of(response)
    assert created["checkoutUrl"] is None
    assert created["paymentError"]["code"] == "PAYMENT_PROVIDER_UNAVAILABLE"
    request = stored(created["id"])
    assert (request.status, request.payment_status) == (Status.PENDING_PAYMENT, PaymentStatus.UNPAID)
    assert request.hold_expires_at is not None and request.payment.attempt == 1
    resumed = pay_api.http.post(f"/portal/service-requests/{created['id']}/checkout", headers=auth(users["a"]))
    assert resumed.status_code == 200, resumed.body
    body = body_of(resumed)
    assert body["checkoutUrl"] and body["paymentStatus"] == "PENDING" and body["paymentError"] is None
    assert stored(created["id"]).payment.attempt == 2
    # Resuming again while the session is open reuses it.
    again = body_of(pay_api.http.post(f"/portal/service-requests/{created['id']}/checkout", headers=auth(users["a"])))
    assert again["checkoutUrl"] == body["checkoutUrl"]
    # Another user's request does not exist for them.
    other = pay_api.http.post(f"/portal/service-requests/{created['id']}/checkout", headers=auth(users["b"]))
    assert other.status_code == 404


def test_checkout_resume_after_expiry_opens_a_fresh_session(pay_api, users, stub):
    created = body_of(book(pay_api, users["a"], "c3", 11))
    old = stored(created["id"]).payment.session_id
    stub.expire_session(old)  # expired at Stripe; its webhook has not arrived yet
    resumed = body_of(pay_api.http.post(f"/portal/service-requests/{created['id']}/checkout",
                                        headers=auth(users["a"])))
    request = stored(created["id"])
    assert request.payment.session_id != old and request.payment.attempt == 2
    assert resumed["checkoutUrl"].endswith(request.payment.session_id)
    # The old session's late expiry event does not expire the request holding a fresh session.
    event = stub.events[stub.event_order[-1]]
    assert event["type"] == "checkout.session.expired"
    assert deliver(pay_api, event, "whsec_test").status_code == 200
    assert stored(created["id"]).status is Status.PENDING_PAYMENT


def test_cash_on_delivery_is_collected_once_by_an_admin(pay_api, users):
    created = body_of(book(pay_api, users["a"], "d1", 12, method="COD"))
    assert created["paymentStatus"] == "COD_DUE" and created["checkoutUrl"] is None
    path = f"/admin/service-requests/{created['id']}/cod-collected"
    denied = pay_api.http.post(path, headers=auth(users["a"]))
    assert denied.status_code == 403
    done = pay_api.http.post(path, headers={**auth(users["admin"]), "Content-Type": "application/json"},
                             body=json.dumps({"note": "paid in cash"}))
    assert done.status_code == 200, done.body
    assert body_of(done)["paymentStatus"] == "COD_COLLECTED"
    detail = body_of(pay_api.http.get(f"/admin/service-requests/{created['id']}", headers=auth(users["admin"])))
    assert [a["action"] for a in detail["audit"]] == ["payment.cod_collected"]
    assert detail["audit"][0]["actor"].endswith("boss") and detail["audit"][0]["reason"] == "paid in cash"
    assert pay_api.http.post(path, headers=auth(users["admin"])).status_code == 200  # repeat: unchanged
    assert len(body_of(pay_api.http.get(f"/admin/service-requests/{created['id']}",
                                        headers=auth(users["admin"])))["audit"]) == 1
    card = body_of(book(pay_api, users["a"], "d2", 13))
    wrong = pay_api.http.post(f"/admin/service-requests/{card['id']}/cod-collected", headers=auth(users["admin"]))
    assert wrong.status_code == 409 and body_of(wrong)["error"]["code"] == "INVALID_STATE"


def _ops_items() -> list:
    """Event claims and checkpoints (the revenue ledger items the booking wrote are not the webhook's)."""
    from chalicelib.adapters.dynamodb.models import OpsItem
    return [item for item in OpsItem.scan() if not item.pk.startswith("REVENUE#")]


def test_bad_signatures_are_rejected_with_400_and_nothing_is_written(pay_api, users, stub):
    created = body_of(book(pay_api, users["a"], "s1", 14))
    session_id = stored(created["id"]).payment.session_id
    _, events = stub.pay(session_id, "paid")
    event = stub.events[events[0]]
    payload = json.dumps(event)
    before = stored(created["id"])
    tampered = payload.replace('"amount_total": 10000', '"amount_total": 1')
    assert tampered != payload
    from devtools.stripe_stub import sign_payload
    header = sign_payload(payload, "whsec_test", int(time.time()))
    cases = {
        "tampered body": pay_api.http.post("/payments/stripe/webhook", body=tampered,
                                           headers={"Content-Type": "application/json", "Stripe-Signature": header}),
        "wrong secret": deliver(pay_api, event, "whsec_someone_else"),
        "10 minutes old": deliver(pay_api, event, "whsec_test", timestamp=int(time.time()) - 600),
        "no header": pay_api.http.post("/payments/stripe/webhook", body=payload,
                                       headers={"Content-Type": "application/json"}),
        "garbage": pay_api.http.post("/payments/stripe/webhook", body=b"\x00\xffnot json",
                                     headers={"Content-Type": "application/octet-stream", "Stripe-Signature": "t=1,v1=00"}),
    }
    for name, response in cases.items():
        assert response.status_code == 400, (name, response.body)
        assert body_of(response)["error"]["code"] == "SIGNATURE_INVALID", name
    assert _ops_items() == []
    after = stored(created["id"])
    assert (after.revision, after.payment_status) == (before.revision, before.payment_status)
    # The genuine delivery is accepted and applied.
    ok = deliver(pay_api, event, "whsec_test")
    assert ok.status_code == 200 and body_of(ok)["outcome"] == "changed"
    assert stored(created["id"]).payment_status is PaymentStatus.PAID


def test_unknown_and_unmatched_events_get_2xx(pay_api):
    unknown = {"id": "evt_unknown", "object": "event", "type": "customer.created", "data": {"object": {}}}
    assert body_of(deliver(pay_api, unknown, "whsec_test"))["outcome"] == "ignored"
    unmatched = {"id": "evt_nobody", "object": "event", "type": "checkout.session.completed",
                 "data": {"object": {"object": "checkout.session", "id": "cs_x", "payment_status": "paid"}}}
    response = deliver(pay_api, unmatched, "whsec_test")
    assert response.status_code == 200 and body_of(response)["outcome"] == "unmatched"


SCENARIOS = {
    # outcome at the stub -> (final paymentStatus, final status)
    "paid": ("PAID", "CONFIRMED"),
    "async_succeeded": ("PAID", "CONFIRMED"),
    "async_failed": ("FAILED", "EXPIRED"),
    "expired": ("EXPIRED", "EXPIRED"),
    "refunded": ("REFUNDED", "CONFIRMED"),
    "async_pending": ("PENDING", "PENDING_PAYMENT"),
    "amount_mismatch": ("PENDING", "PENDING_PAYMENT"),
}


def test_webhook_chaos_every_event_three_times_shuffled_converges(pay_api, users, stub):
    day = booking_day()
    names = list(SCENARIOS)
    plan: dict[str, str] = {}
    events: list[dict] = []
    for i in range(50):
        response = book(pay_api, users["a"], f"chaos-{i}", 1 + i // 10 * 2, day=day)
        assert response.status_code == 201, response.body
        request_id = body_of(response)["id"]
        scenario = names[i % len(names)]
        plan[request_id] = scenario
        session_id = stored(request_id).payment.session_id
        if scenario == "expired":
            _, ids = stub.expire_session(session_id)
        elif scenario == "refunded":
            _, ids = stub.pay(session_id, "paid")
            ids += stub.refund_session(session_id)[1]
        elif scenario == "amount_mismatch":
            _, ids = stub.pay(session_id, "paid")
            stub.events[ids[0]]["data"]["object"]["amount_total"] = 1  # Stripe says 0.01 was paid
        else:
            _, ids = stub.pay(session_id, scenario)
        events += [stub.events[e] for e in ids]
    assert day_count(day) == 50
    deliveries = events * 3
    random.Random(7).shuffle(deliveries)
    for event in deliveries:
        response = deliver(pay_api, event, "whsec_test")
        assert response.status_code == 200, response.body
    for request_id, scenario in plan.items():
        request = stored(request_id)
        assert (request.payment_status.value, request.status.value) == SCENARIOS[scenario], (scenario, request_id)
        if scenario == "amount_mismatch":
            notes = request.payment.reconciliation_notes
            assert [n.kind for n in notes] == ["amount_mismatch"]
        if scenario == "async_pending":
            assert request.payment.awaiting_settlement is True
    released = sum(1 for s in plan.values() if SCENARIOS[s][1] == "EXPIRED")
    assert day_count(day) == 50 - released  # capacity given back exactly once per expired/failed request
    # Every event was processed once: one audit entry per state change, duplicates wrote nothing.
    from chalicelib.adapters.dynamodb.models import OpsItem
    claims = [i for i in OpsItem.scan() if i.pk.startswith("STRIPE_EVENT#")]
    assert len(claims) == len(events) and all(i.state == "done" for i in claims)
