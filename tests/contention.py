"""Transient cancellations injected into TransactWriteItems (a botocore stub in front of moto).

Real DynamoDB cancels a transaction with a per-item reason `TransactionConflict` when another transaction holds
one of its items, and `ThrottlingError` / `ProvisionedThroughputExceeded` when a partition is throttled; moto
never does. `Contention.cancel_next(reason, times, after)` makes `times` TransactWriteItems calls fail that way
(nothing written, like DynamoDB); every other call goes to moto unchanged. `calls` counts the transactions sent.
"""
from __future__ import annotations

import threading

from botocore.client import BaseClient
from botocore.exceptions import ClientError


class Contention:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned: list[str | None] = []  # one entry per coming transaction: a reason, or None (let through)
        self.calls = 0
        self.cancelled = 0

    def cancel_next(self, reason: str, times: int = 1, after: int = 0) -> None:
        """Let `after` more transactions through, then cancel `times` with `reason` (appended to the plan)."""
        with self._lock:
            self._planned.extend([None] * after + [reason] * times)

    def clear(self) -> None:
        with self._lock:
            self._planned.clear()

    def intercept(self, operation: str, kwargs: dict) -> None:
        """Raises the planned cancellation for a TransactWriteItems call, if any is left."""
        if operation != "TransactWriteItems":
            return
        with self._lock:
            self.calls += 1
            if not self._planned:
                return
            reason = self._planned.pop(0)
            if reason is None:
                return
            self.cancelled += 1
        items = kwargs["TransactItems"]
        # The contended item is the first one (the shared team check of a booking); the others did not fail.
        reasons = [{"Code": reason}] + [{"Code": "None"} for _ in items[1:]]
        raise ClientError({"Error": {"Code": "TransactionCanceledException",
                                     "Message": f"Transaction cancelled, please refer cancellation reasons [{reason}]"},
                           "CancellationReasons": reasons}, operation)


def install(monkeypatch) -> Contention:
    contention = Contention()
    original = BaseClient._make_api_call

    def make_api_call(client, operation, kwargs):
        contention.intercept(operation, kwargs)
        return original(client, operation, kwargs)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    return contention
