"""Payment use cases: Stripe Checkout for CARD bookings, COD collection, webhooks, hold expiry, reconciliation.

`deps` is the Container (or a test double) exposing: settings, requests, catalog, audit, publisher, clock,
stripe (PaymentGateway), payment_store (event claims, checkpoints, payment reads).

Every state change goes through `_apply`: read the request, decide the next state with the domain's
ALLOWED_FROM maps, write conditionally on the revision read (StaleRevision -> read again and decide again).
A decision returns None when nothing needs to change, so late, duplicated and reordered events converge on
the same final state, and a second reconciliation run changes nothing.

Decisions made here (documented in the README of the area via these docstrings):
- A Stripe failure while creating the Checkout Session at booking time does NOT fail the booking: it is 201
  with `checkoutUrl: null` and `paymentError`, the request stays PENDING_PAYMENT/UNPAID with its hold still
  expiring (expire_holds releases it), and `POST .../checkout` retries. Failing with 503 would make the
  client retry the booking while the first one already holds capacity.
- "Paid here but not in Stripe" is checked for PAID requests that changed in the last
  `PAID_LOOKBACK_DAYS` and whose job starts no earlier than that (a bounded GSI query, never a Scan).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from chalicelib.clock import monotonic
from chalicelib.domain import codec
from chalicelib.domain.booking import OPEN_PAYMENT, PaymentMethod, PaymentStatus, ServiceRequest, Status
from chalicelib.domain.errors import ConcurrentUpdate, DomainError, InvalidState, NotFound
from chalicelib.domain.payment import (CheckoutError, Decide, amount_due, decide_awaiting_settlement,
                                       decide_checkout_opened, decide_cod_collected, decide_ended,
                                       decide_paid, decide_paid_not_in_stripe, decide_refund, decide_session,
                                       session_is_paid)
from chalicelib.domain.principal import Principal
from chalicelib.observability import count, logger
from chalicelib.services import booking
from chalicelib.services.ports import StaleRevision

UTC = timezone.utc
P, S = PaymentStatus, Status
MAX_WRITE_ATTEMPTS = 5
SESSION_MIN_LIFETIME = timedelta(minutes=31)  # Stripe's minimum is 30 minutes; one more absorbs clock skew
STALE_SESSION_AGE = timedelta(hours=24)
PAID_LOOKBACK_DAYS = 2
EVENT_REPLAY_WINDOW = timedelta(days=3)  # Stripe retries deliveries for 3 days; older gaps are left to the sweep
WEBHOOK_ACTOR = "system:stripe-webhook"
RECONCILE_ACTOR = "system:reconcile"
EXPIRY_ACTOR = "system:expire-holds"
RECONCILE_JOB = "reconcile_payments"
SUMMARY_KEYS = ("open", "eventsReplayed", "fixedPaid", "fixedPending", "fixedFailed", "fixedExpired",
                "expiredStale", "flaggedPaidNotInStripe", "mismatches", "refunded", "errors")


# --- writes ----------------------------------------------------------------------------------------------
def _apply(deps: Any, request_id: str, decide: Decide, actor: str) -> tuple[str, ServiceRequest | None]:
    """Returns ("changed" | "unchanged" | "unknown", request). Raises ConcurrentUpdate after repeated races,
    Throttled/TemporarilyUnavailable from the store."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = deps.requests.get(request_id)
        if current is None:
            return "unknown", None
        change = decide(current)
        if change is None:
            return "unchanged", current
        new = change.new.with_changes(updated_at=deps.clock())
        releases = current.holds_capacity and not new.holds_capacity
        try:
            if releases:
                saved = booking.release_capacity(deps, current, new, booking.plan_of(deps.catalog.get(), current))
            else:
                saved = deps.requests.save(current, new)
        except StaleRevision:
            continue
        deps.audit.record(f"SR#{request_id}", actor, change.action, codec.request_to_doc(current),
                          codec.request_to_doc(saved), change.reason)
        count("PaymentTransition", action=change.action)
        if change.action == "payment.mismatch_flagged":
            count("PaymentMismatch", kind="amount_mismatch")
        if releases:
            booking._publish(deps, saved.service_id, saved.placement.team_id, [saved.placement.local_date])
        return "changed", saved
    raise ConcurrentUpdate(details={"serviceRequestId": request_id})


