"""A card total above 0 but below Stripe's smallest card charge (USD 0.50; a 99.7 % promotion on a 100.00
service) cannot be paid: booking and the confirmation step answer 422 CARD_AMOUNT_TOO_SMALL and nothing is
written, instead of holding a slot whose Checkout Session Stripe refuses until the hold lapses. Cash has no
minimum; a card series is checked on its sum (one Checkout Session), and rolled back whole when short."""
from __future__ import annotations

import json

from chalicelib.domain.booking import PaymentStatus, Status
from tests.integration.conftest import auth
from tests.integration.payments_support import (body_of, book, booking_day, day_count, gateway, pay_api,  # noqa: F401
                                                pay_catalog, stored, stub, users)
from tests.integration.test_series_card import book_series, states

P, S = PaymentStatus, Status


def rule(pay_api, users, basis_points: int) -> None:
    doc = {"id": f"deep-{basis_points}", "kind": "percent", "value": basis_points, "serviceIds": ["svc"]}
    answer = pay_api.http.post("/admin/promo-rules", body=json.dumps(doc),
                               headers={**auth(users["admin"]), "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.body


def own_requests(pay_api, token) -> list[dict]:
    answer = pay_api.http.get("/portal/service-requests", headers=auth(token))
    assert answer.status_code == 200, answer.body
    return body_of(answer)["items"]


def test_a_card_booking_below_the_card_minimum_is_refused_before_anything_is_written(pay_api, users, stub):
    rule(pay_api, users, 9970)  # 100.00 -> 0.30
    before = day_count(booking_day())
    answer = book(pay_api, users["a"], "tiny-1", 9)
    assert answer.status_code == 422, answer.body
    error = body_of(answer)["error"]
    assert error["code"] == "CARD_AMOUNT_TOO_SMALL"
    assert error["details"] == {"amount": 30, "currency": "USD", "minimum": 50}
    assert own_requests(pay_api, users["a"]) == [] and day_count(booking_day()) == before
    assert stub.sessions == {}
    # the same key again gets the same answer (a deterministic 4xx), and still writes nothing
    again = book(pay_api, users["a"], "tiny-1", 9)
    assert (again.status_code, body_of(again)["error"]["code"]) == (422, "CARD_AMOUNT_TOO_SMALL")
    assert own_requests(pay_api, users["a"]) == []


def test_the_confirmation_step_says_so_and_cash_is_fine(pay_api, users, stub):
    rule(pay_api, users, 9970)
    start = (booking_day().replace(hour=10)).isoformat()
    body = {"serviceId": "svc", "start": start, "paymentMethod": "CARD", "postalCode": "10001"}
    checked = pay_api.http.post("/portal/service-requests/validate", body=json.dumps(body),
                                headers={**auth(users["a"]), "Content-Type": "application/json"})
    assert checked.status_code == 422, checked.body
    assert body_of(checked)["error"]["code"] == "CARD_AMOUNT_TOO_SMALL"
    cash = book(pay_api, users["a"], "tiny-cash", 10, method="COD")
    assert cash.status_code == 201, cash.body
    assert body_of(cash)["price"]["total"] == 30 and body_of(cash)["status"] == "CONFIRMED"


def test_a_card_series_is_checked_on_its_sum(pay_api, users, stub):
    rule(pay_api, users, 9990)  # 0.10 an occurrence
    short = book_series(pay_api, users["a"], "tiny-series", count=3)  # 0.30 in all: below 0.50
    assert short.status_code == 422, short.body
    assert body_of(short)["error"]["details"]["amount"] == 30
    assert [r for r in own_requests(pay_api, users["a"]) if r["status"] not in ("CANCELLED",)] == []
    assert stub.sessions == {}

    enough = book_series(pay_api, users["a"], "tiny-series-6", count=6, hour=11)  # 0.60 in all
    assert enough.status_code == 201, enough.body
    ids = [item["id"] for item in body_of(enough)["items"]]
    assert states(ids) == [(S.PENDING_PAYMENT, P.PENDING)] * 6
    [session] = stub.sessions.values()
    assert session["amount_total"] == 60
