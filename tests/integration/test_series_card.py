"""A card series is paid once: one Checkout Session with a line per occurrence (chalice.test.Client, in-process moto,
the Stripe stub in a thread, events delivered signed by the test). Completion pays every occurrence once whatever
the order and duplicates; expiry releases them all once; cancelling one paid occurrence refunds only its line; a
dashboard refund of the shared payment is flagged, never spread over the occurrences; reconciliation finds an
undelivered completion."""
from __future__ import annotations

import json
from datetime import timedelta

from chalicelib.domain.booking import PaymentStatus, Status
from chalicelib.domain.errors import PaymentProviderUnavailable
from chalicelib.services import payments
from tests.integration.conftest import auth
from tests.integration.test_exactly_once import expire_idempotency_records
from tests.integration.payments_support import (body_of, booking_day, day_count, deliver, gateway, pay_api,  # noqa: F401
                                                pay_catalog, stored, stub, users)
from tests.locations import AT_HOME

SECRET = "whsec_test"
P, S = PaymentStatus, Status


def book_series(pay_api, token, key: str, count: int = 3, hour: int = 9):
    start = booking_day() + timedelta(hours=hour)
    body = {"serviceId": "svc", "start": start.isoformat(), "paymentMethod": "CARD", **AT_HOME,
            "recurrence": {"rrule": f"FREQ=WEEKLY;COUNT={count}", "tz": "UTC"}}
    headers = {**auth(token), "Content-Type": "application/json", "Idempotency-Key": key}
    return pay_api.http.post("/portal/service-requests", headers=headers, body=json.dumps(body))


def series(pay_api, users, key: str) -> tuple[dict, list[str], str]:
    """(the answer, occurrence ids, the one session id)."""
    answer = book_series(pay_api, users["a"], key)
    assert answer.status_code == 201, answer.body
    body = body_of(answer)
    ids = [item["id"] for item in body["items"]]
    return body, ids, stored(ids[0]).payment.session_id


def paid_series(pay_api, users, stub, key: str) -> tuple[list[str], str]:
    _, ids, session_id = series(pay_api, users, key)
    _, [completed] = stub.pay(session_id, "paid")
    assert body_of(deliver(pay_api, stub.events[completed], SECRET))["outcome"] == "changed"
    return ids, session_id


def states(ids: list[str]) -> list[tuple[Status, PaymentStatus]]:
    return [(r.status, r.payment_status) for r in map(stored, ids)]


def cancel(pay_api, token, request_id: str):
    return pay_api.http.post(f"/portal/service-requests/{request_id}/cancel",
                             headers={**auth(token), "Content-Type": "application/json"},
                             body=json.dumps({"reason": "away that day"}))


def events_of(stub, *types: str) -> list[dict]:
    return [stub.events[e] for e in stub.event_order if stub.events[e]["type"] in types]


def test_a_card_series_opens_one_session_with_a_line_per_occurrence(pay_api, users, stub):
    body, ids, session_id = series(pay_api, users, "one-session")
    assert len(stub.sessions) == 1 and len(ids) == 3
    session = stub.sessions[session_id]
    lines = stub.line_items[session_id]
    prices = [item["price"]["total"] for item in body["items"]]
    assert [line["amount_total"] for line in lines] == prices
    assert session["amount_total"] == sum(prices) and session["metadata"] == {"seriesId": body["seriesId"]}
    assert [line["description"][:4] for line in lines] == ["svc,"] * 3
    assert len({line["description"] for line in lines}) == 3  # each line names its occurrence's date
    # The answer names the one checkout, as a single booking's does, and every occurrence shares it and its hold.
    assert body["checkoutUrl"] == session["url"] and body["paymentError"] is None
    assert {(i["checkoutUrl"], i["holdExpiresAt"]) for i in body["items"]} == {(body["checkoutUrl"],
                                                                              body["holdExpiresAt"])}
    assert [(r.payment.amount, r.payment.session_total) for r in map(stored, ids)] == [
        (price, sum(prices)) for price in prices]


