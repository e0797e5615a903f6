"""Counts DynamoDB API requests and the items they read, with botocore event hooks (every client created after
`install()`).

Items read: a Query or Scan counts `ScannedCount` (what a filter expression drops was still read and paid for),
a GetItem counts its item, a BatchGetItem or TransactGetItems the items it returned; keyed
"<operation>:<index or table>". Writes count no items read.
`intercept` may answer a call instead of sending it (bench/capture.py records write transactions that way).
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

import botocore.session

_lock = threading.Lock()
calls: Counter = Counter()
items: Counter = Counter()  # "<operation>:<index or table>" (just the operation for multi-table ones) -> items
transaction_sizes: list[int] = []  # TransactItems per TransactWriteItems, in call order
_installed = False
# (operation name, request dict) -> (http response, parsed response) to answer the call without sending it, or None.
intercept: Callable[[str, dict], Any] | None = None


def _on_call(model=None, params=None, **_kw):
    name = model.name if model is not None else "?"
    with _lock:
        calls[name] += 1
    if intercept is not None:
        return intercept(name, params)
    return None


def items_in(operation: str, parsed: dict) -> int:
    """Items a response says were read (see the module docstring)."""
    if operation in ("Query", "Scan"):
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "GetItem":
        return 1 if parsed.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(rows) for rows in (parsed.get("Responses") or {}).values())
    if operation == "TransactGetItems":
        return sum(1 for row in parsed.get("Responses") or () if row.get("Item"))
    return 0



def _on_params(params=None, context=None, model=None, **_kw) -> None:
    """Remember which index or table a request reads (the response does not say); record transaction sizes."""
    if isinstance(context, dict) and isinstance(params, dict):
        context["ddb_counter_target"] = params.get("IndexName") or params.get("TableName")
    if model is not None and model.name == "TransactWriteItems" and isinstance(params, dict):
        with _lock:
            transaction_sizes.append(len(params.get("TransactItems", [])))


def _on_response(model=None, parsed=None, context=None, **_kw) -> None:
    if model is None or not isinstance(parsed, dict):
        return
    name = model.name
    read = items_in(name, parsed)
    if read:
        target = (context or {}).get("ddb_counter_target")
        with _lock:
            items[f"{name}:{target}" if target else name] += read


def install() -> None:
    """Hook `before-call.dynamodb` and `after-call.dynamodb` on every botocore client created from now on (boto3
    and pynamodb)."""
    global _installed
    if _installed:
        return
    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-call.dynamodb", _on_call)
            client.meta.events.register("before-parameter-build.dynamodb", _on_params)
            client.meta.events.register("after-call.dynamodb", _on_response)
        return client

    botocore.session.Session.create_client = create_client
    _installed = True


def reset() -> None:
    with _lock:
        calls.clear()
        items.clear()
        transaction_sizes.clear()


def total() -> int:
    with _lock:
        return sum(calls.values())


def items_read() -> int:
    with _lock:
        return sum(items.values())


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(calls)


def items_snapshot() -> dict[str, int]:
    with _lock:
        return dict(items)


def items_read_from(*names: str) -> int:
    """Items read from the tables or indexes named (exact names, e.g. a table name or "holds")."""
    with _lock:
        return sum(n for key, n in items.items() if key.partition(":")[2] in names)
