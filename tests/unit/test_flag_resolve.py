"""Resolving reconciliation notes: the chosen open notes are marked resolved (never removed), the request is
flagged (flaggedKey) exactly while an open note remains, stored notes without the new fields read as open, and a
later note flags it again. Pure domain and in-memory fakes."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.dynamodb.job_keys import FLAGGED_PARTITION, job_index_attributes
from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentStatus, Status
from chalicelib.domain.errors import ConcurrentUpdate, NothingToResolve, NotFound
from chalicelib.domain.notes import notes_resolved
from chalicelib.domain.payment import ReconciliationNote
from chalicelib.domain.refunds import decide_refund_refused, with_requested_refund
from chalicelib.domain.principal import Principal
from chalicelib.services import flags
from chalicelib.services.ports import StaleRevision
from tests.unit.test_payments_transitions import NOW, card_request, make_deps

LATER = NOW + timedelta(hours=2)
ADMIN = Principal("boss", groups=("admin",))


def flagged(*kinds: str):
    request = card_request().with_changes(status=Status.CONFIRMED, payment_status=PaymentStatus.PAID)
    notes = tuple(ReconciliationNote(kind, f"cs_{i}", NOW, {"n": i}) for i, kind in enumerate(kinds))
    return request.with_changes(payment=request.payment.with_changes(reconciliation_notes=notes))


def flagged_key(request) -> str | None:
    return job_index_attributes(request)["flaggedKey"]


def test_resolving_every_open_note_keeps_them_and_unflags():
    request = flagged("amount_mismatch", "refund_refused")
    change = notes_resolved(request, None, "admin:boss", LATER, "settled by phone")
    notes = change.new.payment.reconciliation_notes
    assert [n.kind for n in notes] == ["amount_mismatch", "refund_refused"]  # history kept, in order
    assert all(not n.is_open and n.resolved_at == LATER and n.resolved_by == "admin:boss"
               and n.resolution == "settled by phone" for n in notes)
    assert [n.details for n in notes] == [{"n": 0}, {"n": 1}]
    assert change.action == "payment.notes_resolved" and change.reason == "settled by phone"
    assert flagged_key(request) == FLAGGED_PARTITION and flagged_key(change.new) is None


def test_resolving_some_kinds_leaves_the_request_flagged_by_the_rest():
    request = flagged("amount_mismatch", "refund_refused", "refund_refused")
    new = notes_resolved(request, frozenset({"refund_refused"}), "admin:boss", LATER, "retried").new
    assert [n.is_open for n in new.payment.reconciliation_notes] == [True, False, False]
    assert [n.kind for n in new.payment.open_notes] == ["amount_mismatch"]
    assert flagged_key(new) == FLAGGED_PARTITION


def test_nothing_open_of_those_kinds_raises_and_names_what_is_open():
    request = flagged("amount_mismatch")
    with pytest.raises(NothingToResolve) as caught:
        notes_resolved(request, frozenset({"refund_failed"}), "admin:boss", LATER, "x")
    assert caught.value.details["openKinds"] == ["amount_mismatch"]
    done = notes_resolved(request, None, "admin:boss", LATER, "x").new
    with pytest.raises(NothingToResolve):
        notes_resolved(done, None, "admin:boss", LATER, "again")
    with pytest.raises(NothingToResolve):
        notes_resolved(flagged(), None, "admin:boss", LATER, "none at all")


def test_old_stored_notes_read_open_and_resolved_ones_round_trip():
    old = {"kind": "paid_not_in_stripe", "sessionId": "cs_1", "at": codec.iso_utc(NOW), "stripeStatus": "open"}
    [note] = codec.payment_from_doc({"reconciliationNotes": [old]}).reconciliation_notes
    assert note.is_open and note.details == {"stripeStatus": "open"}
    assert codec.note_to_doc(note) == old  # an open note is stored as before
    resolved = notes_resolved(flagged("refund_failed"), None, "admin:boss", LATER, "why").new.payment
    doc = codec.payment_to_doc(resolved)
    assert doc["reconciliationNotes"][0]["resolvedAt"] == codec.iso_utc(LATER)
    back = codec.payment_from_doc(doc)
    assert back.reconciliation_notes == resolved.reconciliation_notes
    assert back.reconciliation_notes[0].details == {"n": 0}  # the resolution is not taken for details


def test_a_later_note_flags_again_and_the_same_fact_does_not():
    request = with_requested_refund(flagged("paid_not_in_stripe").with_changes(
        status=Status.CANCELLED), 5000, "cancelled")
    resolved = notes_resolved(request, None, "admin:boss", LATER, "checked").new
    same_fact = ReconciliationNote("paid_not_in_stripe", "cs_0", LATER, {})
    assert resolved.payment.with_note(same_fact) is None  # a resolved fact is not raised again
    refusal = decide_refund_refused(1, {"providerCode": "charge_disputed"}, LATER)(resolved)
    assert refusal is not None
    assert [n.kind for n in refusal.new.payment.open_notes] == ["refund_refused"]
    assert flagged_key(refusal.new) == FLAGGED_PARTITION


def test_the_service_writes_once_with_its_audit_entry_and_a_repeat_writes_nothing():
    deps = make_deps()
    deps.requests.put(flagged("amount_mismatch"))
    saved = flags.resolve_notes(deps, ADMIN, "sr_1", None, "refunded by hand")
    assert deps.requests.get("sr_1").payment.open_notes == () and saved.payment.open_notes == ()
    entries = deps.audit.for_entity("SR#sr_1")
    assert [e["action"] for e in entries] == ["payment.notes_resolved"]
    assert entries[0]["actor"] == ADMIN.actor and entries[0]["reason"] == "refunded by hand"
    with pytest.raises(NothingToResolve):
        flags.resolve_notes(deps, ADMIN, "sr_1", None, "refunded by hand")
    assert len(deps.audit.for_entity("SR#sr_1")) == 1
    with pytest.raises(NotFound):
        flags.resolve_notes(deps, ADMIN, "sr_nope", None, "x")


def test_a_lost_race_is_a_concurrent_update_and_is_not_retried():
    deps = make_deps()
    deps.requests.put(flagged("amount_mismatch"))
    calls = []

    def stale(old, new, extra=()):
        calls.append(new)
        raise StaleRevision()

    deps.requests.save = stale
    with pytest.raises(ConcurrentUpdate):
        flags.resolve_notes(deps, ADMIN, "sr_1", None, "x")
    assert len(calls) == 1 and deps.requests.get("sr_1").payment.open_notes  # nothing resolved


def test_each_kind_of_note_has_an_id_unique_in_its_request():
    note = ReconciliationNote
    assert note("amount_mismatch", "cs_1", NOW).id == "amount_mismatch:cs_1"
    assert note("refund_failed", "cs_1", NOW, {"refundId": "re_1"}).id == "refund_failed:re_1"
    assert note("refund_refused", "cs_1", NOW, {"attempt": 2, "providerCode": "x"}).id == "refund_refused:2"
    assert note("dispute", "cs_1", NOW, {"disputeId": "dp_1", "chargeId": "ch_1"}).id == "dispute:dp_1"
    assert note("paid_not_in_stripe", None, NOW).id == "paid_not_in_stripe:-"
