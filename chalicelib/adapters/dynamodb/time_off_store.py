"""A member's time off: the member-day capacity items (keys.py) hold its cells as b#<cell> = OFF#<id>, exactly as
a booking holds them, so availability drops the member's slots there and a booking's own condition (cell absent)
can never take them; the record (pk=TIMEOFF#<member>, sk=<start>#<id> in the catalog table, outside the
partition the catalog cache loads) lists it. Creating and deleting are one transaction each with the audit entry.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.capacity_store import plain
from chalicelib.adapters.dynamodb.catalog_admin_repository import _AuditTx
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor, invalid_cursor
from chalicelib.adapters.dynamodb.errors import commit_transaction, translated
from chalicelib.adapters.dynamodb.models import CapacityCounter, CatalogItem
from chalicelib.domain.errors import ConcurrentUpdate

OFF = "OFF#"


def record_key(member_id: str, start: str, time_off_id: str) -> tuple[str, str]:
    return f"TIMEOFF#{member_id}", f"{start}#{time_off_id}"


class DynamoTimeOff:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    def _tx(self) -> TransactWrite:
        if self._connection is None:
            self._connection = Connection(host=CatalogItem.Meta.host, region=CatalogItem.Meta.region)
        return TransactWrite(connection=self._connection)

    def holders(self, team_id: str, member_id: str, tz: str, cells: Iterable[str]) -> dict[str, str]:
        """Cell -> what holds it (a request id, or OFF#<id>) among `cells`: one consistent GetItem per day."""
        by_day: dict[str, list[str]] = {}
        for cell in cells:
            by_day.setdefault(keys.cell_date(cell, tz), []).append(cell)
        out: dict[str, str] = {}
        connection = CapacityCounter._get_connection()
        with translated():
            for day, day_cells in sorted(by_day.items()):
                raw = connection.get_item(*keys.member_day_key(team_id, member_id, day), consistent_read=True)
                item = plain(raw.get("Item")) or {}
                out.update({c: item[keys.BUSY + c] for c in day_cells if keys.BUSY + c in item})
        return out

    def claim(self, team_id: str, member_id: str, tz: str, record: dict, cells: Iterable[str],
              audit: Callable[[Any], None]) -> None:
        """Take `cells` (each must still be free) and write the record, with the audit entry. ConcurrentUpdate:
        a booking took one of them since `holders` was read."""
        tx = self._tx()
        for key, attrs in _by_item(team_id, member_id, tz, cells):
            condition = None
            for attr in attrs:
                term = UnicodeAttribute(attr_name=attr).does_not_exist()
                condition = term if condition is None else condition & term
            tx.update(CapacityCounter(*key), condition=condition,
                      actions=[UnicodeAttribute(attr_name=a).set(OFF + record["id"]) for a in attrs])
        tx.save(CatalogItem(*record_key(member_id, record["start"], record["id"]), kind="timeoff", doc=record),
                condition=CatalogItem.sk.does_not_exist())
        audit(_AuditTx(tx))
        _commit(tx, {"memberId": member_id})

    def release(self, team_id: str, member_id: str, tz: str, record: dict, cells: Iterable[str],
                audit: Callable[[Any], None]) -> None:
        """Free the cells this time off holds (others are left alone) and delete its record, with the audit."""
        held = [c for c, holder in self.holders(team_id, member_id, tz, cells).items()
                if holder == OFF + record["id"]]
        tx = self._tx()
        for key, attrs in _by_item(team_id, member_id, tz, held):
            condition = None
            for attr in attrs:
                term = UnicodeAttribute(attr_name=attr) == OFF + record["id"]
                condition = term if condition is None else condition & term
            tx.update(CapacityCounter(*key), condition=condition,
                      actions=[UnicodeAttribute(attr_name=a).remove() for a in attrs])
        tx.delete(CatalogItem(*record_key(member_id, record["start"], record["id"])),
                  condition=CatalogItem.sk.exists())
        audit(_AuditTx(tx))
        _commit(tx, {"timeOffId": record["id"]})

    def get(self, member_id: str, time_off_id: str) -> dict | None:
        with translated():
            for item in CatalogItem.query(f"TIMEOFF#{member_id}", consistent_read=True):
                if item.doc.get("id") == time_off_id:
                    return item.doc
        return None

    def page(self, member_id: str, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
        """The member's time off by start, `limit` a page (one Query reading what it returns)."""
        start = decode_cursor(cursor)
        if start is not None and (set(start) != {"pk", "sk"} or start["pk"] != {"S": f"TIMEOFF#{member_id}"}):
            raise invalid_cursor()
        with translated(cursor):
            result = CatalogItem.query(f"TIMEOFF#{member_id}", consistent_read=True, limit=limit,
                                       last_evaluated_key=start)
            items = [item.doc for item in result]
            return items, encode_cursor(result.last_evaluated_key)


def _by_item(team_id: str, member_id: str, tz: str, cells: Iterable[str]) -> list[tuple[tuple[str, str], list[str]]]:
    by_day: dict[str, list[str]] = {}
    for cell in sorted(cells):
        by_day.setdefault(keys.cell_date(cell, tz), []).append(keys.BUSY + cell)
    return [(keys.member_day_key(team_id, member_id, day), attrs) for day, attrs in sorted(by_day.items())]


def _commit(tx: TransactWrite, details: dict) -> None:
    commit_transaction(tx, lambda: ConcurrentUpdate(details=details))