# --- CARD checkout ---------------------------------------------------------------------------------------
def checkout_after_booking(deps: Any, request: ServiceRequest) -> ServiceRequest:
    """Hook run by booking.create: opens the Checkout Session of a new CARD request. Never raises for a Stripe
    failure (the request keeps UNPAID, its hold keeps expiring, `payment.error` says why)."""
    if request.payment_method is not PaymentMethod.CARD or request.status is not S.PENDING_PAYMENT:
        return request
    return _open_session(deps, request, attempt=1, raise_on_error=False)


def resume_checkout(deps: Any, principal: Principal, request_id: str) -> ServiceRequest:
    """Reuse the open session, or open a fresh one (attempt + 1, new hold) if it expired or never opened.
    Raises NotFound, InvalidState (not an unpaid card request, or its hold was already released),
    PaymentProviderUnavailable (state unchanged; retry)."""
    current = booking.get_own(deps, principal, request_id)
    if (current.payment_method is not PaymentMethod.CARD or current.status is not S.PENDING_PAYMENT
            or current.payment_status not in OPEN_PAYMENT):
        raise InvalidState(details={"status": current.status.value, "paymentStatus": current.payment_status.value})
    if current.payment.awaiting_settlement:
        return current  # paid with a delayed method; nothing to pay until it settles
    now = deps.clock()
    session_id = current.payment.session_id
    if session_id:
        try:
            session = deps.stripe.retrieve_session(session_id)
        except NotFound:
            session = {"id": session_id, "status": "expired"}
        if session.get("status") == "open" and int(session.get("expires_at") or 0) > now.timestamp() + 60:
            return current
        if session.get("status") == "open":
            # About to expire: close it first, so two payable sessions never exist for one request.
            session = deps.stripe.expire_session(session_id)
        decide = decide_session(session, None, now)
        if session.get("status") != "expired" and decide is not None:
            _, updated = _apply(deps, request_id, decide, principal.actor)
            return updated or current
    return _open_session(deps, current, attempt=(current.payment.attempt or 0) + 1, raise_on_error=True)


def _open_session(deps: Any, current: ServiceRequest, attempt: int, raise_on_error: bool) -> ServiceRequest:
    amount, currency = amount_due(current)
    now = deps.clock()
    expires = max(current.hold_expires_at or now, now + SESSION_MIN_LIFETIME)
    try:
        session = deps.stripe.create_checkout_session(
            request_id=current.id, amount=amount, currency=currency, description=f"Service {current.service_id}",
            expires_at=expires, customer_email=current.customer_email, attempt=attempt)
    except DomainError as exc:
        count("CheckoutSessionFailed", code=exc.code)
        logger.warning("checkout session not created", extra={"serviceRequestId": current.id, "code": exc.code})
        if raise_on_error:
            raise
        return _record_checkout_error(deps, current, attempt, exc)
    hold = datetime.fromtimestamp(int(session["expires_at"]), UTC)
    decide = decide_checkout_opened(session, amount, currency, attempt, now, hold_until=hold)
    outcome, saved = _apply(deps, current.id, decide, "system:checkout")
    count("CheckoutSessionCreated")
    return saved or current


def _record_checkout_error(deps: Any, current: ServiceRequest, attempt: int, exc: DomainError) -> ServiceRequest:
    error = CheckoutError(exc.code, exc.message, at=deps.clock(), attempt=attempt)
    failed = current.with_changes(payment=current.payment.with_changes(attempt=attempt, error=error))
    try:
        return deps.requests.save(current, failed)
    except (StaleRevision, DomainError):
        logger.exception("could not record the checkout error", extra={"serviceRequestId": current.id})
        return failed  # the response still tells the client; the stored state is UNPAID either way


