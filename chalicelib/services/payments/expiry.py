"""Holds that ran out (every 5 minutes): close the Checkout Session at Stripe, then release the capacity.

Stripe is asked first, so money that arrived at the last moment is recorded instead of a hold being released
under a paid session (which would oversell the slot).
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.domain.booking import PaymentStatus, ServiceRequest, Status
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.payment import (Decide, decide_awaiting_settlement, decide_ended, decide_paid, hold_due_at,
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
    ended_sessions: set[str] = set()  # a series' session is ended once for all its occurrences
    for request in deps.payment_store.due_holds(now):
        if not _due(request, now) or request.payment.session_id in ended_sessions:
            continue  # (the index is eventually consistent: what it returns is checked again)
        if out_of_time(deadline):
            summary["deferred"] += 1
            continue
        summary["due"] += 1
        try:
            kinds = end_hold(deps, request, now, ended_sessions, EXPIRY_ACTOR, "Payment hold expired")
        except DomainError as exc:
            summary["errors"] += 1
            logger.warning("hold not expired", extra={"serviceRequestId": request.id, "code": exc.code})
            continue
        for kind in kinds:
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


def end_hold(deps: ExpiryDeps, request: ServiceRequest, now: datetime, ended_sessions: set[str], actor: str,
             reason: str) -> list[str]:
    """End one request's hold, or, for an occurrence of a series sharing one session, the session's: expired at
    Stripe once, and what Stripe says applied to every occurrence bound to it. An occurrence cancelled while
    others still wait on the shared session leaves the session open for them (its own payment ends EXPIRED;
    should the series be paid after all, it is recorded paid and flagged `paid_after_release` for an admin)."""
    series_id, session_id = request.series_id, request.payment.session_id
    if not request.payment.shared or series_id is None or session_id is None:
        kind = end_request(deps, request, now, actor, reason)
        return [kind] if kind else []
    members = [r for r in deps.requests.by_series(series_id) if r.payment.session_id == session_id]
    waiting = [r for r in members if r.status is Status.PENDING_PAYMENT and r.id != request.id]
    if request.status is not Status.PENDING_PAYMENT and waiting:
        decide = decide_ended(PaymentStatus.EXPIRED, session_id, None, "payment.expired",
                              "Cancelled while unpaid; the series' session stays open for the other occurrences")
        return ["expired"] if apply_transition(deps, request.id, decide, actor).outcome == "changed" else []
    ended_sessions.add(session_id)
    decide, kind = _decision(_expired_at_stripe(deps, session_id), now, reason)
    return [kind for r in sorted(members, key=lambda r: r.id)
            if apply_transition(deps, r.id, decide, actor).outcome == "changed"]


def _expired_at_stripe(deps: ExpiryDeps, session_id: str | None) -> dict:
    session = {"id": session_id, "status": "expired", "payment_status": "unpaid"}
    if session_id:
        try:
            session = deps.stripe.expire_session(session_id)
        except NotFound:
            pass
    return session


def _decision(session: dict, now: datetime, reason: str) -> tuple[Decide, str]:
    if session_is_paid(session):
        return decide_paid(session, None, now), "paid"
    if session.get("status") == "complete":
        return decide_awaiting_settlement(session, None), "awaitingSettlement"
    return decide_ended(PaymentStatus.EXPIRED, session.get("id"), None, "payment.expired", reason), "expired"


def end_request(deps: ExpiryDeps, request: ServiceRequest, now: datetime, actor: str, reason: str) -> str | None:
    """Expire the session at Stripe (if any), then apply what Stripe says. Returns what changed ("expired",
    "paid", "awaitingSettlement") or None."""
    decide, key = _decision(_expired_at_stripe(deps, request.payment.session_id), now, reason)
    return key if apply_transition(deps, request.id, decide, actor).outcome == "changed" else None
