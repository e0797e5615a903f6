"""What paying creates: PaymentIntents, charges and refunds.

Charges carry empty `metadata`, as Stripe's do (payment_intent_data.metadata stays on the PaymentIntent), so
the app must match charge events by PaymentIntent. `POST /v1/refunds` answers the refund `pending`, then (per
the `refund_outcome` setting) it succeeds (`charge.refunded` + `refund.updated`), fails (`refund.updated` +
`refund.failed`, the charge unchanged) or stays pending (`charge.refunded` only). It refuses, as Stripe does, with
400 `invalid_request_error`: `charge_already_refunded`, `amount_too_large` (more than is left), `charge_disputed`
(after `/_stub/sessions/{id}/dispute`, which opens a Dispute; `/_stub/disputes/{id}/close` decides it).
"""
from __future__ import annotations

import copy
from typing import Any

from devtools.stripe_stub.errors import ApiError, missing
from devtools.stripe_stub.ids import new_id
from devtools.stripe_stub.params import int_param, metadata_param, paginate

EVIDENCE_DAYS = 7  # how long the business has to answer a chargeback (Stripe's due_by varies by network)


class Payments:
    """Part of StripeStub (account.py), which owns the lock, the clock and the stores (`payment_intents`,
    `charges`, `refunds`, `disputes`, and `pi_metadata` by session)."""

    def _open_payment_intent_locked(self, session: dict) -> str:
        """A processing PaymentIntent for the session's amount, carrying payment_intent_data.metadata."""
        pi_id = new_id("pi_")
        self.payment_intents[pi_id] = {
            "id": pi_id, "object": "payment_intent", "amount": session["amount_total"],
            "amount_received": 0, "created": self.now(), "currency": session["currency"],
            "latest_charge": None, "livemode": False, "metadata": dict(self.pi_metadata.get(session["id"], {})),
            "payment_method_types": ["card"], "status": "processing",
        }
        return pi_id

    def _capture_locked(self, session: dict) -> None:
        """The session's PaymentIntent succeeds with one charge; the session becomes paid."""
        pi = self.payment_intents[session["payment_intent"]]
        charge_id = new_id("ch_")
        self.charges[charge_id] = {
            "id": charge_id, "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"],
            "amount_refunded": 0, "captured": True, "created": self.now(), "currency": pi["currency"],
            "disputed": False, "livemode": False, "metadata": {}, "paid": True, "payment_intent": pi["id"],
            "refunded": False, "status": "succeeded",
        }
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=charge_id)
        session["payment_status"] = "paid"

    def _fail_payment_locked(self, session: dict) -> None:
        self.payment_intents[session["payment_intent"]]["status"] = "requires_payment_method"

    # -- refunds -------------------------------------------------------------------------------------------
    def create_refund(self, params: dict) -> tuple[dict, list[str]]:
        """The refund as created (`pending`) and the events that follow it, by `refund_outcome`."""
        with self.lock:
            charge = self._charge_for_refund(params)
            if charge["disputed"]:
                raise ApiError(400, f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                               code="charge_disputed")
            remaining = charge["amount"] - charge["amount_refunded"]
            if remaining <= 0:
                raise ApiError(400, f"Charge {charge['id']} has already been refunded.",
                               code="charge_already_refunded")
            amount = int_param(params, "amount", minimum=1, default=remaining)
            if amount > remaining:
                raise ApiError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                                    f"({remaining})", code="amount_too_large", param="amount")
            refund_id = new_id("re_")
            refund = {"id": refund_id, "object": "refund", "amount": amount, "charge": charge["id"],
                      "created": self.now(), "currency": charge["currency"], "failure_reason": None,
                      "metadata": metadata_param(params, "metadata"), "payment_intent": charge["payment_intent"],
                      "reason": params.get("reason"), "status": "pending"}
            self.refunds[refund_id] = refund
            self.refund_order.append(refund_id)
            answer = copy.deepcopy(refund)
            return answer, self._refund_outcome_locked(refund, charge, self.refund_outcome)

    def _refund_outcome_locked(self, refund: dict, charge: dict, outcome: str) -> list[str]:
        events = []
        if outcome in ("succeeded", "pending"):  # the charge counts a pending refund already, as Stripe's does
            previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
            charge["amount_refunded"] += refund["amount"]
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            events.append(self._emit_locked("charge.refunded", charge, previous_attributes=previous))
        if outcome == "succeeded":
            refund["status"] = "succeeded"
            events.append(self._emit_locked("refund.updated", copy.deepcopy(refund), {"status": "pending"}))
        elif outcome == "failed":
            refund.update(status="failed", failure_reason="expired_or_canceled_card")
            events.append(self._emit_locked("refund.updated", copy.deepcopy(refund), {"status": "pending"}))
            events.append(self._emit_locked("refund.failed", copy.deepcopy(refund)))
        return events

    def list_refunds(self, params: dict) -> dict:
        """GET /v1/refunds: newest first, `payment_intent` / `charge` filters, Stripe's paging."""
        pi, charge = params.get("payment_intent"), params.get("charge")
        with self.lock:
            items = [self.refunds[rid] for rid in reversed(self.refund_order)
                     if pi in (None, self.refunds[rid]["payment_intent"])
                     and charge in (None, self.refunds[rid]["charge"])]
            return paginate(items, params, "/v1/refunds", "refund")

    def _charge_for_refund(self, params: dict) -> dict:
        charge_id, pi_id = params.get("charge"), params.get("payment_intent")
        if charge_id:
            if charge_id not in self.charges:
                raise missing("charge", charge_id, param="charge")
            return self.charges[charge_id]
        if pi_id:
            pi = self.payment_intents.get(pi_id)
            if pi is None:
                raise missing("payment_intent", pi_id, param="payment_intent")
            if not pi["latest_charge"]:
                raise ApiError(400, f"PaymentIntent {pi_id} does not have a successful charge to refund.",
                               code="charge_not_refundable", param="payment_intent")
            return self.charges[pi["latest_charge"]]
        raise ApiError(400, "One of the following params should be provided for this request: payment_intent or "
                            "charge.", code="parameter_missing")

    def refund_session(self, session_id: str, amount: int | None = None) -> tuple[dict, list[str]]:
        """Refund a checkout's payment (all of it, or amount) as if through POST /v1/refunds."""
        with self.lock:
            session = self._session_locked(session_id)
            if not session["payment_intent"]:
                raise ApiError(400, "This session has no payment to refund.", code="charge_not_refundable")
            params: dict[str, Any] = {"payment_intent": session["payment_intent"]}
            if amount is not None:
                params["amount"] = str(amount)
            return self.create_refund(params)

    def dispute_session(self, session_id: str, reason: str = "fraudulent") -> tuple[dict, list[str]]:
        """The cardholder's bank disputes the checkout's charge: a Dispute (`needs_response`, evidence due in
        EVIDENCE_DAYS) and, as Stripe sends them for a chargeback, `charge.dispute.created` then
        `charge.dispute.funds_withdrawn`. The charge becomes `disputed: true`, so Stripe refuses to refund it
        (400 `charge_disputed`)."""
        with self.lock:
            session = self._session_locked(session_id)
            pi = self.payment_intents.get(session["payment_intent"] or "")
            if pi is None or not pi["latest_charge"]:
                raise ApiError(400, "This session has no charge to dispute.", code="charge_not_refundable")
            charge = self.charges[pi["latest_charge"]]
            if charge["disputed"]:  # a charge is disputed at most once
                raise ApiError(400, f"Charge {charge['id']} is already disputed.", code="charge_already_disputed")
            charge["disputed"] = True
            dispute_id = new_id("dp_")
            now = self.now()
            self.disputes[dispute_id] = dispute = {
                "id": dispute_id, "object": "dispute", "amount": charge["amount"], "balance_transactions": [],
                "charge": charge["id"], "created": now, "currency": charge["currency"],
                "evidence_details": {"due_by": now + EVIDENCE_DAYS * 86400, "has_evidence": False,
                                     "past_due": False, "submission_count": 0},
                "is_charge_refundable": False, "livemode": False, "metadata": {}, "payment_intent": pi["id"],
                "reason": reason, "status": "needs_response"}
            return copy.deepcopy(dispute), [self._emit_locked("charge.dispute.created", dispute),
                                            self._emit_locked("charge.dispute.funds_withdrawn", dispute)]

    def close_dispute(self, dispute_id: str, outcome: str) -> tuple[dict, list[str]]:
        """The bank decides (`won` | `lost`): `charge.dispute.funds_reinstated` when won, then
        `charge.dispute.closed`."""
        with self.lock:
            dispute = self.disputes.get(dispute_id)
            if dispute is None:
                raise missing("dispute", dispute_id)
            if outcome not in ("won", "lost"):
                raise ApiError(400, "outcome must be won or lost.", param="outcome")
            if dispute["status"] in ("won", "lost"):
                raise ApiError(400, f"Dispute {dispute_id} is already closed.", code="dispute_already_closed")
            previous = {"status": dispute["status"]}
            dispute["status"] = outcome
            events = [self._emit_locked("charge.dispute.funds_reinstated", dispute)] if outcome == "won" else []
            events.append(self._emit_locked("charge.dispute.closed", dispute, previous))
            return copy.deepcopy(dispute), events
