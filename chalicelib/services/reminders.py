"""Reminder e-mails 24 h and 2 h before a confirmed appointment, each sent at most once.

Every run (every 15 min) looks at a one-hour window per kind: starts in (now + lead - 1 h, now + lead]. A
request therefore stays eligible for four runs, so a failed send is retried by the next run. The sparse
`reminders` index is bucketed by UTC hour, so each window is at most two Queries (never a Scan).

Exactly once across overlapping runs: a run RECORDS the reminder in the outbox (services/outbox.py), whose id
names the request, the lead and the appointment's start, so every run that finds it due records the same one
message; then it marks the kind in reminders_sent so later runs skip it. The outbox's sender claims, sends and
marks each message sent under a lease: a crash anywhere is retried (by the next run or once the lease runs out)
and still sends one reminder. A moved appointment (new start, reminders_sent cleared) gets its own reminders.

Deadline and continuation: a run checks its deadline (the Lambda's remaining time) before each reminder. Out of
time, it saves a continuation (when it ran) through the queue and stops. The next run reads the continuation
first and covers the stopped run's windows as well as its own (never appointments already begun), then clears
it: what the stopped run did not reach is sent, 15 minutes late at most, and what it did send is skipped (its
mark is stored), so nothing is sent twice or lost. A run stopped again keeps the oldest continuation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from chalicelib.domain import codec, messages
from chalicelib.domain.booking import ServiceRequest, Status
from chalicelib.domain.errors import DomainError
from chalicelib.observability import count, logger
from chalicelib.services import outbox
from chalicelib.services.deadline import Deadline, out_of_time
from chalicelib.services.ports import ReminderQueue, StaleRevision
from chalicelib.services.retry import with_retries

UTC = timezone.utc
LEADS: dict[str, timedelta] = {"24h": timedelta(hours=24), "2h": timedelta(hours=2)}
WINDOW = timedelta(hours=1)
MAX_WRITE_ATTEMPTS = 3


class ReminderDeps(outbox.OutboxDeps, Protocol):
    reminder_queue: ReminderQueue


@dataclass
class RunResult:
    sent: list[str] = field(default_factory=list)  # "<request id>:<kind>"
    failed: list[str] = field(default_factory=list)  # not recorded: the next run tries again
    deferred: list[str] = field(default_factory=list)  # recorded, not sent at once: the outbox's sender retries
    skipped: int = 0
    complete: bool = True  # False: the deadline stopped the run and the next run continues it

    def as_dict(self) -> dict:
        return {"sent": len(self.sent), "failed": len(self.failed), "deferred": len(self.deferred),
                "skipped": self.skipped,
                "complete": self.complete}


def hour_buckets(start: datetime, end: datetime) -> list[str]:
    """UTC-hour bucket keys ('YYYY-MM-DDTHH') covering [start, end]."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    last = end.astimezone(UTC)
    buckets = []
    while hour <= last:
        buckets.append(hour.strftime("%Y-%m-%dT%H"))
        hour += timedelta(hours=1)
    return buckets


def window(kind: str, now: datetime, since: datetime | None = None) -> tuple[datetime, datetime]:
    """(exclusive lower, inclusive upper) bounds on the start of requests due a `kind` reminder at `now`. A run
    continuing one stopped at `since` also covers that run's window, but not appointments that have begun."""
    upper = now + LEADS[kind]
    if since is None or since >= now:
        return upper - WINDOW, upper
    # Runs more than a window ago are not caught up: their reminders would now come too late for their lead.
    return max(since, now - WINDOW) + LEADS[kind] - WINDOW, upper


def due_kind(request: ServiceRequest, kind: str, now: datetime, since: datetime | None = None) -> bool:
    low, high = window(kind, now, since)
    return (request.status is Status.CONFIRMED and bool(request.customer_email)
            and kind not in request.reminders_sent and low < request.placement.start <= high)


def send_reminders(deps: ReminderDeps, now: datetime | None = None, deadline: Deadline = None) -> dict:
    """One scheduled run, continuing a stopped one first (module docstring). Returns counts and `complete`;
    metrics ReminderSent / ReminderFailed."""
    now = now or deps.clock()
    queue = deps.reminder_queue
    since = queue.load_continuation()
    result = RunResult()
    for kind in LEADS:
        low, high = window(kind, now, since)
        for bucket in hour_buckets(low, high):
            for candidate in queue.due_in_bucket(bucket, codec.iso_utc(low), codec.iso_utc(high)):
                if not due_kind(candidate, kind, now, since):  # e.g. sent by the run being continued
                    result.skipped += 1
                    continue
                if out_of_time(deadline):
                    result.complete = False
                    queue.save_continuation(min(since or now, now))
                    return _report(result)
                _remind(deps, candidate, kind, now, since, result)
    if since is not None:
        queue.clear_continuation(since)
    return _report(result)


def _report(result: RunResult) -> dict:
    if result.sent:
        count("ReminderSent", len(result.sent))
    if result.failed:
        count("ReminderFailed", len(result.failed))
    logger.info("reminders run", extra=result.as_dict())
    return result.as_dict()


def _remind(deps: ReminderDeps, request: ServiceRequest, kind: str, now: datetime, since: datetime | None,
            result: RunResult) -> None:
    """Record the reminder in the outbox (once, whatever the number of runs that get here), mark it recorded on
    the request so later runs skip it, then send it at once (a failed send stays in the outbox for its sender)."""
    try:
        recorded = outbox.record(deps, [messages.reminder(request, kind)])
        _mark(deps, request, kind, now, since)
    except DomainError as exc:  # throttled/unavailable: the next run records (or marks) it again
        logger.warning("reminder not recorded", extra={"serviceRequestId": request.id, "error": exc.code})
        result.failed.append(f"{request.id}:{kind}")
        return
    if not recorded:
        result.skipped += 1  # another run recorded it
        return
    sent = outbox.send_now(deps, recorded) == ["sent"]
    (result.sent if sent else result.deferred).append(f"{request.id}:{kind}")


def _mark(deps: ReminderDeps, request: ServiceRequest, kind: str, now: datetime, since: datetime | None) -> None:
    """Add `kind` to reminders_sent, conditional on the revision read; losing to other writers is fine (the
    outbox already holds the reminder once; the mark only spares later runs a lookup)."""
    current: ServiceRequest | None = request

    def mark() -> None:
        if current is not None and due_kind(current, kind, now, since):
            deps.requests.save(current, current.with_changes(reminders_sent=current.reminders_sent + (kind,)))

    def read_again(_lost: Exception) -> None:
        nonlocal current
        current = deps.requests.get(request.id)

    try:
        with_retries(mark, retry_on=(StaleRevision,), on_retry=read_again,
                     give_up=lambda: StaleRevision(request.id), attempts=MAX_WRITE_ATTEMPTS)
    except StaleRevision:
        pass
