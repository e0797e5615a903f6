"""Disputes (domain/disputes.py): one note per dispute at the latest stage Stripe reported; open while the business
must act (evidence due, under review, lost), resolved by the outcome when won; every order of the events, and
every repetition, ends with the same note. Pure domain."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from chalicelib.adapters.dynamodb.job_keys import job_index_attributes
from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentStatus, Status
from chalicelib.domain.disputes import KIND, decide_dispute
from chalicelib.domain.errors import NothingToResolve
from chalicelib.domain.notes import notes_resolved
from tests.unit.test_payments_transitions import NOW, card_request

LATER = NOW + timedelta(hours=3)
DUE = int((NOW + timedelta(days=7)).timestamp())


def paid():
    request = card_request().with_changes(status=Status.CONFIRMED, payment_status=PaymentStatus.PAID)
    return request.with_changes(payment=request.payment.with_changes(paid_session_id="cs_paid",
                                                                      payment_intent_id="pi_1"))


def dispute(status: str, dispute_id: str = "dp_1", **extra) -> dict:
    """A Dispute in Stripe's shape (metadata empty, as Stripe sends it)."""
    return {"id": dispute_id, "object": "dispute", "amount": 12500, "currency": "usd", "charge": "ch_1",
            "payment_intent": "pi_1", "reason": "fraudulent", "status": status, "metadata": {},
            "evidence_details": {"due_by": DUE, "has_evidence": False, "past_due": False, "submission_count": 0},
            **extra}


def apply(request, *disputes, event_prefix: str = "evt"):
    for i, reported in enumerate(disputes):
        change = decide_dispute(reported, f"{event_prefix}_{i}", LATER)(request)
        request = change.new if change is not None else request
    return request


def notes(request) -> list:
    return [n for n in request.payment.reconciliation_notes if n.kind == KIND]


def test_an_opened_dispute_flags_the_request_with_what_the_admin_needs():
    request = paid()
    change = decide_dispute(dispute("needs_response"), "evt_1", LATER)(request)
    assert change.action == "payment.dispute_opened"
    [note] = notes(change.new)
    assert note.is_open and note.at == LATER and note.session_id == "cs_paid"
    assert dict(note.details) == {"disputeId": "dp_1", "status": "needs_response", "amount": 12500,
                                  "currency": "USD", "reason": "fraudulent", "chargeId": "ch_1",
                                  "dueBy": codec.iso_utc(NOW + timedelta(days=7))}
    assert job_index_attributes(change.new)["flaggedKey"] is not None
    # the payment itself is untouched: a dispute is not a refund
    assert change.new.payment_status is PaymentStatus.PAID and change.new.status is Status.CONFIRMED
    assert change.new.payment.last_event_id == "evt_1"


def test_the_same_report_twice_changes_nothing():
    request = apply(paid(), dispute("needs_response"))
    assert decide_dispute(dispute("needs_response"), "evt_again", LATER)(request) is None


def test_a_won_dispute_resolves_its_note_and_unflags():
    request = apply(paid(), dispute("needs_response"), dispute("under_review"), dispute("won"))
    [note] = notes(request)
    assert note.details["status"] == "won" and not note.is_open and note.resolved_by == "stripe"
    assert job_index_attributes(request)["flaggedKey"] is None


def test_a_lost_dispute_stays_flagged_and_reopens_a_note_an_admin_resolved():
    request = apply(paid(), dispute("needs_response"))
    request = notes_resolved(request, frozenset({KIND}), "admin:boss", LATER, "evidence sent").new
    assert job_index_attributes(request)["flaggedKey"] is None
    under_review = apply(request, dispute("under_review"))
    assert not notes(under_review)[0].is_open  # still the admin's resolution: nothing new to do
    lost = apply(under_review, dispute("lost"))
    [note] = notes(lost)
    assert note.details["status"] == "lost" and note.is_open and note.resolved_by is None
    assert job_index_attributes(lost)["flaggedKey"] is not None


