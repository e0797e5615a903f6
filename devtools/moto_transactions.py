"""DynamoDB transactions for the local stack and the tests that cost what they touch, not the table size.

moto 5's `TransactWriteItems` deep-copies every table named by each item of the transaction before it starts
(to restore them if the transaction is cancelled): with a few thousand capacity items a booking copies the
table two dozen times, local throughput falls below one booking a second and memory grows without bound.
`install()` replaces it with what DynamoDB specifies, in two phases:
  1. check: every item's condition is evaluated against the state before the transaction (items are distinct,
     so no condition can see another item's write); any failure cancels the whole transaction with
     per-item reasons, in request order, and nothing is written;
  2. apply: a snapshot of only the touched items is kept while the writes are applied; a write that fails
     anyway (e.g. an invalid update expression) restores those items and cancels the transaction.
Isolation between concurrent transactions comes from handling one request at a time (devtools/moto_atomic.py
for the moto server, tests/conftest.py in-process), as before.
"""
from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (ConditionalCheckFailed, MockValidationException, MultipleTransactionsException,
                                      TooManyTransactionsException, TransactionCanceledException,
                                      TransactWriteSingleOpException)
from moto.dynamodb.models import DynamoDBBackend

OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")
Reason = tuple[str | None, str | None, dict | None]  # (code, message, item) as moto's exception expects


def install() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    if getattr(DynamoDBBackend.transact_write_items, "_touched_items_only", False):
        return
    transact_write_items._touched_items_only = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items


def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    operations = [_operation(backend, item) for item in transact_items]
    _check_distinct(operations)
    reasons = [_check(backend, op) for op in operations]
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    _apply(backend, operations)


def _operation(backend: DynamoDBBackend, item: dict[str, Any]) -> tuple[str, dict, dict]:
    """(type, request, key) of one transaction item."""
    if len(item) > 1:
        raise TransactWriteSingleOpException
    op_type, op = next(iter(item.items()))
    if op_type not in OPERATIONS:
        raise MockValidationException("Unsupported transaction operation")
    if op_type == "Put":
        table = backend.get_table(op["TableName"])
        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
    else:
        key = op["Key"]
    return op_type, op, key


def _check_distinct(operations: list[tuple[str, dict, dict]]) -> None:
    seen = set()
    for _, op, key in operations:
        target = (op["TableName"], str(dict(sorted(key.items()))))
        if target in seen:
            raise MultipleTransactionsException()
        seen.add(target)


def _check(backend: DynamoDBBackend, operation: tuple[str, dict, dict]) -> Reason:
    _, op, key = operation
    expression = op.get("ConditionExpression")
    if expression is None:
        return None, None, None
    try:
        current = backend.get_item(op["TableName"], key)
        condition = get_filter_expression(expression, op.get("ExpressionAttributeNames"),
                                          op.get("ExpressionAttributeValues"))
        if condition.expr(current):
            return None, None, None
    except MockValidationException:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as this item's cancellation reason, as moto does
        return type(exc).__name__, str(exc), None
    returned = current.to_json()["Attributes"] if (
        current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD") else None
    return "ConditionalCheckFailed", ConditionalCheckFailed().message, returned


def _apply(backend: DynamoDBBackend, operations: list[tuple[str, dict, dict]]) -> None:
    """Write every item; on a failure restore the touched items and cancel with that item's reason."""
    before = [(op["TableName"], key, copy.deepcopy(backend.get_item(op["TableName"], key)))
              for op_type, op, key in operations if op_type != "ConditionCheck"]
    for index, (op_type, op, key) in enumerate(operations):
        try:
            _write(backend, op_type, op, key)
        except Exception as exc:  # noqa: BLE001 - any failure cancels the whole transaction
            _restore(backend, before)
            if isinstance(exc, MockValidationException):
                raise
            reasons: list[Reason] = [(None, None, None)] * len(operations)
            reasons[index] = (type(exc).__name__, str(exc), None)
            raise TransactionCanceledException(reasons) from exc


def _write(backend: DynamoDBBackend, op_type: str, op: dict, key: dict) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                         expression_attribute_values=values)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key, expression_attribute_names=names,
                            expression_attribute_values=values)
    elif op_type == "Update":
        backend.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                            expression_attribute_names=names, expression_attribute_values=values)


def _restore(backend: DynamoDBBackend, before: list[tuple[str, dict, Any]]) -> None:
    for table_name, key, item in before:
        if item is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, item.to_json()["Attributes"])
