"""Realtime availability: websocket connections and channel subscriptions, pushes, and the polling change feed.

A channel is one service on one team-local day (`<serviceId>#<yyyy-mm-dd>`), plus `ADMINS` for admin-only
events, so a push reads exactly its subscribers with one Query. Pushes run inline in the request that changed
capacity, bounded by a time budget, and never raise: see docs/realtime.md for why.
"""
from __future__ import annotations

import json
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Protocol

from chalicelib.clock import Clock, monotonic, system_clock
from chalicelib.domain.catalog import Catalog
from chalicelib.domain.errors import NotFound, RangeTooLarge, Unauthenticated, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.observability import count, logger
from chalicelib.services.realtime_owner import user_channel

# API Gateway closes a websocket after 2 hours at most; a few minutes more covers clock and TTL lag.
CONNECTION_LIFETIME = timedelta(hours=2, minutes=5)
CHANGE_RETENTION = timedelta(hours=24)
# The feed only shows changes older than this: a writer stamps its cursor before its PutItem lands, so a
# younger change could still be joined by an older-stamped one and a poller would skip it.
SETTLE = timedelta(seconds=3)
MAX_SUBSCRIPTION_DAYS = 31
MAX_CHANNELS_PER_CONNECTION = 4 * MAX_SUBSCRIPTION_DAYS
ADMIN_CHANNEL = "ADMINS"
# The stream consumer's push budget per team: well inside the Lambda timeout (30 s), so a stream batch's pushes
# are cut off only when the gateway or the tables are failing.
STREAM_BUDGET_SECONDS = 20.0
CURSOR_PATTERN = r"^\d{8}T\d{6}\.\d{6}Z-([0-9a-f]{8}|~)$"
_CURSOR_TIME = "%Y%m%dT%H%M%S.%fZ"


class RealtimeStore(Protocol):
    def add_connection(self, connection_id: str, doc: dict, channels: list[str], expires_at: datetime) -> None: ...

    def connection(self, connection_id: str) -> dict | None:
        """The connection's doc with `expiresAt` (datetime), or None."""

    def subscribe(self, connection_id: str, channels: list[str], endpoint: str | None,
                  expires_at: datetime) -> None: ...

    def unsubscribe(self, connection_id: str, channels: list[str]) -> None: ...

    def channels_of(self, connection_id: str) -> list[str]: ...

    def subscribers(self, channel: str) -> list[tuple[str, str | None]]:
        """(connectionId, management endpoint) of each subscriber."""

    def remove_connection(self, connection_id: str) -> int: ...

    def append_change(self, service_id: str, cursor: str, change: dict, expires_at: datetime) -> None: ...

    def changes_between(self, service_id: str, after: str, up_to: str, limit: int) -> list[dict]: ...


class ConnectionPusher(Protocol):
    def send(self, connection_id: str, data: bytes, endpoint: str | None = None) -> bool:
        """Deliver one frame; False if the connection is gone. Other failures raise."""


# (serviceId, team-local date "yyyy-mm-dd", teamId) -> that team's slots that day, each with start + remaining.
DaySlots = Callable[[str, str, str], Iterable[Any]]



def channel(service_id: str, day: str) -> str:
    return f"{service_id}#{day}"


def days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def error_frame(code: str, message: str, details: dict | None = None) -> dict:
    """The HTTP contract's error body, tagged so clients can tell it from events."""
    return {"type": "error", "error": {"code": code, "message": message, "details": details or {}}}


def encode(frame: dict) -> bytes:
    return json.dumps(frame, separators=(",", ":"), default=str).encode()


# --- connection lifecycle ------------------------------------------------------------------------------
def connect(store: RealtimeStore, principal: Principal, connection_id: str, endpoint: str | None,
            now: datetime) -> None:
    """Record an authenticated connection on its user's own channel; admins join the admin channel too."""
    doc = {"userId": principal.user_id, "groups": list(principal.groups), "endpoint": endpoint,
           "connectedAt": now.isoformat()}
    channels = [user_channel(principal.user_id)] + ([ADMIN_CHANNEL] if principal.is_admin else [])
    store.add_connection(connection_id, doc, channels, now + CONNECTION_LIFETIME)