def test_an_inquiry_that_becomes_a_chargeback_moves_on_and_an_older_report_does_not_move_it_back():
    request = apply(paid(), dispute("warning_needs_response"), dispute("needs_response"))
    assert notes(request)[0].details["status"] == "needs_response"
    assert decide_dispute(dispute("warning_under_review"), "evt_old", LATER)(request) is None


def test_a_closed_dispute_is_final():
    request = apply(paid(), dispute("lost"))
    assert decide_dispute(dispute("won"), "evt_late", LATER)(request) is None
    assert decide_dispute(dispute("needs_response"), "evt_older", LATER)(request) is None


def test_every_order_and_repetition_of_a_disputes_events_ends_with_the_same_note():
    for outcome in ("won", "lost"):
        events = [dispute("needs_response"), dispute("needs_response"), dispute("under_review"), dispute(outcome)]
        finals = set()
        for order in itertools.permutations(events):
            [note] = notes(apply(paid(), *order, *order))
            finals.add((note.details["status"], note.is_open))
        assert finals == {(outcome, outcome == "lost")}


def test_two_disputes_on_one_payment_are_two_notes():
    request = apply(paid(), dispute("needs_response", "dp_1"), dispute("needs_response", "dp_2"),
                    dispute("won", "dp_1"))
    assert {(n.details["disputeId"], n.is_open) for n in notes(request)} == {("dp_1", False), ("dp_2", True)}
    assert job_index_attributes(request)["flaggedKey"] is not None


def test_hostile_or_odd_fields_are_bounded_or_dropped():
    request = paid()
    assert decide_dispute({"object": "dispute", "status": "lost"}, "evt_x", LATER)(request) is None  # no id
    assert decide_dispute(dispute("lost", "dp_" + "x" * 300), "evt_x", LATER)(request) is None
    odd = dispute("some_new_status", amount="12", reason="r" * 500,
                  evidence_details={"due_by": 10 ** 15})
    [note] = notes(decide_dispute(odd, "evt_x", LATER)(request).new)
    assert note.is_open and note.details["amount"] is None and note.details["dueBy"] is None
    assert len(note.details["reason"]) == 64
    # an unknown status counts as an open dispute: a known later stage moves past it
    assert notes(apply(decide_dispute(odd, "evt_x", LATER)(request).new, dispute("won")))[0].details["status"] \
        == "won"


def test_the_note_survives_storage():
    request = apply(paid(), dispute("needs_response"))
    stored = codec.request_from_doc(codec.request_to_doc(request))
    assert notes(stored) == notes(request)


def test_the_readme_names_every_event_the_webhook_handles():
    """Deployers subscribe Stripe's endpoint to the README's list: an event missing there is never sent."""
    import re

    from chalicelib.services.payments.webhooks import HANDLERS
    from devtools.processes import PROJECT_DIR

    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Stripe's webhook endpoint**"):]
    section = section[:section.index("\n\n")]
    assert set(re.findall(r"`([a-z_.]+\.[a-z_.]+)`", section)) - {"payments/stripe/webhook"} == set(HANDLERS)


def test_notes_have_ids_and_one_of_two_disputes_is_resolved_by_its_id():
    request = apply(paid(), dispute("needs_response", "dp_1"), dispute("needs_response", "dp_2"))
    assert [n.id for n in notes(request)] == ["dispute:dp_1", "dispute:dp_2"]
    change = notes_resolved(request, None, "admin:boss", LATER, "evidence sent", frozenset({"dispute:dp_2"}))
    assert {(n.id, n.is_open) for n in notes(change.new)} == {("dispute:dp_1", True), ("dispute:dp_2", False)}
    with pytest.raises(NothingToResolve) as nothing:  # already resolved, or no such note: nothing written
        notes_resolved(change.new, None, "admin:boss", LATER, "again", frozenset({"dispute:dp_2", "dispute:dp_9"}))
    assert nothing.value.details["openIds"] == ["dispute:dp_1"]
