"""POST /admin/service-requests/{id}/flags/resolve against moto through chalice.test.Client: resolved notes stay
in the request's history, the request leaves GET /admin/reconciliation/flagged only when no note is open, a later
note flags it again, the change and its audit entry are written once, and a race with a refund refusal loses no
note whichever write lands first."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.integration.test_admin_catalog_services import audit_of, call
from tests.integration.test_admin_lists import T0, make_request, write_requests
from tests.integration.test_booking_api import NOW, api, small_catalog, users  # noqa: F401

REASON = {"reason": "checked against the bank statement"}


def path(request_id: str) -> str:
    return f"/admin/service-requests/{request_id}/flags/resolve"


def flagged_request(number: int, *kinds: str):
    """A paid card request with one open note per kind and a refund attempt 1 still `requested` (for a refusal)."""
    from chalicelib.domain.booking import PaymentMethod
    from chalicelib.domain.payment import ReconciliationNote
    from chalicelib.domain.refunds import with_requested_refund

    request = make_request(number, "t1", "CANCELLED", "PAID", T0 + timedelta(hours=number))
    notes = tuple(ReconciliationNote(kind, f"cs_{number}", T0, {"i": i}) for i, kind in enumerate(kinds))
    payment = replace(request.payment, amount=100, currency="USD", reconciliation_notes=notes)
    request = replace(request, payment_method=PaymentMethod.CARD, payment=payment)
    return with_requested_refund(request, 100, "cancelled")


def stored(request_id: str):
    from chalicelib.bootstrap import container
    return container().requests.get(request_id)


def flagged_list(api, users) -> dict[str, list[tuple[str, bool]]]:
    status, page = call(api, users["admin"], "get", "/admin/reconciliation/flagged")
    assert status == 200
    return {r["id"]: [(n["kind"], n["open"]) for n in r["reconciliationNotes"]] for r in page["items"]}


def resolutions(request_id: str) -> list[dict]:
    return [e for e in audit_of(f"SR#{request_id}") if e["action"] == "payment.notes_resolved"]


def refuse_refund(request_id: str):
    """A refund refusal as the payment code applies it (read, decide, conditional write, retried on a lost race)."""
    from chalicelib.bootstrap import container
    from chalicelib.domain.refunds import decide_refund_refused
    from chalicelib.services.payments.transition import apply_transition
    return apply_transition(container(), request_id, decide_refund_refused(1, {"providerCode": "charge_disputed"},
                                                                           NOW), "system:stripe")


def test_resolving_all_leaves_the_list_keeps_the_history_and_a_repeat_writes_nothing(api, users):
    write_requests([flagged_request(1, "amount_mismatch", "paid_not_in_stripe"), flagged_request(2, "refund_failed")])
    assert set(flagged_list(api, users)) == {"sr_00001", "sr_00002"}
    status, body = call(api, users["admin"], "post", path("sr_00001"), REASON)
    assert status == 200, body
    assert [(n["kind"], n["open"], n["resolution"], n["resolvedAt"]) for n in body["reconciliationNotes"]] == [
        (kind, False, REASON["reason"], body["updatedAt"]) for kind in ("amount_mismatch", "paid_not_in_stripe")]
    assert flagged_list(api, users) == {"sr_00002": [("refund_failed", True)]}
    notes = stored("sr_00001").payment.reconciliation_notes
    assert [(n.kind, n.is_open, n.details) for n in notes] == [("amount_mismatch", False, {"i": 0}),
                                                              ("paid_not_in_stripe", False, {"i": 1})]
    assert {n.resolved_at for n in notes} == {NOW}  # the injected clock
    [entry] = resolutions("sr_00001")
    assert entry["reason"] == REASON["reason"] and entry["actor"] == notes[0].resolved_by
    assert "boss" in entry["actor"]  # the admin principal
    revision = stored("sr_00001").revision
    status, body = call(api, users["admin"], "post", path("sr_00001"), REASON)
    assert (status, body["error"]["code"]) == (409, "NOTHING_TO_RESOLVE")
    assert len(resolutions("sr_00001")) == 1 and stored("sr_00001").revision == revision


def test_a_partial_resolve_stays_flagged_and_a_later_note_flags_again(api, users):
    write_requests([flagged_request(3, "amount_mismatch", "refund_failed")])
    status, _ = call(api, users["admin"], "post", path("sr_00003"), {**REASON, "notes": ["refund_failed"]})
    assert status == 200
    assert flagged_list(api, users) == {"sr_00003": [("amount_mismatch", True), ("refund_failed", False)]}
    assert call(api, users["admin"], "post", path("sr_00003"), {**REASON, "notes": ["refund_failed"]})[0] == 409
    assert call(api, users["admin"], "post", path("sr_00003"), REASON)[0] == 200
    assert flagged_list(api, users) == {}
    assert refuse_refund("sr_00003").outcome == "changed"  # a later refusal of the refund
    assert flagged_list(api, users) == {"sr_00003": [("amount_mismatch", False), ("refund_failed", False),
                                                     ("refund_refused", True)]}
    assert len(resolutions("sr_00003")) == 2


@pytest.mark.parametrize("body, field", [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   "}, "reason"),
                                         ({**REASON, "notes": []}, "notes"),
                                         ({**REASON, "notes": ["not_a_kind"]}, "notes"),
                                         ({**REASON, "extra": 1}, "extra")])
def test_a_bad_body_is_a_400_and_writes_nothing(api, users, body, field):
    write_requests([flagged_request(4, "amount_mismatch")])
    status, answer = call(api, users["admin"], "post", path("sr_00004"), body)
    assert (status, answer["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert field in str(answer["error"]["details"])
    assert stored("sr_00004").payment.open_notes and resolutions("sr_00004") == []


def test_unknown_request_is_404_and_customers_are_refused(api, users):
    status, answer = call(api, users["admin"], "post", path("sr_nope"), REASON)
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    write_requests([flagged_request(5, "amount_mismatch")])
    assert call(api, users["a"], "post", path("sr_00005"), REASON)[0] == 403
    assert stored("sr_00005").payment.open_notes and resolutions("sr_00005") == []


def test_a_refusal_landing_between_the_read_and_the_write_wins_and_the_resolve_is_409(api, users, monkeypatch):
    from chalicelib.services import flags

    write_requests([flagged_request(6, "amount_mismatch")])
    decide = flags.notes_resolved

    def refusal_first(current, *args):
        assert refuse_refund(current.id).outcome == "changed"  # after the admin's read, before its write
        return decide(current, *args)

    monkeypatch.setattr(flags, "notes_resolved", refusal_first)
    status, answer = call(api, users["admin"], "post", path("sr_00006"), REASON)
    assert (status, answer["error"]["code"]) == (409, "CONCURRENT_UPDATE")
    assert flagged_list(api, users) == {"sr_00006": [("amount_mismatch", True), ("refund_refused", True)]}
    assert resolutions("sr_00006") == []


def test_a_resolve_landing_during_a_refusal_makes_the_refusal_retry_and_flag_again(api, users, monkeypatch):
    from chalicelib.domain import refunds

    write_requests([flagged_request(7, "amount_mismatch")])
    decide, raced = refunds.decide_refund_refused, []

    def resolve_first(*args):
        inner = decide(*args)

        def racing(current):
            if not raced:  # the refusal has read; the admin's resolve lands before its write
                raced.append(call(api, users["admin"], "post", path(current.id), REASON)[0])
            return inner(current)
        return racing

    monkeypatch.setattr(refunds, "decide_refund_refused", resolve_first)
    assert refuse_refund("sr_00007").outcome == "changed" and raced == [200]
    assert flagged_list(api, users) == {"sr_00007": [("amount_mismatch", False), ("refund_refused", True)]}
    assert len(resolutions("sr_00007")) == 1
    assert sorted(e["action"] for e in audit_of("SR#sr_00007")) == ["payment.notes_resolved", "payment.refund_refused"]


def test_openapi_documents_the_route_its_errors_and_the_notes_open_flag(api):
    document = api.http.get("/openapi.json").json_body
    operation = document["paths"]["/admin/service-requests/{request_id}/flags/resolve"]["post"]
    documented = {c for r in operation["responses"].values() for c in r.get("description", "").split(", ")}
    assert {"NOT_FOUND", "NOTHING_TO_RESOLVE", "CONCURRENT_UPDATE", "VALIDATION_ERROR"} <= documented
    schemas = document["components"]["schemas"]
    assert set(schemas["ResolveNotesIn"]["required"]) == {"reason"}
    note = schemas["ReconciliationNoteOut"]
    assert {"kind", "open"} <= set(note["required"]) and note["properties"]["open"]["type"] == "boolean"
