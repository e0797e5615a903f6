"""In-memory outbox and notifier with the DynamoDB outbox's semantics (held to them by
tests/integration/test_outbox_contract.py)."""
from __future__ import annotations

import threading
from datetime import datetime

from chalicelib.domain.messages import Message, OutboxEntry


class FakeOutbox:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self._lock = threading.Lock()

    def add(self, message: Message, language: str, due_at: datetime) -> bool:
        with self._lock:
            if message.id in self.items:
                return False
            self.items[message.id] = {"message": message, "language": language, "state": "pending",
                                      "due": due_at, "attempts": 0, "lease": None, "result": None}
            return True

    def due(self, now: datetime, limit: int) -> list[str]:
        with self._lock:
            ready = sorted((i["due"], key) for key, i in self.items.items()
                           if i["state"] in ("pending", "sending") and i["due"] <= now)
            return [key for _, key in ready[:limit]]

    def claim(self, message_id: str, now: datetime, lease_until: datetime, lease: str) -> OutboxEntry | None:
        with self._lock:
            item = self.items.get(message_id)
            if item is None or item["state"] not in ("pending", "sending") or item["due"] > now:
                return None
            item.update(state="sending", lease=lease, due=lease_until, attempts=item["attempts"] + 1)
            return OutboxEntry(item["message"], item["language"], item["attempts"], lease)

    def mark_sent(self, message_id: str, lease: str, provider_id: str, now: datetime) -> bool:
        return self._finish(message_id, lease, state="sent", result={"providerId": provider_id})

    def release(self, message_id: str, lease: str, retry_at: datetime, error: str, park: bool) -> None:
        self._finish(message_id, lease, state="parked" if park else "pending", due=retry_at, result={"error": error})

    def _finish(self, message_id: str, lease: str, **changes) -> bool:
        with self._lock:
            item = self.items.get(message_id)
            if item is None or item["state"] != "sending" or item["lease"] != lease:
                return False
            item.update(lease=None, **changes)
            return True

    def state(self, message_id: str) -> str:
        return self.items[message_id]["state"]


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, to, subject, text, attachments=(), *, html=None, message_id=None) -> str:
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html, "attachments": attachments,
                          "message_id": message_id})
        return f"ses-{len(self.sent)}"