def disconnect(store: RealtimeStore, connection_id: str) -> int:
    return store.remove_connection(connection_id)


def _live_connection(store: RealtimeStore, connection_id: str, now: datetime) -> dict:
    """Raises Unauthenticated if the connection is unknown or past its lifetime (TTL deletes lazily)."""
    conn = store.connection(connection_id)
    if conn is None or (conn.get("expiresAt") is not None and conn["expiresAt"] <= now):
        raise Unauthenticated("This connection is not registered; reconnect with a valid token.")
    return conn


def _checked_range(catalog: Catalog, service_id: str, first: date, last: date) -> list[str]:
    service = catalog.services.get(service_id)
    if service is None or not service.active:
        raise NotFound(details={"serviceId": service_id})
    if last < first:
        raise ValidationFailed("`to` must not be before `from`.", {"fields": [{"field": "to"}]})
    span = (last - first).days + 1
    if span > MAX_SUBSCRIPTION_DAYS:
        raise RangeTooLarge(details={"maxDays": MAX_SUBSCRIPTION_DAYS, "days": span})
    return days(first, last)


def subscribe(store: RealtimeStore, catalog: Catalog, connection_id: str, service_id: str, first: date,
              last: date, now: datetime) -> dict:
    """Subscribe to a service's team-local days [first, last]. Returns the acknowledgement frame.

    Raises NotFound (unknown service), ValidationFailed, RangeTooLarge (more than 31 days, or more channels per
    connection than MAX_CHANNELS_PER_CONNECTION), Unauthenticated (connection not registered).
    """
    wanted = _checked_range(catalog, service_id, first, last)
    conn = _live_connection(store, connection_id, now)
    channels = [channel(service_id, d) for d in wanted]
    # Soft cap (the index is eventually consistent): keeps one client from fanning every push out to itself.
    held = {c for c in store.channels_of(connection_id) if c != user_channel(conn.get("userId") or "")}
    if len(held | set(channels)) > MAX_CHANNELS_PER_CONNECTION:
        raise RangeTooLarge("Too many subscriptions on this connection.",
                            {"maxChannels": MAX_CHANNELS_PER_CONNECTION})
    expires_at = conn.get("expiresAt") or now + CONNECTION_LIFETIME
    store.subscribe(connection_id, channels, conn.get("endpoint"), expires_at)
    return {"type": "subscribed", "serviceId": service_id, "from": wanted[0], "to": wanted[-1]}


def unsubscribe(store: RealtimeStore, connection_id: str, service_id: str, first: date | None,
                last: date | None) -> dict:
    """Drop the subscriptions to a service on [first, last], or on every day when no range is given."""
    if first is None or last is None:
        prefix = f"{service_id}#"
        channels = [c for c in store.channels_of(connection_id) if c.startswith(prefix)]
    else:
        if last < first or (last - first).days + 1 > MAX_SUBSCRIPTION_DAYS:
            raise RangeTooLarge(details={"maxDays": MAX_SUBSCRIPTION_DAYS})
        channels = [channel(service_id, d) for d in days(first, last)]
    if channels:
        store.unsubscribe(connection_id, channels)
    return {"type": "unsubscribed", "serviceId": service_id, "channels": len(channels)}


# --- change feed (polling fallback) --------------------------------------------------------------------
def new_cursor(at: datetime) -> str:
    return f"{at.astimezone(timezone.utc).strftime(_CURSOR_TIME)}-{secrets.token_hex(4)}"


def position(at: datetime) -> str:
    """A cursor after every change stamped at or before `at` ('~' sorts after the hex suffixes)."""
    return f"{at.astimezone(timezone.utc).strftime(_CURSOR_TIME)}-~"


