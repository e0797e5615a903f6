"""Nightly reconciliation: converge our payment states on Stripe's (also `POST /admin/jobs/reconcile`).

Three phases, each idempotent, run in order:
  events  replay events Stripe failed to deliver (delivery_success=false) through the webhook handler;
  open    open payments (sparse GSI) against their sessions, listed in bulk (100 a page) with stragglers retrieved
          one by one: paid -> PAID, completed -> PENDING, expired -> EXPIRED, open but stale (older than 24 h,
          hold passed, or request no longer pending) -> expired at Stripe then EXPIRED;
  paid    PAID (or partly/pending refunded) requests of the last `PAID_LOOKBACK_DAYS` whose job starts no earlier
          than that (a bounded GSI query, never a Scan) not paid in Stripe -> flagged (note + audit); paid ones:
          refunds decided here and not sent are sent (same idempotency key; one Stripe refuses is recorded failed
          and flagged, and no later run sends it), and the PaymentIntent's refunds are listed and applied (a refund
          made in Stripe's dashboard whose events never arrived, or parked ones).
A run that reaches its deadline saves a `Checkpoint` (phase, last request id done, counts so far) and the next
invocation resumes there. A Stripe error on one item is counted in `errors` and left for the next run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Callable, Iterable, Mapping, Protocol

from chalicelib.domain import codec
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, ServiceRequest, Status
from chalicelib.domain.errors import DomainError, NotFound, TemporarilyUnavailable
from chalicelib.domain.payment import (Decide, decide_awaiting_settlement, decide_ended, decide_paid,
                                       decide_paid_not_in_stripe, session_is_paid)
from chalicelib.domain.refunds import decide_refund_facts
from chalicelib.observability import count, logger
from chalicelib.services.deadline import Deadline, out_of_time
from chalicelib.services.payments import shared
from chalicelib.services.payments.expiry import ExpiryDeps, end_hold
from chalicelib.services.payments.refunds import RefundDeps, send_unsent
from chalicelib.services.payments.transition import Applied, apply_transition
from chalicelib.services.payments.webhooks import HANDLERS, WebhookDeps, process_event

STALE_SESSION_AGE = timedelta(hours=24)
PAID_LOOKBACK_DAYS = 2
EVENT_REPLAY_WINDOW = timedelta(days=3)  # Stripe retries deliveries for 3 days; older gaps are left to the sweep
LISTING_MARGIN = timedelta(minutes=5)  # a session's `created` is Stripe's clock, not ours
RECONCILE_ACTOR = "system:reconcile"
RECONCILE_JOB = "reconcile_payments"
NIGHT_DONE = "reconcile_payments#night"  # the UTC date whose reconciliation completed without errors
SUMMARY_KEYS = ("open", "eventsReplayed", "fixedPaid", "fixedPending", "fixedFailed", "fixedExpired",
                "expiredStale", "flaggedPaidNotInStripe", "mismatches", "refunded", "refundsRefused", "errors")
# What closing a stale session at Stripe turned out to be (expiry.end_hold) -> the count it adds to.
STALE_SESSION_ENDED_AS = {"expired": "expiredStale", "paid": "fixedPaid", "awaitingSettlement": "fixedPending"}
CHANGE_KEYS = tuple(key for key in SUMMARY_KEYS if key not in ("open", "errors"))  # they add up to `changed`


class ReconcileDeps(ExpiryDeps, WebhookDeps, RefundDeps, Protocol):
    """What reconciliation reads (payment_store, stripe, clock); it ends stale sessions as expiry does and replays
    events through the webhook handler."""


class Phase(str, Enum):
    EVENTS = "events"
    OPEN = "open"
    PAID = "paid"


@dataclass(frozen=True)
class Checkpoint:
    """Where an interrupted run resumes: its phase, the last request id that phase finished, the counts so far.
    Stored in the ops table (JOB#reconcile_payments) as {"phase", "after", "summary", "savedAt"}."""
    phase: Phase = Phase.EVENTS
    after: str | None = None
    summary: Mapping[str, int] = field(default_factory=dict)
    saved_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Checkpoint:
        """No checkpoint, or one naming a phase this code does not have: start from the first phase."""
        doc = doc or {}
        phases = {p.value: p for p in Phase}
        if doc.get("phase") not in phases:
            return cls()
        return cls(phases[doc["phase"]], doc.get("after"), dict(doc.get("summary") or {}),
                   codec.parse_iso(doc["savedAt"]) if doc.get("savedAt") else None)

    def to_doc(self) -> dict:
        return {"phase": self.phase.value, "after": self.after, "summary": dict(self.summary),
                "savedAt": codec.iso_utc(self.saved_at) if self.saved_at else None}


@dataclass
class _Run:
    """One invocation: its clock reading, deadline and lookback, the counts it adds to, and Stripe's sessions by
    request id (listed once, by the first phase that needs them)."""
    deps: ReconcileDeps
    now: datetime
    deadline: Deadline
    lookback: timedelta
    summary: dict[str, int]
    sessions: dict[str, list[dict]] | None = None

    def apply(self, request: ServiceRequest, decide: Decide, counted_as: str | None = None) -> Applied:
        applied = apply_transition(self.deps, request.id, decide, RECONCILE_ACTOR)
        if counted_as and applied.outcome == "changed":
            self.summary[counted_as] += 1
        return applied

    def list_sessions(self, since: datetime) -> None:
        """Bulk listing; a failed page ends it and the requests not seen are retrieved one by one."""
        self.sessions = {}
        try:
            for page in self.deps.stripe.list_sessions(since - LISTING_MARGIN):
                for session in page:
                    request_id = ((session.get("metadata") or {}).get("serviceRequestId")
                                  or session.get("client_reference_id"))  # a series' session: its series id
                    if request_id:
                        self.sessions.setdefault(request_id, []).append(session)
        except DomainError as exc:
            logger.warning("session listing incomplete; retrieving individually", extra={"code": exc.code})


def reconcile_payments(deps: ReconcileDeps, deadline: Deadline = None,
                       paid_lookback_days: int = PAID_LOOKBACK_DAYS) -> dict:
    """Run the phases from the saved checkpoint on; `deadline`: see services/deadline.py. Returns the counts,
    `changed` (their sum), `stripeCalls`, and `complete` (False when the deadline cut the run short)."""
    store = deps.payment_store
    checkpoint = Checkpoint.from_doc(store.load_checkpoint(RECONCILE_JOB))
    run = _Run(deps, deps.clock(), deadline, timedelta(days=paid_lookback_days),
               {**dict.fromkeys(SUMMARY_KEYS, 0), **checkpoint.summary})
    stripe_calls_before = deps.stripe.calls
    phases = list(Phase)
    for phase in phases[phases.index(checkpoint.phase):]:
        stopped = PHASES[phase](run, checkpoint.after if phase is checkpoint.phase else None)
        if stopped is not None:
            store.save_checkpoint(RECONCILE_JOB, replace(stopped, summary=run.summary, saved_at=deps.clock()).to_doc())
            return _report(run, False, stripe_calls_before)
    store.clear_checkpoint(RECONCILE_JOB)
    return _report(run, True, stripe_calls_before)


def reconcile_tonight(deps: ReconcileDeps, deadline: Deadline = None) -> dict:
    """The nightly job. Its schedule fires hourly from 03:30 to 06:30 UTC: the night's first run reconciles, and
    the later ones finish a run that did not complete — stopped by its deadline (it resumes from its checkpoint)
    or that hit errors (it runs again from the start: every phase is idempotent) — and otherwise do nothing.
    A run with errors is never reported complete; each incomplete run counts ReconcileIncomplete (alarmed)."""
    night = deps.clock().date().isoformat()
    if (deps.payment_store.load_checkpoint(NIGHT_DONE) or {}).get("night") == night:
        return {"skipped": True, "night": night, "complete": True}
    result = reconcile_payments(deps, deadline)
    if result["complete"] and result["errors"]:
        count("ReconcileIncomplete")
        result = {**result, "complete": False}
    if result["complete"]:
        deps.payment_store.save_checkpoint(NIGHT_DONE, {"night": night})
    return {**result, "night": night}


def _report(run: _Run, complete: bool, stripe_calls_before: int) -> dict:
    out = {**run.summary, "changed": sum(run.summary[k] for k in CHANGE_KEYS), "complete": complete,
           "stripeCalls": run.deps.stripe.calls - stripe_calls_before}
    for key, value in run.summary.items():
        if value:
            count(f"Reconcile{key[0].upper()}{key[1:]}", value)
    if not complete:
        count("ReconcileIncomplete")  # alarmed: the run must be finished before the next night
    logger.info("reconcile_payments", extra={"summary": out})
    return out


# --- phases: each returns None when done, or the Checkpoint to resume from when the deadline stopped it ---------
def replay_undelivered_events(run: _Run, after: str | None) -> Checkpoint | None:
    store = run.deps.payment_store
    try:
        for event in run.deps.stripe.list_undelivered_events(run.now - EVENT_REPLAY_WINDOW, types=sorted(HANDLERS)):
            if out_of_time(run.deadline):
                return Checkpoint(Phase.EVENTS)  # replays skip what is done, so the phase restarts from the top
            if store.event_state(event["id"]) == "done":
                continue
            try:
                outcome = process_event(run.deps, event, RECONCILE_ACTOR)["outcome"]
            except TemporarilyUnavailable:  # claimed by a live (or not yet stale) invocation: not this one's
                run.summary["errors"] += 1
                continue
            if outcome == "changed":
                run.summary["eventsReplayed"] += 1
    except DomainError as exc:
        run.summary["errors"] += 1
        logger.warning("event replay incomplete", extra={"code": exc.code})
    return None


def check_open_payments(run: _Run, after: str | None) -> Checkpoint | None:
    pending = _in_id_order(run.deps.payment_store.open_payments(), after)
    run.summary["open"] = max(run.summary["open"], len(pending))
    run.list_sessions(min([r.created_at for r in pending] + [run.now - run.lookback]))
    return _check_each(run, Phase.OPEN, pending, after, _check_open, "reconcile item failed")


def check_recently_paid(run: _Run, after: str | None) -> Checkpoint | None:
    window = run.now - run.lookback
    if run.sessions is None:
        run.list_sessions(window)
    paid = _in_id_order(run.deps.payment_store.recently_paid(window, window), after)
    return _check_each(run, Phase.PAID, paid, after, _check_paid, "paid check failed")


PHASES: dict[Phase, Callable[[_Run, str | None], Checkpoint | None]] = {
    Phase.EVENTS: replay_undelivered_events,
    Phase.OPEN: check_open_payments,
    Phase.PAID: check_recently_paid,
}


def _in_id_order(requests: Iterable[ServiceRequest], after: str | None) -> list[ServiceRequest]:
    return sorted((r for r in requests if after is None or r.id > after), key=lambda r: r.id)


def _check_each(run: _Run, phase: Phase, requests: list[ServiceRequest], after: str | None,
                check: Callable[[_Run, ServiceRequest], None], failure: str) -> Checkpoint | None:
    for request in requests:
        if out_of_time(run.deadline):
            return Checkpoint(phase, after)
        try:
            check(run, request)
        except DomainError as exc:
            run.summary["errors"] += 1
            logger.warning(failure, extra={"serviceRequestId": request.id, "code": exc.code})
        after = request.id
    return None


# --- one request ------------------------------------------------------------------------------------------------
def _known_sessions(run: _Run, request: ServiceRequest) -> list[dict]:
    """The listed sessions of `request`, plus its current one retrieved if the listing missed it."""
    out = _listed(run, request)
    session_id = request.payment.session_id
    if session_id and all(s.get("id") != session_id for s in out):
        try:
            out.append(run.deps.stripe.retrieve_session(session_id))
        except NotFound:
            out.append({"id": session_id, "status": "expired", "payment_status": "unpaid", "missing": True})
    return out


def _listed(run: _Run, request: ServiceRequest) -> list[dict]:
    """The listed sessions of the request's own, and of its series' (one session pays for a card series)."""
    found = (run.sessions or {})
    return list(found.get(request.id, [])) + (list(found.get(request.series_id, [])) if request.series_id else [])


def _check_open(run: _Run, request: ServiceRequest) -> None:
    sessions = _known_sessions(run, request)
    paid = next((s for s in sessions if session_is_paid(s)), None)
    if paid is not None:
        applied = run.apply(request, decide_paid(paid, None, run.now))
        if applied.outcome == "changed":
            run.summary["fixedPaid" if applied.request.payment_status is PaymentStatus.PAID else "mismatches"] += 1
        return
    current = next((s for s in sessions if s.get("id") == request.payment.session_id), None)
    hold_passed = request.hold_expires_at is not None and request.hold_expires_at <= run.now
    still_pending = request.status is Status.PENDING_PAYMENT
    if current is None:
        if hold_passed or not still_pending:
            run.apply(request, decide_ended(PaymentStatus.EXPIRED, None, None, "payment.expired",
                                            "No Checkout Session and the hold passed"), counted_as="fixedExpired")
    elif current.get("status") == "complete":
        run.apply(request, decide_awaiting_settlement(current, None), counted_as="fixedPending")
    elif current.get("status") == "expired":
        run.apply(request, decide_ended(PaymentStatus.EXPIRED, current["id"], None, "payment.expired",
                                        "Checkout Session expired (reconciled)"), counted_as="fixedExpired")
    else:
        created = datetime.fromtimestamp(int(current.get("created") or run.now.timestamp()), timezone.utc)
        if created <= run.now - STALE_SESSION_AGE or hold_passed or not still_pending:
            # A series' shared session is left open while other occurrences still wait on it (expiry.end_hold).
            for ended in end_hold(run.deps, request, run.now, set(), RECONCILE_ACTOR, "Open Checkout Session is stale"):
                run.summary[STALE_SESSION_ENDED_AS[ended]] += 1


def _check_paid(run: _Run, request: ServiceRequest) -> None:
    if request.payment_method is not PaymentMethod.CARD or request.payment.nothing_due:
        return
    session_id = request.payment.paid_session_id or request.payment.session_id
    sessions = [s for s in _listed(run, request) if s.get("id") == session_id]
    if not sessions and session_id:
        try:
            sessions = [run.deps.stripe.retrieve_session(session_id)]
        except NotFound:
            sessions = []
    if any(session_is_paid(s) for s in sessions):
        _check_refunds(run, request)
        return
    stripe_status = sessions[0].get("payment_status") if sessions else "missing"
    applied = run.apply(request, decide_paid_not_in_stripe(session_id, stripe_status, run.now),
                        counted_as="flaggedPaidNotInStripe")
    if applied.outcome == "changed":
        count("PaymentMismatch", kind="paid_not_in_stripe")


def _check_refunds(run: _Run, request: ServiceRequest) -> None:
    """One list call per paid request: what Stripe refunded is what the request records."""
    refused_before = _refusals(request)
    request = send_unsent(run.deps, request, RECONCILE_ACTOR)
    run.summary["refundsRefused"] += _refusals(request) - refused_before
    intent = request.payment.payment_intent_id
    if not intent:
        return
    for refund in run.deps.stripe.list_refunds(intent):
        # A series' shared PaymentIntent lists every occurrence's refunds: each goes to the one it belongs to.
        target = shared.refund_target(run.deps, request.id, refund) if request.payment.shared else request.id
        applied = apply_transition(run.deps, target, decide_refund_facts(None, refund, None, run.now),
                                   RECONCILE_ACTOR)
        if applied.outcome == "changed":
            run.summary["refunded"] += 1


def _refusals(request: ServiceRequest) -> int:
    return sum(1 for note in request.payment.reconciliation_notes if note.kind == "refund_refused")