def test_completion_pays_every_occurrence_once_whatever_follows(pay_api, users, stub):
    _, ids, session_id = series(pay_api, users, "orders")
    _, [completed] = stub.pay(session_id, "paid")
    expired = {**stub.events[completed], "id": "evt_late_expired", "type": "checkout.session.expired",
               "data": {"object": {**stub.events[completed]["data"]["object"], "status": "expired"}}}
    for event in (stub.events[completed], expired, stub.events[completed], expired):  # a late stale expiry too
        assert deliver(pay_api, event, SECRET).status_code == 200
    assert states(ids) == [(S.CONFIRMED, P.PAID)] * 3
    for request_id in ids:  # one paid entry each: duplicates wrote nothing
        audit = body_of(pay_api.http.get(f"/admin/service-requests/{request_id}/audit", headers=auth(users["admin"])))
        assert [e["action"] for e in audit["items"]].count("payment.paid") == 1


def test_the_expired_session_releases_every_occurrence_once(pay_api, users, stub):
    _, ids, session_id = series(pay_api, users, "expired-event")
    _, [expired] = stub.expire_session(session_id)
    for _ in range(2):
        assert deliver(pay_api, stub.events[expired], SECRET).status_code == 200
    assert states(ids) == [(S.EXPIRED, P.EXPIRED)] * 3
    assert sum(day_count(booking_day() + timedelta(weeks=w)) for w in range(3)) == 0


def test_hold_expiry_ends_the_session_once_and_releases_every_occurrence(pay_api, users, stub, app_container, gateway):
    _, ids, session_id = series(pay_api, users, "hold-expiry")
    calls = gateway.calls
    app_container.override(clock=lambda: stored(ids[0]).hold_expires_at + timedelta(minutes=1))
    summary = payments.expire_holds(app_container)
    assert (summary["due"], summary["expired"]) == (1, 3)  # the other two were ended with the first
    assert gateway.calls - calls == 1 and stub.sessions[session_id]["status"] == "expired"
    assert states(ids) == [(S.EXPIRED, P.EXPIRED)] * 3
    assert sum(day_count(booking_day() + timedelta(weeks=w)) for w in range(3)) == 0
    assert payments.expire_holds(app_container)["expired"] == 0  # nothing is released twice


def test_an_occurrence_cancelled_before_payment_leaves_the_session_to_the_others(pay_api, users, stub,
                                                                                app_container):
    _, ids, session_id = series(pay_api, users, "cancel-unpaid")
    assert cancel(pay_api, users["a"], ids[1]).status_code == 200
    app_container.override(clock=lambda: stored(ids[1]).updated_at + timedelta(seconds=1))
    payments.expire_holds(app_container)
    assert stub.sessions[session_id]["status"] == "open"  # the other two can still pay
    assert states(ids) == [(S.PENDING_PAYMENT, P.PENDING), (S.CANCELLED, P.EXPIRED), (S.PENDING_PAYMENT, P.PENDING)]
    _, [completed] = stub.pay(session_id, "paid")  # the session still asks for all three lines
    deliver(pay_api, stub.events[completed], SECRET)
    assert states(ids) == [(S.CONFIRMED, P.PAID), (S.CANCELLED, P.PAID), (S.CONFIRMED, P.PAID)]
    assert [n.kind for n in stored(ids[1]).payment.reconciliation_notes] == ["paid_after_release"]  # for an admin


