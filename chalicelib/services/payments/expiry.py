"""Holds that ran out (every 5 minutes): close the Checkout Session at Stripe, then release the capacity.

Stripe is asked first, so money that arrived at the last moment is recorded instead of a hold being released
under a paid session (which would oversell the slot).
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.domain.booking import PaymentStatus, ServiceRequest
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.payment import (decide_awaiting_settlement, decide_ended, decide_paid, hold_due_at,
                                       session_is_paid)
from chalicelib.observability import count, logger
from chalicelib.services.deadline import Deadline, out_of_time
from chalicelib.services.payments.transition import TransitionDeps, apply_transition
from chalicelib.services.ports import PaymentGateway, PaymentStore

EXPIRY_ACTOR = "system:expire-holds"


class ExpiryDeps(TransitionDeps, Protocol):
    """What ending holds reads: the holds due (sparse index keyed by `hold_due_at`), their sessions at Stripe
    (state changes go through apply_transition)."""
    stripe: PaymentGateway
    payment_store: PaymentStore


def expire_holds(deps: ExpiryDeps, deadline: Deadline = None) -> dict:
    """PENDING_PAYMENT requests past their hold: expire the Stripe session, then EXPIRED + capacity released
    (one transaction). A session found paid or completed meanwhile is applied instead. Stripe failures leave
    the request held for the next run (releasing while the session may still be paid would oversell).
    Requests cancelled while unpaid get their session expired and payment EXPIRED (the cancel released them)."""
    now = deps.clock()
    summary = {"due": 0, "expired": 0, "paid": 0, "awaitingSettlement": 0, "errors": 0, "deferred": 0}
    for request in deps.payment_store.due_holds(now):
        if not _due(request, now):  # the index is eventually consistent: what it returns is checked again
            continue
        if out_of_time(deadline):
            summary["deferred"] += 1
            continue
        summary["due"] += 1
        try:
            kind = end_request(deps, request, now, EXPIRY_ACTOR, "Payment hold expired")
        except DomainError as exc:
            summary["errors"] += 1
            logger.warning("hold not expired", extra={"serviceRequestId": request.id, "code": exc.code})
            continue
        if kind:
            summary[kind] += 1
    for key in ("expired", "paid", "errors"):
        if summary[key]:
            count(f"ExpireHolds{key.capitalize()}", summary[key])
    logger.info("expire_holds", extra={"summary": summary})
    return summary


def _due(request: ServiceRequest, now: datetime) -> bool:
    """Its hold ran out, or it was cancelled while unpaid (its session must not stay payable). A completed
    session awaiting settlement keeps its hold: settlement decides (domain.payment.hold_due_at)."""
    due_at = hold_due_at(request)
    return due_at is not None and due_at <= now


def end_request(deps: ExpiryDeps, request: ServiceRequest, now: datetime, actor: str, reason: str) -> str | None:
    """Expire the session at Stripe (if any), then apply what Stripe says. Returns what changed ("expired",
    "paid", "awaitingSettlement") or None."""
    session_id = request.payment.session_id
    session = {"id": session_id, "status": "expired", "payment_status": "unpaid"}
    if session_id:
        try:
            session = deps.stripe.expire_session(session_id)
        except NotFound:
            pass
    if session_is_paid(session):
        decide, key = decide_paid(session, None, now), "paid"
    elif session.get("status") == "complete":
        decide, key = decide_awaiting_settlement(session, None), "awaitingSettlement"
    else:
        decide, key = decide_ended(PaymentStatus.EXPIRED, session_id, None, "payment.expired", reason), "expired"
    return key if apply_transition(deps, request.id, decide, actor).outcome == "changed" else None
