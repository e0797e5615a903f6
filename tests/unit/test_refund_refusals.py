"""A refund Stripe refuses at creation is final for that attempt: recorded failed, flagged for an admin with
Stripe's reason, counted, and never sent again; a transient failure is retried with the same attempt (same
idempotency key); an admin's retry is a new attempt (new key). In-memory fakes."""
from __future__ import annotations

import pytest

from chalicelib.domain.booking import PaymentStatus, Status
from chalicelib.domain.errors import PaymentProviderUnavailable, RefundRefused
from chalicelib.domain.principal import Principal
from chalicelib.domain.refunds import (decide_refund_facts, decide_refund_refused, refundable, unsent,
                                       with_requested_refund)
from chalicelib.services.payments import refunds
from tests.unit.test_payments_transitions import NOW, FakeGateway, card_request, make_deps
from tests.unit.test_terms_and_refunds import CHARGE_FULL, START, paid_request

P = PaymentStatus
ADMIN = Principal("boss", groups=("admin",))
ALREADY_REFUNDED = {"providerCode": "charge_already_refunded", "providerType": "invalid_request_error",
                    "providerStatus": 400, "providerMessage": "Charge ch_1 has already been refunded."}


class RefundGateway(FakeGateway):
    """Answers create_refund from a script (an exception to raise, or None: create it), recording each call."""

    def __init__(self, *outcomes: Exception | None) -> None:
        super().__init__()
        self.outcomes = list(outcomes)
        self.calls: list[tuple[int, int]] = []  # (attempt, amount): the attempt is the idempotency key's tail

    def create_refund(self, *, request_id, payment_intent, amount, attempt, reason=None):
        self.calls.append((attempt, amount))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return {"id": f"re_{attempt}", "object": "refund", "amount": amount, "status": "pending",
                "payment_intent": payment_intent, "metadata": {"serviceRequestId": request_id,
                                                               "refundAttempt": str(attempt)}}

    def list_refunds(self, payment_intent):
        return []


def paid_and_cancelled(deps, amount: int = 5000):
    paid = card_request().with_changes(status=Status.CANCELLED, payment_status=P.PAID)
    paid = paid.with_changes(payment=paid.payment.with_changes(payment_intent_id="pi_1", paid_session_id="cs_1"))
    deps.requests.put(with_requested_refund(paid, amount, "cancelled"))
    return deps.requests.get("sr_1")


def deps_with(*outcomes):
    deps = make_deps()
    deps.stripe = RefundGateway(*outcomes)
    return deps


def refused(code: str = "charge_already_refunded") -> RefundRefused:
    return RefundRefused(details={**ALREADY_REFUNDED, "providerCode": code, "provider": "stripe"})


def test_a_transient_failure_leaves_the_refund_requested_and_the_retry_uses_the_same_attempt():
    deps = deps_with(PaymentProviderUnavailable(retry_after=2), PaymentProviderUnavailable(retry_after=2))
    request = paid_and_cancelled(deps)
    for _ in range(2):
        request = refunds.send_unsent(deps, request, "system:reconcile")
        assert request.payment_status is P.REFUND_PENDING and [r.status for r in unsent(request)] == ["requested"]
    request = refunds.send_unsent(deps, request, "system:reconcile")
    assert deps.stripe.calls == [(1, 5000)] * 3  # one key throughout: Stripe can never make two refunds
    assert [(r.id, r.status, r.attempt) for r in request.payment.refunds] == [("re_1", "pending", 1)]
    assert not request.payment.reconciliation_notes


def test_a_refusal_is_recorded_failed_flagged_with_the_reason_audited_counted_and_never_sent_again(monkeypatch):
    metrics = []
    monkeypatch.setattr(refunds, "count", lambda name, value=1, **dims: metrics.append(name))
    deps = deps_with(refused())
    request = refunds.send_unsent(deps, paid_and_cancelled(deps), "system:reconcile")

    stored = deps.requests.get("sr_1")
    assert [(r.id, r.status, r.attempt, r.amount) for r in stored.payment.refunds] == [("", "failed", 1, 5000)]
    assert stored.payment_status is P.PAID and request.payment_status is P.PAID and not unsent(stored)
    [note] = stored.payment.reconciliation_notes
    assert note.kind == "refund_refused" and note.at == NOW and note.session_id == "cs_1"
    assert note.details == {**ALREADY_REFUNDED, "attempt": 1, "amount": 5000}
    assert [(e["action"], e["reason"]) for e in deps.audit.entries] == [
        ("payment.refund_refused", "charge_already_refunded")]
    assert metrics == ["RefundRefused"]

    for _ in range(3):  # later sends (a repeated cancel, each nightly reconciliation) leave it alone
        refunds.send_unsent(deps, deps.requests.get("sr_1"), "system:reconcile")
    assert deps.stripe.calls == [(1, 5000)] and len(deps.audit.entries) == 1 and metrics == ["RefundRefused"]