def test_cancelling_one_paid_occurrence_refunds_only_its_line(pay_api, users, stub):
    ids, session_id = paid_series(pay_api, users, stub, "refund-one")
    share = stored(ids[1]).payment.amount
    answer = cancel(pay_api, users["a"], ids[1])
    assert answer.status_code == 200 and body_of(answer)["change"]["refund"] == share
    [refund] = stub.refunds.values()
    assert refund["amount"] == share and refund["payment_intent"] == stub.sessions[session_id]["payment_intent"]
    facts = events_of(stub, "charge.refunded", "refund.updated")
    for event in list(reversed(facts)) + facts:  # any order, each twice
        assert deliver(pay_api, event, SECRET).status_code == 200
    assert states(ids) == [(S.CONFIRMED, P.PAID), (S.CANCELLED, P.REFUNDED), (S.CONFIRMED, P.PAID)]

    assert cancel(pay_api, users["a"], ids[2]).status_code == 200  # the charge now reports two lines refunded
    for event in events_of(stub, "charge.refunded", "refund.updated"):
        deliver(pay_api, event, SECRET)
    assert states(ids) == [(S.CONFIRMED, P.PAID), (S.CANCELLED, P.REFUNDED), (S.CANCELLED, P.REFUNDED)]
    assert [r.payment.refunds[0].amount for r in map(stored, ids[1:])] == [share, stored(ids[2]).payment.amount]


def test_a_dashboard_refund_of_a_series_payment_is_flagged_not_spread(pay_api, users, stub):
    ids, session_id = paid_series(pay_api, users, stub, "dashboard")
    _, events = stub.refund_session(session_id, 3000)  # no metadata: nobody here asked for it
    for event_id in events:
        assert deliver(pay_api, stub.events[event_id], SECRET).status_code == 200
    reconcile = pay_api.http.post("/admin/jobs/reconcile", headers={**auth(users["admin"]),
                                                                     "Content-Type": "application/json"}, body="{}")
    assert reconcile.status_code == 200, reconcile.body
    assert states(ids) == [(S.CONFIRMED, P.PAID)] * 3
    notes = [n for r in map(stored, ids) for n in r.payment.reconciliation_notes if n.kind == "unattributed_refund"]
    assert len(notes) == 1 and notes[0].details["amount"] == 3000


def test_reconciliation_pays_every_occurrence_of_an_undelivered_completion(pay_api, users, stub):
    _, ids, session_id = series(pay_api, users, "reconcile")
    stub.pay(session_id, "paid")  # the webhook is never delivered
    run = pay_api.http.post("/admin/jobs/reconcile", headers={**auth(users["admin"]),
                                                               "Content-Type": "application/json"}, body="{}")
    assert run.status_code == 200, run.body
    assert states(ids) == [(S.CONFIRMED, P.PAID)] * 3


def test_stripe_down_at_booking_then_one_resume_opens_the_series_session(pay_api, users, stub, app_container,
                                                                        gateway):
    class Down:
        def __getattr__(self, name):
            return getattr(gateway, name)

        def create_series_checkout_session(self, **_):
            raise PaymentProviderUnavailable(retry_after=1)

    app_container.override(stripe=Down())
    answer = book_series(pay_api, users["a"], "down")
    app_container.override(stripe=gateway)
    body = body_of(answer)
    assert answer.status_code == 201 and body["checkoutUrl"] is None and body["paymentError"]
    ids = [item["id"] for item in body["items"]]
    resumed = pay_api.http.post(f"/portal/service-requests/{ids[2]}/checkout",
                                headers={**auth(users["a"]), "Content-Type": "application/json"}, body="{}")
    assert resumed.status_code == 200, resumed.body
    assert len(stub.sessions) == 1 and len({stored(i).payment.session_id for i in ids}) == 1
    assert body_of(resumed)["checkoutUrl"] == next(iter(stub.sessions.values()))["url"]


def test_a_completion_applied_halfway_is_finished_by_its_redelivery(pay_api, users, stub, app_container):
    from chalicelib.domain.payment import decide_paid
    from chalicelib.services.payments.transition import apply_transition
    _, ids, session_id = series(pay_api, users, "halfway")
    _, [completed] = stub.pay(session_id, "paid")
    event = stub.events[completed]
    # The process died after the first occurrence's write: the event's claim was taken over after its lease.
    apply_transition(app_container, ids[0], decide_paid(event["data"]["object"], completed, app_container.clock()),
                     "test")
    assert states(ids)[1:] == [(S.PENDING_PAYMENT, P.PENDING)] * 2
    assert body_of(deliver(pay_api, event, SECRET))["outcome"] == "changed"
    assert states(ids) == [(S.CONFIRMED, P.PAID)] * 3


