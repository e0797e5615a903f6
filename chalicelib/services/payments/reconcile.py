"""Nightly reconciliation: converge our payment states on Stripe's (also `POST /admin/jobs/reconcile`).

"Paid here but not in Stripe" is checked for PAID requests that changed in the last `PAID_LOOKBACK_DAYS` and
whose job starts no earlier than that (a bounded GSI query, never a Scan).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, ServiceRequest, Status
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.payment import (decide_awaiting_settlement, decide_ended, decide_paid,
                                       decide_paid_not_in_stripe, session_is_paid)
from chalicelib.observability import count, logger
from chalicelib.services.payments.expiry import end_request, out_of_time
from chalicelib.services.payments.transition import apply_transition
from chalicelib.services.payments.webhooks import HANDLERS, process_event

UTC = timezone.utc
STALE_SESSION_AGE = timedelta(hours=24)
PAID_LOOKBACK_DAYS = 2
EVENT_REPLAY_WINDOW = timedelta(days=3)  # Stripe retries deliveries for 3 days; older gaps are left to the sweep
RECONCILE_ACTOR = "system:reconcile"
RECONCILE_JOB = "reconcile_payments"
SUMMARY_KEYS = ("open", "eventsReplayed", "fixedPaid", "fixedPending", "fixedFailed", "fixedExpired",
                "expiredStale", "flaggedPaidNotInStripe", "mismatches", "refunded", "errors")


def reconcile_payments(deps: Any, deadline: float | None = None,
                       paid_lookback_days: int = PAID_LOOKBACK_DAYS) -> dict:
    """Nightly: converge our payment states on Stripe's. Phases, each idempotent, checkpointed between items
    so a run that hits `deadline` (monotonic()) resumes where it stopped on the next invocation:
      events  replay events Stripe failed to deliver (delivery_success=false) through the webhook handler;
      open    open payments (sparse GSI): sessions listed in bulk (100 a page), stragglers retrieved;
              paid -> PAID, completed -> PENDING, expired -> EXPIRED, open but stale (older than 24 h, hold
              passed, or request no longer pending) -> expired at Stripe then EXPIRED;
      paid    PAID requests of the last `paid_lookback_days` not paid in Stripe -> flagged (note + audit).
    Returns counts; `complete` is False when the deadline cut the run short."""
    store = deps.payment_store
    now = deps.clock()
    checkpoint = store.load_checkpoint(RECONCILE_JOB) or {}
    summary = {key: 0 for key in SUMMARY_KEYS}
    summary.update(checkpoint.get("summary") or {})
    phase = checkpoint.get("phase", "events")
    after = checkpoint.get("after")
    stripe_calls_before = getattr(deps.stripe, "calls", 0)

    def stop(next_phase: str, last: str | None) -> dict:
        store.save_checkpoint(RECONCILE_JOB, {"phase": next_phase, "after": last, "summary": summary,
                                              "savedAt": codec.iso_utc(deps.clock())})
        return _finish(deps, summary, False, stripe_calls_before)

    if phase == "events":
        try:
            for event in deps.stripe.list_undelivered_events(now - EVENT_REPLAY_WINDOW, types=sorted(HANDLERS)):
                if out_of_time(deadline):
                    return stop("events", None)
                if store.event_state(event["id"]) == "done":
                    continue
                result = process_event(deps, event, RECONCILE_ACTOR)
                if result["outcome"] == "changed":
                    summary["eventsReplayed"] += 1
        except DomainError as exc:
            summary["errors"] += 1
            logger.warning("event replay incomplete", extra={"code": exc.code})
        phase, after = "open", None

    sessions: dict[str, list[dict]] | None = None
    if phase == "open":
        pending = sorted((r for r in store.open_payments() if after is None or r.id > after), key=lambda r: r.id)
        summary["open"] = max(summary["open"], len(pending))
        since = min([r.created_at for r in pending] + [now - timedelta(days=paid_lookback_days)])
        sessions = _sessions_by_request(deps, since - timedelta(minutes=5), summary)
        for request in pending:
            if out_of_time(deadline):
                return stop("open", after)
            try:
                _reconcile_open(deps, request, sessions.get(request.id, []), now, summary)
            except DomainError as exc:
                summary["errors"] += 1
                logger.warning("reconcile item failed", extra={"serviceRequestId": request.id, "code": exc.code})
            after = request.id
        phase, after = "paid", None

    if phase == "paid":
        if sessions is None:
            sessions = _sessions_by_request(deps, now - timedelta(days=paid_lookback_days, minutes=5), summary)
        window = now - timedelta(days=paid_lookback_days)
        paid = sorted((r for r in store.recently_paid(window, window) if after is None or r.id > after),
                      key=lambda r: r.id)
        for request in paid:
            if out_of_time(deadline):
                return stop("paid", after)
            try:
                _check_paid(deps, request, sessions.get(request.id, []), now, summary)
            except DomainError as exc:
                summary["errors"] += 1
                logger.warning("paid check failed", extra={"serviceRequestId": request.id, "code": exc.code})
            after = request.id
    store.clear_checkpoint(RECONCILE_JOB)
    return _finish(deps, summary, True, stripe_calls_before)


def _finish(deps: Any, summary: dict, complete: bool, stripe_calls_before: int) -> dict:
    changed = sum(summary[k] for k in ("eventsReplayed", "fixedPaid", "fixedPending", "fixedFailed", "fixedExpired",
                                       "expiredStale", "flaggedPaidNotInStripe", "mismatches", "refunded"))
    out = {**summary, "changed": changed, "complete": complete,
           "stripeCalls": getattr(deps.stripe, "calls", 0) - stripe_calls_before}
    for key, value in summary.items():
        if value:
            count(f"Reconcile{key[0].upper()}{key[1:]}", value)
    logger.info("reconcile_payments", extra={"summary": out})
    return out


def _sessions_by_request(deps: Any, since: datetime, summary: dict) -> dict[str, list[dict]]:
    """Bulk listing; a failed page ends the listing and the rest are retrieved one by one (stragglers)."""
    by_request: dict[str, list[dict]] = {}
    try:
        for page in deps.stripe.list_sessions(since):
            for session in page:
                rid = (session.get("metadata") or {}).get("serviceRequestId") or session.get("client_reference_id")
                if rid:
                    by_request.setdefault(rid, []).append(session)
    except DomainError as exc:
        logger.warning("session listing incomplete; retrieving individually", extra={"code": exc.code})
    return by_request


def _known_sessions(deps: Any, request: ServiceRequest, listed: list[dict]) -> list[dict]:
    out = list(listed)
    session_id = request.payment.session_id
    if session_id and all(s.get("id") != session_id for s in out):
        try:
            out.append(deps.stripe.retrieve_session(session_id))
        except NotFound:
            out.append({"id": session_id, "status": "expired", "payment_status": "unpaid", "missing": True})
    return out


def _reconcile_open(deps: Any, request: ServiceRequest, listed: list[dict], now: datetime, summary: dict) -> None:
    sessions = _known_sessions(deps, request, listed)
    paid = next((s for s in sessions if session_is_paid(s)), None)
    if paid is not None:
        outcome, saved = apply_transition(deps, request.id, decide_paid(paid, None, now), RECONCILE_ACTOR)
        if outcome == "changed":
            summary["fixedPaid" if saved.payment_status is PaymentStatus.PAID else "mismatches"] += 1
        return
    current = next((s for s in sessions if s.get("id") == request.payment.session_id), None)
    hold_passed = request.hold_expires_at is not None and request.hold_expires_at <= now
    if current is None:
        if hold_passed or request.status is not Status.PENDING_PAYMENT:
            decide = decide_ended(PaymentStatus.EXPIRED, None, None, "payment.expired", "No Checkout Session and the hold passed")
            if apply_transition(deps, request.id, decide, RECONCILE_ACTOR)[0] == "changed":
                summary["fixedExpired"] += 1
        return
    if current.get("status") == "complete":
        if apply_transition(deps, request.id, decide_awaiting_settlement(current, None), RECONCILE_ACTOR)[0] == "changed":
            summary["fixedPending"] += 1
        return
    if current.get("status") == "expired":
        decide = decide_ended(PaymentStatus.EXPIRED, current["id"], None, "payment.expired", "Checkout Session expired (reconciled)")
        if apply_transition(deps, request.id, decide, RECONCILE_ACTOR)[0] == "changed":
            summary["fixedExpired"] += 1
        return
    created = datetime.fromtimestamp(int(current.get("created") or now.timestamp()), UTC)
    if created <= now - STALE_SESSION_AGE or hold_passed or request.status is not Status.PENDING_PAYMENT:
        kind = end_request(deps, request, now, RECONCILE_ACTOR, "Open Checkout Session is stale")
        if kind == "expired":
            summary["expiredStale"] += 1
        elif kind == "paid":
            summary["fixedPaid"] += 1
        elif kind:
            summary["fixedPending"] += 1


def _check_paid(deps: Any, request: ServiceRequest, listed: list[dict], now: datetime, summary: dict) -> None:
    if request.payment_method is not PaymentMethod.CARD:
        return
    session_id = request.payment.paid_session_id or request.payment.session_id
    sessions = [s for s in listed if s.get("id") == session_id]
    if not sessions and session_id:
        try:
            sessions = [deps.stripe.retrieve_session(session_id)]
        except NotFound:
            sessions = []
    if any(session_is_paid(s) for s in sessions):
        return
    stripe_status = sessions[0].get("payment_status") if sessions else "missing"
    decide = decide_paid_not_in_stripe(session_id, stripe_status, now)
    if apply_transition(deps, request.id, decide, RECONCILE_ACTOR)[0] == "changed":
        summary["flaggedPaidNotInStripe"] += 1
        count("PaymentMismatch", kind="paid_not_in_stripe")
