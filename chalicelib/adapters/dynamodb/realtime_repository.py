"""Websocket connections, channel subscriptions and the availability change log in the realtime table.

Layout (see models.RealtimeItem):
  pk=CONN#<connectionId>          sk=CONN           the connection (who it is), TTL
  pk=CHAN#<channel>               sk=<connectionId> one subscriber of a channel, TTL = the connection's
                                                    (channels: <serviceId>#<day>, ADMINS, USER#<userId>)
  pk=CHANGES#<serviceId>          sk=<cursor>       one availability change (polling fallback), TTL
Connection and subscription items carry `connectionId`, so the sparse by_connection index lists everything a
connection owns (change-log items have no connectionId and stay out of it).
"""
from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamodb.errors import translated
from chalicelib.adapters.dynamodb.models import RealtimeItem

CONNECTION_SK = "CONN"


def _conn_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def _chan_pk(channel: str) -> str:
    return f"CHAN#{channel}"


def _changes_pk(service_id: str) -> str:
    return f"CHANGES#{service_id}"


class DynamoRealtimeStore:
    """Implements services.realtime.RealtimeStore. Raises Throttled/TemporarilyUnavailable on infrastructure
    failure (translated once here)."""

    def add_connection(self, connection_id: str, doc: dict, channels: list[str], expires_at: datetime) -> None:
        with translated(), RealtimeItem.batch_write() as batch:
            batch.save(RealtimeItem(_conn_pk(connection_id), CONNECTION_SK, connectionId=connection_id, doc=doc,
                                    expiresAt=expires_at))
            for channel in channels:
                batch.save(RealtimeItem(_chan_pk(channel), connection_id, connectionId=connection_id,
                                        doc={"endpoint": doc.get("endpoint")}, expiresAt=expires_at))

    def connection(self, connection_id: str) -> dict | None:
        with translated():
            try:
                item = RealtimeItem.get(_conn_pk(connection_id), CONNECTION_SK, consistent_read=True)
            except DoesNotExist:
                return None
        return {**(item.doc or {}), "connectionId": connection_id, "expiresAt": item.expiresAt}

    def subscribe(self, connection_id: str, channels: list[str], endpoint: str | None, expires_at: datetime) -> None:
        with translated(), RealtimeItem.batch_write() as batch:
            for channel in channels:
                batch.save(RealtimeItem(_chan_pk(channel), connection_id, connectionId=connection_id,
                                        doc={"endpoint": endpoint}, expiresAt=expires_at))

    def unsubscribe(self, connection_id: str, channels: list[str]) -> None:
        with translated(), RealtimeItem.batch_write() as batch:
            for channel in channels:
                batch.delete(RealtimeItem(_chan_pk(channel), connection_id))

    def channels_of(self, connection_id: str) -> list[str]:
        """Channels this connection is subscribed to (GSI: eventually consistent)."""
        with translated():
            return [item.pk[len("CHAN#"):] for item in RealtimeItem.by_connection.query(connection_id)
                    if item.pk.startswith("CHAN#")]

    def subscribers(self, channel: str) -> list[tuple[str, str | None]]:
        """(connectionId, management endpoint recorded at connect) of every subscriber: one Query."""
        with translated():
            return [(item.sk, (item.doc or {}).get("endpoint")) for item in RealtimeItem.query(_chan_pk(channel))]

    def remove_connection(self, connection_id: str) -> int:
        """Delete the connection and all its subscriptions; returns how many items were deleted."""
        with translated():
            keys = [(item.pk, item.sk) for item in RealtimeItem.by_connection.query(connection_id)]
            # The connection item itself is deleted by key too: the index may lag a just-written item.
            keys.append((_conn_pk(connection_id), CONNECTION_SK))
            with RealtimeItem.batch_write() as batch:
                for pk, sk in dict.fromkeys(keys):
                    batch.delete(RealtimeItem(pk, sk))
        return len(dict.fromkeys(keys))

    def append_change(self, service_id: str, cursor: str, change: dict, expires_at: datetime) -> None:
        with translated():
            RealtimeItem(_changes_pk(service_id), cursor, doc=change, expiresAt=expires_at).save()

    def changes_between(self, service_id: str, after: str, up_to: str, limit: int) -> list[dict]:
        """Changes with after < cursor <= up_to, oldest first, at most `limit` (strongly consistent)."""
        if after >= up_to:
            return []
        out: list[dict] = []
        with translated():
            for item in RealtimeItem.query(_changes_pk(service_id), RealtimeItem.sk.between(after, up_to),
                                           consistent_read=True, limit=limit + 1):
                if item.sk == after:
                    continue  # BETWEEN is inclusive; the cursor itself was already delivered
                out.append({**(item.doc or {}), "cursor": item.sk})
                if len(out) >= limit:
                    break
        return out
