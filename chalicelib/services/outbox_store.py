"""The outbox port (services/outbox.py; adapters/dynamodb/outbox_repository.py; tests/outbox_fakes.py), re-exported
by services/ports.py."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.domain.messages import Message, OutboxEntry


class OutboxStore(Protocol):
    """Messages to send, each stored once (adapters/dynamodb/outbox_repository.py; services/outbox.py)."""
    def add(self, message: Message, language: str, due_at: datetime) -> bool:
        """Store the message unless one with its id exists; False if it did (nothing changed)."""

    def due(self, now: datetime, limit: int) -> list[str]:
        """Ids of unsent, unparked messages due by `now` (or whose claim's lease ran out), oldest first."""

    def claim(self, message_id: str, now: datetime, lease_until: datetime, lease: str) -> OutboxEntry | None:
        """Take the message for one send attempt if it is due; None if sent, parked, leased or not due."""

    def mark_sent(self, message_id: str, lease: str, provider_id: str, now: datetime) -> bool:
        """Record the send; False if the lease was lost meanwhile (another sender may have sent it too)."""

    def release(self, message_id: str, lease: str, retry_at: datetime, error: str, park: bool) -> None:
        """A failed attempt: due again at `retry_at`, or parked (never retried, alarmed) when `park`."""