# --- COD -------------------------------------------------------------------------------------------------
def cod_collected(deps: Any, principal: Principal, request_id: str, note: str | None = None) -> ServiceRequest:
    """COD_DUE -> COD_COLLECTED (audited). Repeating it returns the request unchanged.
    Raises NotFound, InvalidState (not a COD request due)."""
    decide = decide_cod_collected(principal.actor, deps.clock(), note)
    outcome, saved = _apply(deps, request_id, decide, principal.actor)
    if saved is None:
        raise NotFound(details={"serviceRequestId": request_id})
    return saved


# --- webhooks --------------------------------------------------------------------------------------------
def receive_webhook(deps: Any, raw_body: bytes | str | None, signature: str | None) -> dict:
    """Verify (raises SignatureInvalid before anything is written), then process once per event id."""
    body = raw_body if isinstance(raw_body, bytes) else (raw_body or "").encode("utf-8")
    event = deps.stripe.construct_event(body, signature)
    return process_event(deps, event, WEBHOOK_ACTOR)


def process_event(deps: Any, event: dict, actor: str) -> dict:
    """Handle one verified event. Unknown types are acknowledged without a write; a failure releases the
    claim so Stripe's retry (or reconciliation's replay) can process it again."""
    event_id, event_type = str(event.get("id")), str(event.get("type"))
    handler = HANDLERS.get(event_type)
    if handler is None:
        count("StripeEventIgnored")
        return {"received": True, "eventId": event_id, "outcome": "ignored"}
    store = deps.payment_store
    if not store.claim_event(event_id, event_type):
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


def _request_id_for(deps: Any, obj: dict) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    for candidate in (metadata.get("serviceRequestId"), obj.get("client_reference_id")):
        if isinstance(candidate, str) and 0 < len(candidate) <= 64:
            return candidate
    for ref in (obj.get("id") if obj.get("object") == "checkout.session" else None, obj.get("payment_intent")):
        if isinstance(ref, str) and 0 < len(ref) <= 255:
            found = deps.payment_store.request_id_by_payment_ref(ref)
            if found:
                return found
    return None


def _run(deps: Any, obj: dict, decide: Decide, actor: str) -> str:
    request_id = _request_id_for(deps, obj)
    if request_id is None:
        count("StripeEventUnmatched")
        return "unmatched"
    outcome, _ = _apply(deps, request_id, decide, actor)
    return outcome


def _on_completed(deps: Any, session: dict, event_id: str, actor: str) -> str:
    decide = decide_session(session, event_id, deps.clock()) or decide_awaiting_settlement(session, event_id)
    return _run(deps, session, decide, actor)


def _on_async_succeeded(deps: Any, session: dict, event_id: str, actor: str) -> str:
    return _run(deps, session, decide_paid(session, event_id, deps.clock()), actor)


def _on_async_failed(deps: Any, session: dict, event_id: str, actor: str) -> str:
    return _run(deps, session, decide_ended(P.FAILED, None, event_id, "payment.failed", "Delayed payment failed"),
                actor)


def _on_expired(deps: Any, session: dict, event_id: str, actor: str) -> str:
    return _run(deps, session, decide_ended(P.EXPIRED, session.get("id"), event_id, "payment.expired",
                                            "Checkout Session expired"), actor)


def _on_refunded(deps: Any, charge: dict, event_id: str, actor: str) -> str:
    return _run(deps, charge, decide_refund(charge, event_id, deps.clock()), actor)


HANDLERS: dict[str, Callable[[Any, dict, str, str], str]] = {
    "checkout.session.completed": _on_completed,
    "checkout.session.async_payment_succeeded": _on_async_succeeded,
    "checkout.session.async_payment_failed": _on_async_failed,
    "checkout.session.expired": _on_expired,
    "charge.refunded": _on_refunded,
}