def cursor_time(cursor: str) -> datetime:
    """Raises ValidationFailed for anything that is not a cursor this API issued."""
    invalid = ValidationFailed("The cursor is not valid.", {"fields": [{"field": "since"}]})
    if not re.match(CURSOR_PATTERN, cursor or ""):
        raise invalid
    try:
        return datetime.strptime(cursor.split("-", 1)[0], _CURSOR_TIME).replace(tzinfo=timezone.utc)
    except ValueError as exc:  # the right shape but no real instant (month 13...)
        raise invalid from exc


def changes_since(store: RealtimeStore, catalog: Catalog, service_id: str, since: str | None, limit: int,
                  now: datetime) -> dict:
    """Changes of a service's availability after `since`, oldest first, and the cursor to poll with next.

    Without `since`, returns no changes and a starting cursor (take it BEFORE loading availability). A cursor
    older than the retention window yields `reset: true`: reload availability and continue from `cursor`.
    Raises NotFound, ValidationFailed (malformed cursor).
    """
    service = catalog.services.get(service_id)
    if service is None or not service.active:
        raise NotFound(details={"serviceId": service_id})
    settled = position(now - SETTLE)
    if since is None:
        return {"serviceId": service_id, "changes": [], "cursor": settled, "hasMore": False, "reset": False}
    if cursor_time(since) < now - CHANGE_RETENTION + SETTLE:
        return {"serviceId": service_id, "changes": [], "cursor": settled, "hasMore": False, "reset": True}
    found = store.changes_between(service_id, since, settled, limit + 1)
    page = found[:limit]
    next_cursor = page[-1]["cursor"] if page else since
    return {"serviceId": service_id, "changes": page, "cursor": next_cursor, "hasMore": len(found) > limit,
            "reset": False}


# --- publisher -------------------------------------------------------------------------------------------
def slot_view(slot: Any) -> dict:
    """{start, remaining} from a domain Slot or a dict (start as ISO 8601 UTC)."""
    start = slot["start"] if isinstance(slot, dict) else slot.start
    remaining = slot["remaining"] if isinstance(slot, dict) else slot.remaining
    if isinstance(start, datetime):
        start = start.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"start": start, "remaining": int(remaining)}


@dataclass
class PushReport:
    frames: int = 0
    delivered: int = 0
    gone: int = 0
    failed: int = 0
    skipped: list[str] = field(default_factory=list)  # channels not reached within the budget
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        with self._lock:  # posts run on several threads
            setattr(self, name, getattr(self, name) + 1)


