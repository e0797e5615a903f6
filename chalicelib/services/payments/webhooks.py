"""Stripe events: verified over the raw body, claimed once per event id, handled by type.

A claim left `processing` by a crashed invocation is taken over after the store's lease; until then a
redelivery is answered 503 (not acknowledged), so Stripe delivers again and whoever comes after the lease
finishes the event: a 200 there would end Stripe's retries while the event may never have been applied. A
failure while processing releases the claim, so Stripe's retry (or reconciliation's replay) processes the event
again. Unknown types are acknowledged without a write.
"""
from __future__ import annotations

from typing import Callable, Protocol

from chalicelib.domain.booking import PaymentStatus
from chalicelib.domain.disputes import decide_dispute
from chalicelib.domain.errors import TemporarilyUnavailable
from chalicelib.domain.payment import Decide, decide_awaiting_settlement, decide_ended, decide_paid, decide_session
from chalicelib.domain.refunds import decide_refund_facts
from chalicelib.observability import count, logger
from chalicelib.services.payments import shared
from chalicelib.services.payments.transition import TransitionDeps, apply_transition
from chalicelib.services.ports import PaymentGateway, PaymentStore

WEBHOOK_ACTOR = "system:stripe-webhook"
IN_PROGRESS_RETRY_AFTER = 60  # seconds; the claim of a dead invocation is taken over after the store's lease
MAX_REQUEST_ID_LENGTH = 64
MAX_PAYMENT_REF_LENGTH = 255
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.funds_withdrawn",
                  "charge.dispute.funds_reinstated", "charge.dispute.closed")


class WebhookStore(PaymentStore, Protocol):
    """The payment store with the events parked until a request names their PaymentIntent
    (adapters/dynamodb/payments_repository.py)."""

    def park_event(self, payment_intent: str, event_id: str, event_type: str, obj: dict) -> None: ...

    def parked_events(self, payment_intent: str) -> list[tuple[str, str, dict]]:
        """(event id, type, object) parked for the PaymentIntent, oldest first."""

    def drop_parked(self, payment_intent: str, event_id: str) -> None: ...


class WebhookDeps(TransitionDeps, Protocol):
    """What verifying, claiming and applying a Stripe event reads (state changes go through apply_transition)."""
    stripe: PaymentGateway
    payment_store: WebhookStore


def receive_webhook(deps: WebhookDeps, raw_body: bytes | str | None, signature: str | None) -> dict:
    """Verify (raises SignatureInvalid before anything is written), then process once per event id."""
    body = raw_body if isinstance(raw_body, bytes) else (raw_body or "").encode("utf-8")
    event = deps.stripe.construct_event(body, signature)
    return process_event(deps, event, WEBHOOK_ACTOR)


def process_event(deps: WebhookDeps, event: dict, actor: str) -> dict:
    """Handle one verified event. Unknown types are acknowledged without a write; a failure releases the
    claim so Stripe's retry (or reconciliation's replay) can process it again. Raises TemporarilyUnavailable
    while another invocation's claim on the event is within its lease."""
    event_id, event_type = str(event.get("id")), str(event.get("type"))
    handler = HANDLERS.get(event_type)
    if handler is None:
        count("StripeEventIgnored")
        return {"received": True, "eventId": event_id, "outcome": "ignored"}
    store = deps.payment_store
    if not store.claim_event(event_id, event_type):
        if store.event_state(event_id) == "processing":
            count("StripeEventInProgress")
            raise TemporarilyUnavailable("This event is being processed; deliver it again later.",
                                         {"eventId": event_id}, retry_after=IN_PROGRESS_RETRY_AFTER)
        count("StripeEventDuplicate")
        return {"received": True, "eventId": event_id, "outcome": "duplicate"}
    try:
        obj = ((event.get("data") or {}).get("object")) or {}
        outcome = handler(deps, obj if isinstance(obj, dict) else {}, event_id, actor)
    except Exception:
        store.release_event(event_id)
        raise
    store.finish_event(event_id, outcome)
    count("StripeEventProcessed", type=event_type)
    logger.info("stripe event", extra={"eventId": event_id, "type": event_type, "outcome": outcome})
    return {"received": True, "eventId": event_id, "outcome": outcome}


