"""Which series a (user, Idempotency-Key) is booking: one claim item in the ops table per key, taken with a
conditional put (its `state` is the series id) and kept as long as an idempotency record (a phone may replay its queue a day later).

The claim is what makes a series exactly once across crashes: its occurrences' request ids derive from the
claimed series id, so a retry of the same key books the same ids (DynamoDB refuses the ones already stored)
instead of a second series. A rolled-back series releases its claim, so the next attempt books afresh.
"""
from __future__ import annotations

import hashlib

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.adapters.dynamodb.errors import response_code, translated
from chalicelib.adapters.dynamodb.models import OpsItem
from chalicelib.clock import Clock, epoch_seconds, system_clock


class DynamoSeriesClaims:
    def __init__(self, ttl_seconds: int, clock: Clock = system_clock) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def claim(self, user: str, key: str, series_id: str) -> str:
        """Claim the key for `series_id` unless an earlier attempt holds it; returns the holding series id."""
        from datetime import datetime, timezone

        pk = _claim_key(user, key)
        expires = datetime.fromtimestamp(epoch_seconds(self._clock) + self._ttl_seconds, tz=timezone.utc)
        with translated():
            try:
                OpsItem(pk, "CLAIM", state=series_id, expiresAt=expires).save(
                    condition=OpsItem.pk.does_not_exist())
                return series_id
            except PutError as exc:
                if response_code(exc) != "ConditionalCheckFailedException":
                    raise
            return OpsItem.get(pk, "CLAIM", consistent_read=True).state

    def release(self, user: str, key: str, series_id: str) -> None:
        """Free the key, if `series_id` still holds it."""
        with translated():
            try:
                OpsItem(_claim_key(user, key), "CLAIM").delete(condition=OpsItem.state == series_id)
            except DeleteError as exc:
                if response_code(exc) != "ConditionalCheckFailedException":
                    raise


def _claim_key(user: str, key: str) -> str:
    return "SERIES_KEY#" + hashlib.sha256(f"{user}\n{key}".encode("utf-8")).hexdigest()
