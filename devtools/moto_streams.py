"""DynamoDB Streams shard iterators in moto server that do not pile up for ever.

moto keeps every shard iterator it ever handed out (each GetRecords answers with a new one), so the local
stream poller (devtools/stream_poller.py), reading four times a second, would grow the server by a few
megabytes an hour. DynamoDB lets an iterator expire after 15 minutes; `install()` keeps only the newest
MAX_ITERATORS of them, far more than a poller holds at once.
"""
from __future__ import annotations

from typing import Any

from moto.dynamodbstreams.models import DynamoDBStreamsBackend

MAX_ITERATORS = 1000

moto_get_records = DynamoDBStreamsBackend.get_records


def install() -> None:
    """Patch moto's DynamoDB Streams backend (idempotent)."""
    if getattr(DynamoDBStreamsBackend.get_records, "_bounded", False):
        return
    get_records._bounded = True  # type: ignore[attr-defined]
    DynamoDBStreamsBackend.get_records = get_records


def get_records(backend: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    result = moto_get_records(backend, iterator_arn, limit)
    iterators = backend.shard_iterators
    while len(iterators) > MAX_ITERATORS:  # dicts keep insertion order: the first is the oldest
        del iterators[next(iter(iterators))]
    return result
