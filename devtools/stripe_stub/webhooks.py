"""Webhook delivery: events POSTed to the configured URL with a Stripe-Signature header, each attempt recorded."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from typing import Iterable

from devtools.stripe_stub.errors import missing
from devtools.stripe_stub.ids import new_id


def sign_payload(payload: str, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value: `t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{payload}".encode("utf-8"), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookDelivery:
    """Sending events, now or from a background worker. Part of StripeStub (account.py), which owns the lock,
    the events, the delivery log, the webhook settings and the outbox."""

    def dispatch(self, event_ids: Iterable[str], wait: bool) -> list[dict]:
        """Deliver now (the hosted page: the app has the event when the page returns) or in the background."""
        event_ids = list(event_ids)
        if wait:
            return [self.deliver(event_id) for event_id in event_ids]
        self._ensure_worker()
        for event_id in event_ids:
            self._outbox.put(event_id)
        return []

    def flush(self) -> None:
        """Block until background deliveries are done."""
        if self._worker is not None:
            self._outbox.join()

    def _ensure_worker(self) -> None:
        with self.lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="stripe-stub-webhooks", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            event_id = self._outbox.get()
            try:
                self.deliver(event_id)
            except Exception:  # noqa: BLE001 - the worker must outlive a bad delivery
                pass
            finally:
                self._outbox.task_done()

    def deliver(self, event_id: str) -> dict:
        """POST one event, signed, to the webhook URL; records the attempt. Never raises for HTTP failures."""
        with self.lock:
            event = self.events.get(event_id)
            if event is None:
                raise missing("event", event_id)
            url, secret = self.webhook_url, self.webhook_secret
            attempt = 1 + sum(1 for d in self.deliveries if d["event_id"] == event_id)
            dropped = self.faults.take_webhook_drop()
            # Stripe's snapshot payload reflects the event as it is when sent (pending_webhooks included).
            payload = json.dumps(event, indent=2)
        record = {"id": new_id("whdel_"), "event_id": event_id, "type": event["type"], "url": url,
                  "attempt": attempt, "attempted_at": int(time.time()), "status": None, "ok": False, "error": None}
        if url is None:
            record["error"] = "no webhook URL configured"
        elif dropped:
            record["error"] = "dropped by fault injection"
        else:
            record["status"], record["error"] = _post_signed(url, payload, secret, self.delivery_timeout)
            record["ok"] = record["status"] is not None and 200 <= record["status"] < 300
        with self.lock:
            self.deliveries.append(record)
            if record["ok"]:
                self.events[event_id]["pending_webhooks"] = 0
        return record

    def delivery_log(self, event_id: str | None = None) -> list[dict]:
        """Every delivery attempt so far, oldest first (of one event if given)."""
        with self.lock:
            return [d for d in self.deliveries if event_id in (None, d["event_id"])]

    def redeliver(self, event_id: str | None = None) -> list[dict]:
        """Resend one event, or every event whose delivery has not succeeded yet (oldest first)."""
        with self.lock:
            if event_id is not None:
                targets = [event_id]
            else:
                targets = [eid for eid in self.event_order if self.events[eid]["pending_webhooks"] > 0]
        return [self.deliver(eid) for eid in targets]


def _post_signed(url: str, payload: str, secret: str, timeout: float) -> tuple[int | None, str | None]:
    """(HTTP status or None, error text or None) of one signed POST."""
    # Signed with the real clock: a shifted emulated clock must not make signatures look stale.
    header = sign_payload(payload, secret, int(time.time()))
    request = urllib.request.Request(url, data=payload.encode("utf-8"), method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
