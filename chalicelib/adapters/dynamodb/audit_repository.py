"""Append-only audit log: by entity (pk) and by UTC day (GSI by_day) for the admin feed."""
from __future__ import annotations

import uuid
from typing import Any, Callable

from chalicelib.clock import Clock, system_clock
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor, invalid_cursor
from chalicelib.adapters.dynamodb.errors import translated
from chalicelib.adapters.dynamodb.models import AuditEntryItem


class DynamoAuditLog:
    def __init__(self, now: Clock = system_clock) -> None:
        self._now = now

    def record(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> dict:
        item = self._item(entity, actor, action, before, after, reason)
        with translated():
            item.save()
        return item.doc

    def action(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> Callable[[Any], None]:
        """The entry as a put of the service-request repository's transaction (its `_Tx`)."""
        item = self._item(entity, actor, action, before, after, reason)

        def add_to(tx: Any) -> None:
            tx.put("audit", item)

        return add_to

    def _item(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
              reason: str | None) -> AuditEntryItem:
        at = self._now()
        entry = {"id": uuid.uuid4().hex, "entity": entity, "actor": actor, "action": action,
                 "at": at.isoformat().replace("+00:00", "Z"), "before": before, "after": after, "reason": reason}
        return AuditEntryItem(entity, f"{entry['at']}#{entry['id']}", day=at.date().isoformat(), doc=entry)

    def for_entity(self, entity: str) -> list[dict]:
        """The whole history (jobs and tests); routes page through `entity_page`."""
        with translated():
            return [item.doc for item in AuditEntryItem.query(entity)]

    def entity_page(self, entity: str, cursor: str | None = None,
                    limit: int = 50) -> tuple[list[dict], str | None]:
        """One page of an entity's history, oldest first: a Query on its partition reading `limit` entries."""
        start_key = decode_cursor(cursor)
        if start_key is not None and (set(start_key) != {"pk", "sk"} or start_key["pk"] != {"S": entity}
                                      or set(start_key["sk"]) != {"S"}):
            raise invalid_cursor()  # another entity's (or index's) cursor
        with translated(cursor):
            result = AuditEntryItem.query(entity, limit=limit, last_evaluated_key=start_key)
            items = [item.doc for item in result]
            return items, encode_cursor(result.last_evaluated_key)

    def list(self, day: str | None = None, cursor: str | None = None,
             limit: int = 50) -> tuple[list[dict], str | None]:
        day = day or self._now().date().isoformat()
        with translated(cursor):
            result = AuditEntryItem.by_day.query(day, scan_index_forward=False, limit=limit,
                                                 last_evaluated_key=decode_cursor(cursor))
            items = [item.doc for item in result]
            return items, encode_cursor(result.last_evaluated_key)
