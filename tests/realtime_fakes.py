"""In-memory RealtimeStore and ConnectionPusher (services.realtime ports) for unit tests.

tests/integration/test_realtime_store.py runs one contract against this fake and the DynamoDB store.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime


class FakeRealtimeStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections: dict[str, dict] = {}
        self.channels: dict[str, dict[str, str | None]] = {}  # channel -> connectionId -> endpoint
        self.changes: dict[str, dict[str, dict]] = {}  # serviceId -> cursor -> change

    def add_connection(self, connection_id: str, doc: dict, channels: list[str], expires_at: datetime) -> None:
        with self._lock:
            self.connections[connection_id] = {**doc, "connectionId": connection_id, "expiresAt": expires_at}
            for channel in channels:
                self.channels.setdefault(channel, {})[connection_id] = doc.get("endpoint")

    def connection(self, connection_id: str) -> dict | None:
        with self._lock:
            found = self.connections.get(connection_id)
            return dict(found) if found else None

    def subscribe(self, connection_id: str, channels: list[str], endpoint: str | None,
                  expires_at: datetime) -> None:
        with self._lock:
            for channel in channels:
                self.channels.setdefault(channel, {})[connection_id] = endpoint

    def unsubscribe(self, connection_id: str, channels: list[str]) -> None:
        with self._lock:
            for channel in channels:
                self.channels.get(channel, {}).pop(connection_id, None)

    def channels_of(self, connection_id: str) -> list[str]:
        with self._lock:
            return sorted(c for c, members in self.channels.items() if connection_id in members)

    def subscribers(self, channel: str) -> list[tuple[str, str | None]]:
        with self._lock:
            return sorted(self.channels.get(channel, {}).items())

    def remove_connection(self, connection_id: str) -> int:
        with self._lock:
            removed = 1 if self.connections.pop(connection_id, None) is not None else 0
            for members in self.channels.values():
                removed += int(connection_id in members)
                members.pop(connection_id, None)
            return removed

    def append_change(self, service_id: str, cursor: str, change: dict, expires_at: datetime) -> None:
        with self._lock:
            self.changes.setdefault(service_id, {})[cursor] = json.loads(json.dumps(change))

    def changes_between(self, service_id: str, after: str, up_to: str, limit: int) -> list[dict]:
        with self._lock:
            log = self.changes.get(service_id, {})
            keys = sorted(k for k in log if after < k <= up_to)[:limit]
            return [{**log[k], "cursor": k} for k in keys]


class RecordingPusher:
    """Records frames per connection; ids in `gone` answer like a 410; ids in `broken` raise."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames: dict[str, list[dict]] = {}
        self.gone: set[str] = set()
        self.broken: set[str] = set()

    def endpoint_for(self, domain_name: str | None, stage: str | None) -> str | None:
        return f"https://{domain_name}/{stage}" if domain_name and stage else None

    def send(self, connection_id: str, data: bytes, endpoint: str | None = None) -> bool:
        if connection_id in self.broken:
            raise ConnectionError("management API unreachable")
        if connection_id in self.gone:
            return False
        with self._lock:
            self.frames.setdefault(connection_id, []).append(json.loads(data))
        return True

    def of_type(self, connection_id: str, kind: str) -> list[dict]:
        with self._lock:
            return [f for f in self.frames.get(connection_id, []) if f.get("type") == kind]