def test_an_admin_retry_after_a_refusal_is_a_new_attempt_with_a_new_key():
    deps = deps_with(refused())
    refunds.send_unsent(deps, paid_and_cancelled(deps), "system:reconcile")
    assert refundable(deps.requests.get("sr_1")) == 5000  # the refused amount is not counted as on its way

    after = refunds.refund_by_admin(deps, ADMIN, "sr_1", None, "customer called")
    assert deps.stripe.calls == [(1, 5000), (2, 5000)]
    assert [(r.id, r.status, r.attempt) for r in after.payment.refunds] == [("", "failed", 1), ("re_2", "pending", 2)]
    assert after.payment_status is P.REFUND_PENDING
    assert [n.kind for n in after.payment.reconciliation_notes] == ["refund_refused"]  # the history stays


def test_an_admin_refund_stripe_refuses_answers_the_refusal_and_is_recorded():
    deps = deps_with(refused("charge_disputed"))
    paid = card_request().with_changes(status=Status.CONFIRMED, payment_status=P.PAID)
    deps.requests.put(paid.with_changes(payment=paid.payment.with_changes(payment_intent_id="pi_1")))
    with pytest.raises(RefundRefused) as raised:
        refunds.refund_by_admin(deps, ADMIN, "sr_1", 1000, "goodwill")
    assert raised.value.details["providerCode"] == "charge_disputed" and raised.value.details["attempt"] == 1
    stored = deps.requests.get("sr_1")
    assert [(r.status, r.attempt) for r in stored.payment.refunds] == [("failed", 1)]
    assert stored.payment_status is P.PAID
    assert [e["action"] for e in deps.audit.entries] == ["payment.refund_requested", "payment.refund_refused"]


def test_no_payment_at_stripe_to_refund_is_a_refusal_too():
    deps = deps_with()
    request = card_request().with_changes(status=Status.CANCELLED, payment_status=P.PAID)
    deps.stripe.sessions["cs_1"] = {"id": "cs_1", "payment_intent": None}
    deps.requests.put(with_requested_refund(request, 5000, "cancelled"))
    refunds.send_unsent(deps, deps.requests.get("sr_1"), "system")
    [note] = deps.requests.get("sr_1").payment.reconciliation_notes
    assert note.details["providerCode"] == "no_payment_intent" and deps.stripe.calls == []


def test_a_refusal_decided_twice_or_after_the_outcome_is_known_changes_nothing():
    requested = with_requested_refund(paid_request(), 4000, "cancelled")
    once = decide_refund_refused(1, ALREADY_REFUNDED, START)(requested).new
    assert decide_refund_refused(1, ALREADY_REFUNDED, START)(once) is None
    created = decide_refund_facts(None, {"id": "re_1", "amount": 4000, "status": "pending",
                                         "metadata": {"refundAttempt": "1"}}, "evt", START)(requested).new
    assert decide_refund_refused(1, ALREADY_REFUNDED, START)(created) is None


def test_a_refused_refund_casts_no_doubt_on_what_the_charge_says_came_back():
    """Refused because the dashboard refunded everything already: the charge's amount_refunded stands (only a
    refund Stripe created and then failed can make that snapshot stale)."""
    requested = with_requested_refund(paid_request(), 10000, "cancelled")
    refused_once = decide_refund_refused(1, ALREADY_REFUNDED, START)(requested).new
    assert refused_once.payment_status is P.PAID
    final = decide_refund_facts(CHARGE_FULL, None, "evt", START)(refused_once).new
    assert final.payment_status is P.REFUNDED