def test_a_refund_event_before_the_series_completion_is_parked_then_attributed(pay_api, users, stub):
    _, ids, session_id = series(pay_api, users, "parked")
    _, [completed] = stub.pay(session_id, "paid")
    _, refund_events = stub.refund_session(session_id, 2500)  # from the dashboard, before completion arrives
    for event_id in refund_events:
        assert body_of(deliver(pay_api, stub.events[event_id], SECRET))["outcome"] == "parked"
    deliver(pay_api, stub.events[completed], SECRET)
    assert states(ids) == [(S.CONFIRMED, P.PAID)] * 3
    notes = [n for r in map(stored, ids) for n in r.payment.reconciliation_notes if n.kind == "unattributed_refund"]
    assert len(notes) == 1


def test_the_openapi_document_shows_the_series_checkout(pay_api):
    document = body_of(pay_api.http.get("/openapi.json"))
    series_out = document["components"]["schemas"]["SeriesBookingOut"]["properties"]
    assert {"checkoutUrl", "holdExpiresAt", "paymentError"} <= set(series_out)


class Killed(BaseException):
    """The process dies (not an error any handler would catch)."""


def test_a_crash_after_stripe_opened_the_series_session_never_opens_a_second(pay_api, users, stub, app_container,
                                                                           gateway, settings):
    class DiesAfterStripe:
        def __getattr__(self, name):
            return getattr(gateway, name)

        def create_series_checkout_session(self, **kwargs):
            gateway.create_series_checkout_session(**kwargs)
            raise Killed

    app_container.override(stripe=DiesAfterStripe())
    try:
        book_series(pay_api, users["a"], "crash")
    except Killed:
        pass
    app_container.override(stripe=gateway)
    assert len(stub.sessions) == 1
    expire_idempotency_records(settings)  # the dead invocation's in-progress record ran out
    retried = book_series(pay_api, users["a"], "crash")  # the client's retry of the same submission
    assert retried.status_code == 201, retried.body
    [session_id] = stub.sessions
    body = body_of(retried)
    assert body["checkoutUrl"] == stub.sessions[session_id]["url"]
    assert {stored(item["id"]).payment.session_id for item in body["items"]} == {session_id}


def test_reconciliation_leaves_the_series_session_open_for_the_occurrences_still_waiting(pay_api, users, stub):
    _, ids, session_id = series(pay_api, users, "reconcile-cancelled")
    assert cancel(pay_api, users["a"], ids[0]).status_code == 200  # before the hold job saw it
    run = pay_api.http.post("/admin/jobs/reconcile", headers={**auth(users["admin"]),
                                                               "Content-Type": "application/json"}, body="{}")
    assert run.status_code == 200, run.body
    assert stub.sessions[session_id]["status"] == "open"
    assert states(ids) == [(S.CANCELLED, P.EXPIRED), (S.PENDING_PAYMENT, P.PENDING), (S.PENDING_PAYMENT, P.PENDING)]


def test_cancelling_the_whole_paid_series_refunds_each_line_once(pay_api, users, stub):
    ids, _ = paid_series(pay_api, users, stub, "cancel-all")
    series_id = stored(ids[0]).series_id
    answer = pay_api.http.post(f"/portal/series/{series_id}/cancel", body=json.dumps({"reason": "moving"}),
                               headers={**auth(users["a"]), "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.body
    assert sorted(r["metadata"]["serviceRequestId"] for r in stub.refunds.values()) == sorted(ids)
    for event in reversed(events_of(stub, "charge.refunded", "refund.updated")):
        deliver(pay_api, event, SECRET)
    assert states(ids) == [(S.CANCELLED, P.REFUNDED)] * 3
    assert [r.payment.refunds[0].amount for r in map(stored, ids)] == [r.payment.amount for r in map(stored, ids)]