# --- hold expiry -----------------------------------------------------------------------------------------
def _out_of_time(deadline: float | None) -> bool:
    return deadline is not None and monotonic() >= deadline


def expire_holds(deps: Any, deadline: float | None = None) -> dict:
    """PENDING_PAYMENT requests past their hold: expire the Stripe session, then EXPIRED + capacity released
    (one transaction). A session found paid or completed meanwhile is applied instead. Stripe failures leave
    the request held for the next run (releasing while the session may still be paid would oversell).
    Requests cancelled while unpaid get their session expired and payment EXPIRED (the cancel released them)."""
    now = deps.clock()
    summary = {"due": 0, "expired": 0, "paid": 0, "awaitingSettlement": 0, "errors": 0, "deferred": 0}
    for request in deps.payment_store.open_payments():
        if request.payment.awaiting_settlement:
            continue
        # Cancelled while unpaid: its session must not stay payable. Otherwise: only holds that ran out.
        cancelled_unpaid = request.status is not S.PENDING_PAYMENT and bool(request.payment.session_id)
        if not cancelled_unpaid and (request.status is not S.PENDING_PAYMENT or request.hold_expires_at is None
                                     or request.hold_expires_at > now):
            continue
        if _out_of_time(deadline):
            summary["deferred"] += 1
            continue
        summary["due"] += 1
        try:
            kind = _end_request(deps, request, now, EXPIRY_ACTOR, "Payment hold expired")
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


def _end_request(deps: Any, request: ServiceRequest, now: datetime, actor: str, reason: str) -> str | None:
    """Expire the session at Stripe (if any), then apply what Stripe says. Returns the summary key changed."""
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
        decide, key = decide_ended(P.EXPIRED, session_id, None, "payment.expired", reason), "expired"
    outcome, _ = _apply(deps, request.id, decide, actor)
    return key if outcome == "changed" else None


# --- reconciliation --------------------------------------------------------------------------------------
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
                if _out_of_time(deadline):
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
            if _out_of_time(deadline):
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
            if _out_of_time(deadline):
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
        outcome, saved = _apply(deps, request.id, decide_paid(paid, None, now), RECONCILE_ACTOR)
        if outcome == "changed":
            summary["fixedPaid" if saved.payment_status is P.PAID else "mismatches"] += 1
        return
    current = next((s for s in sessions if s.get("id") == request.payment.session_id), None)
    hold_passed = request.hold_expires_at is not None and request.hold_expires_at <= now
    if current is None:
        if hold_passed or request.status is not S.PENDING_PAYMENT:
            decide = decide_ended(P.EXPIRED, None, None, "payment.expired", "No Checkout Session and the hold passed")
            if _apply(deps, request.id, decide, RECONCILE_ACTOR)[0] == "changed":
                summary["fixedExpired"] += 1
        return
    if current.get("status") == "complete":
        if _apply(deps, request.id, decide_awaiting_settlement(current, None), RECONCILE_ACTOR)[0] == "changed":
            summary["fixedPending"] += 1
        return
    if current.get("status") == "expired":
        decide = decide_ended(P.EXPIRED, current["id"], None, "payment.expired", "Checkout Session expired (reconciled)")
        if _apply(deps, request.id, decide, RECONCILE_ACTOR)[0] == "changed":
            summary["fixedExpired"] += 1
        return
    created = datetime.fromtimestamp(int(current.get("created") or now.timestamp()), UTC)
    if created <= now - STALE_SESSION_AGE or hold_passed or request.status is not S.PENDING_PAYMENT:
        kind = _end_request(deps, request, now, RECONCILE_ACTOR, "Open Checkout Session is stale")
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
    if _apply(deps, request.id, decide, RECONCILE_ACTOR)[0] == "changed":
        summary["flaggedPaidNotInStripe"] += 1
        count("PaymentMismatch", kind="paid_not_in_stripe")
