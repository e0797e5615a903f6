"""The emulated Stripe account: every object and setting of one stub, behind one lock.

StripeStub combines the parts of the API (one module each) over the state created here by reset().
"""
from __future__ import annotations

import contextlib
import copy
import queue
import threading
import time
from typing import Any, Iterator

from devtools.stripe_stub.checkout import CheckoutSessions
from devtools.stripe_stub.errors import missing
from devtools.stripe_stub.events import Events
from devtools.stripe_stub.faults import Faults
from devtools.stripe_stub.idempotency import IdempotencyKeys
from devtools.stripe_stub.payments import Payments
from devtools.stripe_stub.webhooks import WebhookDelivery

DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/payments/stripe/webhook"
DEFAULT_WEBHOOK_SECRET = "whsec_local"


class StripeStub(CheckoutSessions, Payments, Events, WebhookDelivery, IdempotencyKeys):
    """All state of the emulated Stripe account. Thread-safe; webhook delivery happens outside the lock."""

    def __init__(self, webhook_url: str | None = DEFAULT_WEBHOOK_URL,
                 webhook_secret: str = DEFAULT_WEBHOOK_SECRET, public_base_url: str = "",
                 delivery_timeout: float = 10.0) -> None:
        self.lock = threading.RLock()
        self.webhook_url = webhook_url or None
        self.webhook_secret = webhook_secret
        self.public_base_url = public_base_url.rstrip("/")
        self.delivery_timeout = delivery_timeout
        self._outbox: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.clock_offset = 0
            self.sessions: dict[str, dict] = {}
            self.session_order: list[str] = []  # creation order; lists are served newest first
            self.line_items: dict[str, list[dict]] = {}
            self.pi_metadata: dict[str, dict] = {}  # session id -> payment_intent_data.metadata
            self.async_pending: set[str] = set()
            self.payment_intents: dict[str, dict] = {}
            self.charges: dict[str, dict] = {}
            self.refunds: dict[str, dict] = {}
            self.refund_order: list[str] = []
            self.disputes: dict[str, dict] = {}
            self.refund_outcome = "succeeded"  # what a new refund turns into: succeeded | failed | pending
            self.events: dict[str, dict] = {}
            self.event_order: list[str] = []
            self.deliveries: list[dict] = []
            self.idempotency: dict[str, dict] = {}
            self.key_locks: dict[str, threading.Lock] = {}
            self.faults = Faults()
            self.stats: dict[str, int] = {}
            self.in_flight = 0  # /v1 requests being handled (a delayed one finishes after its client gave up)

    def configure(self, settings: dict) -> None:
        """Change any of webhook_url (empty: do not deliver), webhook_secret, public_base_url, refund_outcome."""
        with self.lock:
            if settings.get("refund_outcome") in ("succeeded", "failed", "pending"):
                self.refund_outcome = settings["refund_outcome"]
            if "webhook_url" in settings:
                self.webhook_url = settings["webhook_url"] or None
            if "webhook_secret" in settings:
                self.webhook_secret = settings["webhook_secret"]
            if "public_base_url" in settings:
                self.public_base_url = str(settings["public_base_url"]).rstrip("/")

    # -- clock ---------------------------------------------------------------------------------------------
    def now(self) -> int:
        """The emulated clock (shifted by /_stub/clock): object timestamps and expiry use it."""
        return int(time.time()) + self.clock_offset

    def set_clock(self, change: dict) -> None:
        """`offset_seconds` sets the offset from the real clock, then `advance_seconds` moves it."""
        with self.lock:
            if "offset_seconds" in change:
                self.clock_offset = int(change["offset_seconds"])
            self.clock_offset += int(change.get("advance_seconds", 0))

    def expire_overdue(self, wait: bool) -> None:
        """Lazy expiry, done first by any API call or page view: sessions past expires_at expire and their
        events go out (wait: before returning; else in the background)."""
        self.dispatch(self.sweep_expired(), wait=wait)

    # -- faults and statistics -------------------------------------------------------------------------------
    def set_faults(self, spec: dict[str, Any]) -> dict[str, Any]:
        faults = Faults.from_spec(spec)
        with self.lock:
            self.faults = faults
            return faults.public()

    def take_faults(self, path: str) -> tuple[float, int | None]:
        """(delay seconds, failure status or None) for one API request; consumes the counters."""
        with self.lock:
            return self.faults.take(path)

    @contextlib.contextmanager
    def serving(self, route: str) -> Iterator[None]:
        """Counts one API request by route, and as in flight while the block runs."""
        with self.lock:
            self.stats[route] = self.stats.get(route, 0) + 1
            self.in_flight += 1
        try:
            yield
        finally:
            with self.lock:
                self.in_flight -= 1

    def request_stats(self) -> dict[str, Any]:
        with self.lock:
            return {"api_requests": sum(self.stats.values()), "by_route": dict(self.stats),
                    "in_flight": self.in_flight}

    def get_object(self, store: str, kind: str, ident: str) -> dict:
        """A copy of one object from a store (`charges`, `refunds`...) by id; 404 as `kind` if absent."""
        with self.lock:
            obj = getattr(self, store).get(ident)
            if obj is None:
                raise missing(kind, ident, param="id")
            return copy.deepcopy(obj)