class WebsocketPublisher:
    """AvailabilityPublisher over websockets + the change log. Never raises; returns within ~budget seconds.

    Work runs on a worker thread the caller waits for at most `budget_seconds`; what is left after that is
    abandoned to the worker (each post has short socket timeouts and no retries). Clients that missed a push
    catch up from the change feed, which is written before any post.
    """

    def __init__(self, store: RealtimeStore, pusher: ConnectionPusher, day_slots: DaySlots,
                 budget_seconds: float = 1.0, clock: Clock = system_clock,
                 max_parallel_posts: int = 8) -> None:
        self._store = store
        self._pusher = pusher
        self._day_slots = day_slots
        self._budget = budget_seconds
        self._clock = clock
        self._jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="realtime-push")
        self._posts = ThreadPoolExecutor(max_workers=max_parallel_posts, thread_name_prefix="realtime-post")

    # AvailabilityPublisher
    def availability_changed(self, service_ids: list[str], team_id: str, local_dates: list[str]) -> None:
        self._bounded(self.publish_availability, list(service_ids), team_id, list(local_dates))

    def emergency_created(self, request_doc: dict) -> None:
        self._bounded(self.publish_emergency, dict(request_doc))

    def requests_updated(self, updates: list[tuple[str, dict]]) -> None:
        self._bounded(self.publish_to_owners, list(updates))

    def _bounded(self, job: Callable[..., PushReport], *args: Any) -> PushReport | None:
        deadline = monotonic() + self._budget
        try:
            report = self._jobs.submit(job, *args, deadline=deadline).result(timeout=self._budget)
        except FutureTimeout:
            count("RealtimePushOverBudget")
            logger.warning("realtime push exceeded its budget", extra={"budgetSeconds": self._budget})
            return None
        except Exception:  # noqa: BLE001 - a push never fails the request that triggered it
            count("RealtimePushFailed")
            logger.exception("realtime push failed")
            return None
        if report.gone:
            count("RealtimeGoneConnections", report.gone)
        if report.failed or report.skipped:
            logger.warning("realtime push incomplete", extra={"failed": report.failed, "skipped": report.skipped})
        return report

    def publish_availability(self, service_ids: list[str], team_id: str, local_dates: list[str],
                             deadline: float | None = None) -> PushReport:
        """Log and push one `availability.changed` frame per (service, day). Raises on storage failures."""
        report = PushReport()
        for service_id in dict.fromkeys(service_ids):
            for day in dict.fromkeys(local_dates):
                target = channel(service_id, day)
                if deadline is not None and monotonic() >= deadline:
                    report.skipped.append(target)
                    continue
                now = self._clock()
                frame = {"type": "availability.changed", "serviceId": service_id, "teamId": team_id, "date": day,
                         "slots": [slot_view(s) for s in self._day_slots(service_id, day, team_id)]}
                cursor = new_cursor(now)
                self._store.append_change(service_id, cursor, {**frame, "at": now.isoformat()},
                                          now + CHANGE_RETENTION)
                self._fan_out(target, encode({**frame, "cursor": cursor}), deadline, report)
        return report

    def publish_emergency(self, request_doc: dict, deadline: float | None = None) -> PushReport:
        report = PushReport()
        self._fan_out(ADMIN_CHANNEL, encode({"type": "emergency.created", "serviceRequest": request_doc}),
                      deadline, report)
        return report

    def publish_to_owners(self, updates: list[tuple[str, dict]], deadline: float | None = None) -> PushReport:
        """Each frame to its user's connections only (one Query of the user's channel per frame)."""
        report = PushReport()
        for user_id, frame in updates:
            if deadline is not None and monotonic() >= deadline:
                report.skipped.append(user_channel(user_id))
                continue
            self._fan_out(user_channel(user_id), encode(frame), deadline, report)
        return report

    def _fan_out(self, target: str, data: bytes, deadline: float | None, report: PushReport) -> None:
        report.frames += 1
        futures = [self._posts.submit(self._deliver, connection_id, endpoint, data, report)
                   for connection_id, endpoint in self._store.subscribers(target)]
        timeout = None if deadline is None else max(0.0, deadline - monotonic())
        wait(futures, timeout=timeout)

    def _deliver(self, connection_id: str, endpoint: str | None, data: bytes, report: PushReport) -> None:
        try:
            if self._pusher.send(connection_id, data, endpoint):
                report.add("delivered")
                return
            report.add("gone")
            self._store.remove_connection(connection_id)
        except Exception:  # noqa: BLE001 - one bad connection must not stop the others
            report.add("failed")
            logger.warning("push to a connection failed", exc_info=True, extra={"connectionId": connection_id})


def reply_to(pusher: ConnectionPusher, store: RealtimeStore, connection_id: str, endpoint: str | None,
             frame: dict) -> None:
    """Send a reply frame to the connection that asked; a gone sender is cleaned up, other failures logged."""
    try:
        if not pusher.send(connection_id, encode(frame), endpoint):
            store.remove_connection(connection_id)
    except Exception:  # noqa: BLE001 - the reply is best effort; the message was already processed
        logger.warning("reply to a connection failed", exc_info=True, extra={"connectionId": connection_id})
