"""A series paid with one Checkout Session: each occurrence's payment is its line of a shared PaymentIntent. The
session's total is what Stripe must report paid; the charge's refunded amount (all lines together) never decides
one occurrence's state; only refunds attributed to an occurrence count for it, in any order and repeated; a
refund of the shared PaymentIntent attributed to no occurrence is flagged, never guessed."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.payment import Payment, decide_paid
from chalicelib.domain.refunds import decide_refund_facts, decide_refund_sent, with_requested_refund

START = datetime(2030, 3, 4, 15, 0, tzinfo=timezone.utc)
P, S = PaymentStatus, Status
SHARE, TOTAL = 4000, 12000  # three weekly occurrences of 4000, one session of 12000


def occurrence(request_id: str, status=P.PAID) -> ServiceRequest:
    placement = Placement("t", "m", START, START + timedelta(hours=1), "2030-03-04", "UTC")
    return ServiceRequest(request_id, "u", "svc", placement, S.CONFIRMED if status is P.PAID else S.PENDING_PAYMENT,
                          status, PaymentMethod.CARD, {"total": SHARE, "currency": "USD"}, START, START,
                          series_id="ser_1",
                          payment=Payment(session_id="cs", amount=SHARE, currency="USD", session_total=TOTAL,
                                          payment_intent_id="pi" if status is P.PAID else None))


def refund(rid: str, named: str | None, status: str = "succeeded", attempt: str = "1") -> dict:
    metadata = {"serviceRequestId": named, "refundAttempt": attempt} if named else {}
    return {"id": rid, "object": "refund", "amount": SHARE, "status": status, "payment_intent": "pi",
            "metadata": metadata}


CHARGE_ONE_LINE = {"id": "ch", "object": "charge", "amount_refunded": SHARE, "payment_intent": "pi", "metadata": {}}
CHARGE_ALL = {**CHARGE_ONE_LINE, "amount_refunded": TOTAL}


def apply_all(request: ServiceRequest, facts) -> ServiceRequest:
    for charge, refund_ in facts:
        change = decide_refund_facts(charge, refund_, "evt", START)(request)
        request = change.new if change else request
    return request


def test_the_session_total_is_what_must_be_paid():
    session = {"id": "cs", "amount_total": TOTAL, "currency": "usd", "payment_intent": "pi", "payment_status": "paid"}
    paid = decide_paid(session, "evt", START)(occurrence("sr_a", P.PENDING))
    assert paid.new.payment_status is P.PAID and paid.new.payment.amount == SHARE
    short = decide_paid({**session, "amount_total": SHARE}, "evt", START)(occurrence("sr_a", P.PENDING))
    assert short.new.payment_status is P.PENDING and short.action == "payment.mismatch_flagged"


def test_the_shared_charge_never_marks_an_occurrence_refunded():
    for charge in (CHARGE_ONE_LINE, CHARGE_ALL):
        after = apply_all(occurrence("sr_a"), [(charge, None)])
        assert after.payment_status is P.PAID and after.payment.amount_refunded is None


def test_another_occurrences_refund_changes_nothing_here():
    assert decide_refund_facts(None, refund("re_b", "sr_b"), "evt", START)(occurrence("sr_a")) is None


def test_an_occurrences_own_refund_in_any_order_and_repeated_gives_one_state():
    requested = with_requested_refund(occurrence("sr_b"), SHARE, "cancelled")
    facts = [(CHARGE_ONE_LINE, None), (CHARGE_ALL, None), (None, refund("re_b", "sr_b", "pending")),
             (None, refund("re_b", "sr_b"))]
    finals = {(final.payment_status, tuple((r.id, r.status) for r in final.payment.refunds))
              for order in itertools.permutations(facts)
              for final in [apply_all(requested, list(order) * 2)]}
    assert finals == {(P.REFUNDED, (("re_b", "succeeded"),))}


def test_attempt_numbers_of_other_occurrences_do_not_match_this_ones_requested_refund():
    mine = with_requested_refund(occurrence("sr_a"), SHARE, "cancelled")  # attempt 1, not sent yet
    assert decide_refund_facts(None, refund("re_b", "sr_b"), "evt", START)(mine) is None
    assert decide_refund_sent(refund("re_b", "sr_b"))(mine) is None
    sent = decide_refund_sent(refund("re_a", "sr_a", "pending"))(mine).new
    assert [(r.id, r.attempt) for r in sent.payment.refunds] == [("re_a", 1)]


def test_a_refund_recorded_by_id_counts_even_when_its_event_lacks_metadata():
    sent = decide_refund_sent(refund("re_a", "sr_a", "pending"))(with_requested_refund(occurrence("sr_a"), SHARE,
                                                                                      "cancelled")).new
    final = apply_all(sent, [(None, refund("re_a", None))])
    assert final.payment_status is P.REFUNDED


def test_an_unattributed_refund_is_flagged_once_and_changes_no_state():
    dashboard = {**refund("re_x", None), "amount": 3000}
    final = apply_all(occurrence("sr_a"), [(None, dashboard), (CHARGE_ONE_LINE, None), (None, dashboard)])
    assert final.payment_status is P.PAID and final.payment.refunds == ()
    notes = [n for n in final.payment.reconciliation_notes if n.kind == "unattributed_refund"]
    assert [(n.details["refundId"], n.details["amount"]) for n in notes] == [("re_x", 3000)]
    assert decide_refund_facts(None, dashboard, "evt", START)(final) is None  # flagged once


def test_a_single_bookings_payment_still_follows_its_charge():
    single = occurrence("sr_a").with_changes(payment=Payment(amount=SHARE, currency="USD", payment_intent_id="pi"))
    assert apply_all(single, [({**CHARGE_ONE_LINE}, None)]).payment_status is P.REFUNDED


def test_revenue_counts_an_occurrences_refund_once_and_not_the_shared_charges_total():
    from chalicelib.domain.revenue import flows
    requested = with_requested_refund(occurrence("sr_b"), SHARE, "cancelled")
    charged = apply_all(requested, [(CHARGE_ALL, None)])
    assert [f for f in flows(requested, charged) if f.kind == "refunded"] == []
    refunded = apply_all(charged, [(None, refund("re_b", "sr_b"))])
    assert [f.amount for f in flows(charged, refunded) if f.kind == "refunded"] == [SHARE]
    assert [f for f in flows(refunded, apply_all(refunded, [(CHARGE_ALL, None)])) if f.kind == "refunded"] == []
