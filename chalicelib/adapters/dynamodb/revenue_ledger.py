"""The revenue ledger in the ops table (what is counted: domain/revenue.py).

    pk = REVENUE#<yyyy-mm>    sk = <UTC date>#<currency>#<shard>    booked, paid, refunded, codDue, codCollected

Every request write adds its flows here in its own transaction (booking_repository), as unconditional ADDs, so
the ledger and the requests cannot disagree. A request always writes the same one of SHARDS items of a day, and
different requests spread over them: concurrent bookings of different teams rarely touch the same item (they
share no capacity item either). The report is one Query per month, reading at most days x currencies x SHARDS
small items, however many bookings there are.
"""
from __future__ import annotations

import zlib
from datetime import date
from typing import Any, Iterable

from pynamodb.attributes import NumberAttribute

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.capacity_store import plain
from chalicelib.adapters.dynamodb.errors import translated
from chalicelib.adapters.dynamodb.models import OpsItem
from chalicelib.domain import revenue

SHARDS = 16
LABEL = "revenue:"


def ledger_changes(request_id: str, flows: Iterable[revenue.Flow]) -> dict[tuple[str, str], dict[str, int]]:
    """(pk, sk) -> kind -> amount to add: one item per day and currency (a transaction touches an item once)."""
    shard = zlib.crc32(request_id.encode()) % SHARDS
    out: dict[tuple[str, str], dict[str, int]] = {}
    for flow in flows:
        item = out.setdefault((f"REVENUE#{flow.day[:7]}", f"{flow.day}#{flow.currency}#{shard:02d}"), {})
        item[flow.kind] = item.get(flow.kind, 0) + flow.amount
    return out


def add_flows(tx: Any, request_id: str, flows: Iterable[revenue.Flow]) -> None:
    """One unconditional Update per ledger item, added to a labelled transaction (booking_repository._Tx)."""
    for n, (key, amounts) in enumerate(sorted(ledger_changes(request_id, flows).items())):
        tx.update(f"{LABEL}{n}", OpsItem(*key),
                  actions=[NumberAttribute(attr_name=kind).add(amount) for kind, amount in sorted(amounts.items())])


def ledger_rows(items: Iterable[tuple[str, dict]]) -> dict[tuple[str, str], dict[str, int]]:
    """Stored ledger items (sort key, attribute -> value) summed over shards: (day, currency) -> kind -> amount."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for sk, item in items:
        day, currency, _ = sk.split("#")
        row = out.setdefault((day, currency), {})
        for kind in revenue.KINDS:
            row[kind] = row.get(kind, 0) + int(item.get(kind, 0))
    return out


class RevenueLedger:
    """services.ports.RevenueLedger."""

    def days(self, first: date, last: date) -> dict[tuple[str, str], dict[str, int]]:
        connection = OpsItem._get_connection()
        condition = OpsItem.sk.between(first.isoformat(), f"{last.isoformat()}~")
        found: list[tuple[str, dict]] = []
        with translated():
            for month in keys.months_between(first, last):
                start = None
                while True:
                    page = connection.query(f"REVENUE#{month}", range_key_condition=condition,
                                            exclusive_start_key=start)
                    found += [(raw["sk"]["S"], plain(raw)) for raw in page.get("Items", [])]
                    start = page.get("LastEvaluatedKey")
                    if not start:
                        break
        return ledger_rows(found)