def _request_id_for(deps: WebhookDeps, obj: dict) -> str | None:
    """The service request a Stripe object is about: our ids in its metadata first, else its session or payment
    intent looked up by payment reference. Lengths are bounded before anything reaches the store."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for candidate in (metadata.get("serviceRequestId"), obj.get("client_reference_id")):
        if isinstance(candidate, str) and 0 < len(candidate) <= MAX_REQUEST_ID_LENGTH:
            return candidate
    for ref in (obj.get("id") if obj.get("object") == "checkout.session" else None, obj.get("payment_intent")):
        if isinstance(ref, str) and 0 < len(ref) <= MAX_PAYMENT_REF_LENGTH:
            found = deps.payment_store.request_id_by_payment_ref(ref)
            if found:
                return found
    return None


def _run(deps: WebhookDeps, obj: dict, decide: Decide, actor: str) -> str:
    """Apply `decide` to the request a session is about, or to every occurrence a series' session is about (each
    write conditional and idempotent: a redelivery after a crash between occurrences finishes the rest)."""
    series_id = shared.series_of(obj)
    if series_id is not None:
        outcomes = [apply_transition(deps, request_id, decide, actor).outcome
                    for request_id in shared.session_members(deps, series_id, obj.get("id"))]
        if not outcomes:
            count("StripeEventUnmatched")
            return "unmatched"
        return "changed" if "changed" in outcomes else outcomes[0]
    request_id = _request_id_for(deps, obj)
    if request_id is None:
        count("StripeEventUnmatched")
        return "unmatched"
    return apply_transition(deps, request_id, decide, actor).outcome


def _on_completed(deps: WebhookDeps, session: dict, event_id: str, actor: str) -> str:
    decide = decide_session(session, event_id, deps.clock()) or decide_awaiting_settlement(session, event_id)
    return _then_parked(deps, session, _run(deps, session, decide, actor), actor)


def _on_async_succeeded(deps: WebhookDeps, session: dict, event_id: str, actor: str) -> str:
    return _then_parked(deps, session, _run(deps, session, decide_paid(session, event_id, deps.clock()), actor),
                        actor)


def _then_parked(deps: WebhookDeps, session: dict, outcome: str, actor: str) -> str:
    """The session names its PaymentIntent now: apply the refund events that arrived before it, parked under that
    PaymentIntent (oldest first; each dropped only once applied, so a crash here leaves the rest for the
    redelivery of this event, which comes back here after its claim's lease)."""
    pi = session.get("payment_intent")
    series_id = shared.series_of(session)
    if series_id is not None:  # any occurrence: _target finds the one each refund belongs to
        request_id = next(iter(shared.session_members(deps, series_id, session.get("id"))), None)
    else:
        request_id = _request_id_for(deps, session)
    if not isinstance(pi, str) or not pi or len(pi) > MAX_PAYMENT_REF_LENGTH or request_id is None:
        return outcome
    for parked_id, parked_type, obj in deps.payment_store.parked_events(pi):
        apply_transition(deps, _target(deps, request_id, parked_type, obj),
                         _decision(parked_type, obj, parked_id, deps.clock()), actor)
        deps.payment_store.drop_parked(pi, parked_id)
        count("StripeEventUnparked", type=parked_type)
    return outcome


def _on_async_failed(deps: WebhookDeps, session: dict, event_id: str, actor: str) -> str:
    return _run(deps, session, decide_ended(PaymentStatus.FAILED, None, event_id, "payment.failed",
                                            "Delayed payment failed"), actor)


def _on_expired(deps: WebhookDeps, session: dict, event_id: str, actor: str) -> str:
    return _run(deps, session, decide_ended(PaymentStatus.EXPIRED, session.get("id"), event_id, "payment.expired",
                                            "Checkout Session expired"), actor)


def _decision(event_type: str, obj: dict, event_id: str | None, now) -> Decide:
    """What a fact about a payment's money after checkout decides: a refund's, or a dispute's."""
    if event_type in DISPUTE_EVENTS:
        return decide_dispute(obj, event_id, now)
    if event_type == "charge.refunded":  # a charge; every other refund event carries the Refund
        return decide_refund_facts(obj, None, event_id, now)
    return decide_refund_facts(None, obj, event_id, now)


def _on_payment_fact(deps: WebhookDeps, obj: dict, event_id: str, actor: str, event_type: str) -> str:
    """charge.refunded (a charge: Stripe sends its metadata empty), refund.* (a refund) and charge.dispute.* (a
    dispute, metadata empty too): matched by our metadata when it is there, else by PaymentIntent. One whose
    PaymentIntent no completed session named yet is parked and applied when the session's completion arrives (or,
    for refunds, by reconciliation's refund check)."""
    decide = _decision(event_type, obj, event_id, deps.clock())
    request_id = _request_id_for(deps, obj)
    if request_id is not None:
        return apply_transition(deps, _target(deps, request_id, event_type, obj), decide, actor).outcome
    pi = obj.get("payment_intent")
    if not isinstance(pi, str) or not 0 < len(pi) <= MAX_PAYMENT_REF_LENGTH:
        count("StripeEventUnmatched")
        return "unmatched"
    deps.payment_store.park_event(pi, event_id, event_type, obj)
    # The completion may have been applied while this was parking: look once more (the index lags a little;
    # reconciliation's refund check covers what is left).
    request_id = deps.payment_store.request_id_by_payment_ref(pi)
    if request_id is None:
        count("StripeEventParked", type=event_type)
        return "parked"
    outcome = apply_transition(deps, _target(deps, request_id, event_type, obj), decide, actor).outcome
    deps.payment_store.drop_parked(pi, event_id)
    return outcome


def _target(deps: WebhookDeps, request_id: str, event_type: str, obj: dict) -> str:
    """A refund of a series' shared PaymentIntent goes to the occurrence it belongs to (services/payments/shared.py);
    a charge's facts are the matched request's (on a shared payment they only record the charge's id), and so is a
    dispute (of a shared charge: flagged on the occurrence its PaymentIntent is indexed under)."""
    if event_type == "charge.refunded" or event_type in DISPUTE_EVENTS or shared.named_request(obj) == request_id:
        return request_id
    return shared.refund_target(deps, request_id, obj)


def _fact_handler(event_type: str) -> Callable[[WebhookDeps, dict, str, str], str]:
    return lambda deps, obj, event_id, actor: _on_payment_fact(deps, obj, event_id, actor, event_type)


HANDLERS: dict[str, Callable[[WebhookDeps, dict, str, str], str]] = {
    "checkout.session.completed": _on_completed,
    "checkout.session.async_payment_succeeded": _on_async_succeeded,
    "checkout.session.async_payment_failed": _on_async_failed,
    "checkout.session.expired": _on_expired,
    **{t: _fact_handler(t) for t in ("charge.refunded", "charge.refund.updated", "refund.created",
                                      "refund.updated", "refund.failed") + DISPUTE_EVENTS},
}
