"""Cancellation terms at the window's edge, and refund states derived from facts in any order."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.payment import Payment
from chalicelib.domain.refunds import decide_refund_facts, decide_refund_requested, refundable, with_requested_refund
from chalicelib.domain.terms import CancellationTerms, assess, terms_from_doc, terms_to_doc

START = datetime(2030, 3, 4, 15, 0, tzinfo=timezone.utc)
P = PaymentStatus


def test_the_free_window_ends_exactly_n_hours_before_start():
    terms = CancellationTerms(free_until_hours=24, late_policy="percent", late_fee=30)
    free = assess(terms, START, START - timedelta(hours=24, seconds=1), 10000, "USD")
    late = assess(terms, START, START - timedelta(hours=24), 10000, "USD")
    assert (free.late, free.fee, free.refund) == (False, 0, 10000)
    assert (late.late, late.fee, late.refund) == (True, 3000, 7000)


@pytest.mark.parametrize("fee,paid,kept", [(3000, 10000, 3000), (3000, 1000, 1000), (3000, 0, 0)])
def test_a_fixed_fee_never_exceeds_what_was_paid(fee, paid, kept):
    a = assess(CancellationTerms(0, "fixed", fee), START, START, paid, "USD")
    assert (a.fee, a.refund) == (kept, paid - kept)


def test_not_allowed_inside_the_window_refunds_nothing():
    a = assess(CancellationTerms(48, "not_allowed", 0), START, START - timedelta(hours=1), 10000, "USD")
    assert (a.allowed, a.refund) == (False, 0)


@pytest.mark.parametrize("bad", [dict(late_policy="sometimes"), dict(late_fee=-1), dict(late_fee=101),
                                 dict(free_until_hours=-2)])
def test_impossible_terms_are_refused(bad):
    with pytest.raises(ValueError):
        CancellationTerms(**bad)


def test_terms_round_trip_and_old_services_get_the_defaults():
    terms = CancellationTerms(6, "fixed", 2500, 1000)
    assert terms_from_doc(terms_to_doc(terms)) == terms
    assert terms_from_doc(None) == CancellationTerms()


def paid_request(**payment) -> ServiceRequest:
    placement = Placement("t", "m", START, START + timedelta(hours=1), "2030-03-04", "UTC")
    return ServiceRequest("sr", "u", "svc", placement, Status.CONFIRMED, P.PAID, PaymentMethod.CARD,
                          {"total": {"amount": 10000, "currency": "USD"}}, START, START,
                          payment=Payment(amount=10000, currency="USD", payment_intent_id="pi", **payment))


CHARGE_PARTIAL = {"id": "ch", "object": "charge", "amount_refunded": 4000, "refunded": False, "payment_intent": "pi",
                  "metadata": {}}
CHARGE_FULL = {**CHARGE_PARTIAL, "amount_refunded": 10000, "refunded": True}
R1 = {"id": "re_1", "object": "refund", "amount": 4000, "status": "succeeded", "payment_intent": "pi",
      "metadata": {"serviceRequestId": "sr", "refundAttempt": "1"}}
R1_PENDING = {**R1, "status": "pending"}
R2 = {"id": "re_2", "object": "refund", "amount": 6000, "status": "succeeded", "payment_intent": "pi",
      "metadata": {}}


def apply_all(request: ServiceRequest, facts) -> ServiceRequest:
    for charge, refund in facts:
        change = decide_refund_facts(charge, refund, "evt", START)(request)
        request = change.new if change else request
    return request


def test_every_order_of_every_fact_gives_one_final_state():
    facts = [(CHARGE_PARTIAL, None), (None, R1_PENDING), (None, R1), (CHARGE_FULL, None), (None, R2)]
    finals = set()
    for order in itertools.permutations(facts):
        final = apply_all(paid_request(), list(order) + list(order))
        finals.add((final.payment_status, final.payment.amount_refunded,
                    tuple(sorted((r.id, r.status) for r in final.payment.refunds))))
    assert finals == {(P.REFUNDED, 10000, (("re_1", "succeeded"), ("re_2", "succeeded")))}


def test_a_pending_refund_never_overwrites_a_succeeded_one():
    final = apply_all(paid_request(), [(None, R1), (None, R1_PENDING)])
    assert [r.status for r in final.payment.refunds] == ["succeeded"]
    assert final.payment_status is P.PARTIALLY_REFUNDED


def test_a_requested_refund_is_pending_until_its_event_and_is_matched_by_attempt_before_its_id():
    requested = with_requested_refund(paid_request(), 4000, "cancelled")
    assert requested.payment_status is P.REFUND_PENDING and refundable(requested) == 6000
    final = apply_all(requested, [(None, R1)])  # the event came before the id was recorded
    assert [(r.id, r.status, r.attempt) for r in final.payment.refunds] == [("re_1", "succeeded", 1)]
    assert final.payment_status is P.PARTIALLY_REFUNDED


def test_a_failed_refund_is_flagged_once_and_the_money_state_goes_back():
    requested = with_requested_refund(paid_request(), 4000, "cancelled")
    failed = {**R1, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    final = apply_all(requested, [(None, failed), (None, failed), (CHARGE_PARTIAL, None)])
    assert final.payment_status is P.PAID
    assert [n.kind for n in final.payment.reconciliation_notes] == ["refund_failed"]


def test_an_admin_cannot_refund_more_than_is_left():
    requested = with_requested_refund(paid_request(), 4000, "cancelled")
    with pytest.raises(Exception) as raised:
        decide_refund_requested(6001, "too much")(requested)
    assert raised.value.code == "INVALID_STATE"
    assert decide_refund_requested(6000, "rest")(requested).new.payment_status is P.REFUND_PENDING


def test_cash_and_unpaid_requests_ignore_refund_events():
    cash = paid_request().with_changes(payment_status=P.COD_DUE, payment_method=PaymentMethod.COD)
    assert decide_refund_facts(CHARGE_FULL, None, "evt", START)(cash) is None
