"""Counts DynamoDB API requests with botocore event hooks (every client created after `install()`)."""
from __future__ import annotations

import threading
from collections import Counter

import botocore.session

_lock = threading.Lock()
calls: Counter = Counter()
_installed = False


def _on_call(model=None, **_kw) -> None:
    with _lock:
        calls[model.name if model is not None else "?"] += 1


def install() -> None:
    """Hook `before-call.dynamodb` on every botocore client created from now on (boto3 and pynamodb)."""
    global _installed
    if _installed:
        return
    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        client = original(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            client.meta.events.register("before-call.dynamodb", _on_call)
        return client

    botocore.session.Session.create_client = create_client
    _installed = True


def reset() -> None:
    with _lock:
        calls.clear()


def total() -> int:
    with _lock:
        return sum(calls.values())


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(calls)
