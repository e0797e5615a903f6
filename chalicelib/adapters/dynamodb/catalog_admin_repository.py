"""Admin writes and lists of catalog items (services, teams, members). Each write is one transaction: the item,
conditional on the version the admin read (or on its absence for a create), the catalog version's increment
(catalog_repository.bump_version) and the audit entry; so two admins writing from the same version cannot both
win, and no change is committed without its entry.
"""
from __future__ import annotations

from typing import Any, Callable

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb.catalog_repository import CATALOG_PK, bump_version
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor, invalid_cursor
from chalicelib.adapters.dynamodb.errors import commit_transaction, translated
from chalicelib.adapters.dynamodb.models import CatalogItem
from chalicelib.domain.errors import AlreadyExists, ConcurrentUpdate

KINDS = {"service": "SERVICE", "team": "TEAM", "member": "MEMBER"}
CREATE = 0  # expected_version of a create: the item must not exist yet


class _AuditTx:
    """What an AuditLog.action adds its entry through (the booking repository's _Tx offers the same `put`)."""

    def __init__(self, tx: TransactWrite) -> None:
        self.tx = tx

    def put(self, label: str, item: Any, **kw: Any) -> None:
        self.tx.save(item, **kw)


class DynamoCatalogAdmin:
    def __init__(self) -> None:
        self._connection: Connection | None = None  # built on first write (no I/O at construction)

    def _tx(self) -> TransactWrite:
        if self._connection is None:
            self._connection = Connection(host=CatalogItem.Meta.host, region=CatalogItem.Meta.region)
        return TransactWrite(connection=self._connection)

    def save(self, kind: str, item_id: str, doc: dict, expected_version: int,
             audit: Callable[[Any], None]) -> None:
        """Write the item at `doc["version"]` if the stored one is at `expected_version` (CREATE: absent).
        Raises ConcurrentUpdate (stale version) or AlreadyExists (create of an existing id)."""
        sk = f"{KINDS[kind]}#{item_id}"
        if expected_version == CREATE:
            condition = CatalogItem.sk.does_not_exist()
        else:
            condition = CatalogItem.version == expected_version
        tx = self._tx()
        tx.save(CatalogItem(CATALOG_PK, sk, kind=kind, doc=doc, version=int(doc["version"])), condition=condition)
        bump_version(tx)
        audit(_AuditTx(tx))
        details = {f"{kind}Id": item_id, "expectedVersion": expected_version}
        refused = AlreadyExists if expected_version == CREATE else ConcurrentUpdate
        commit_transaction(tx, lambda: refused(details=details), first_action_only=True)  # the put is first

    def get(self, kind: str, item_id: str) -> dict | None:
        """The stored document with its stored version (strongly consistent: admins edit what is current)."""
        with translated():
            try:
                item = CatalogItem.get(CATALOG_PK, f"{KINDS[kind]}#{item_id}", consistent_read=True)
            except CatalogItem.DoesNotExist:
                return None
        return {**item.doc, "version": int(item.version or 1)}

    def page(self, kind: str, cursor: str | None, limit: int,
             keep: Callable[[dict], bool] = lambda doc: True) -> tuple[list[dict], str | None]:
        """Items of one kind in id order, `limit` at most per page (filtered by `keep`). The catalog partition is
        read from the cursor on and stops at the page's last match, so a page never reads past what it returns
        plus the non-matching items between."""
        prefix = KINDS[kind] + "#"
        start = decode_cursor(cursor)
        if start is not None and (set(start) != {"pk", "sk"} or start["pk"] != {"S": CATALOG_PK}
                                  or not start["sk"].get("S", "").startswith(prefix)):
            raise invalid_cursor()
        out: list[dict] = []
        last_key = None
        with translated(cursor):
            for item in CatalogItem.query(CATALOG_PK, CatalogItem.sk.startswith(prefix), consistent_read=True,
                                          last_evaluated_key=start, page_size=max(limit, 25)):
                last_key = {"pk": {"S": CATALOG_PK}, "sk": {"S": item.sk}}
                doc = {**item.doc, "version": int(item.version or 1)}
                if keep(doc):
                    out.append(doc)
                    if len(out) == limit:
                        return out, encode_cursor(last_key)
        return out, None
