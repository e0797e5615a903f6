"""Client idempotency keys on DynamoDB with Powertools Idempotency.

A key is scoped to its user (JMESPath `[user, key]`), kept `idempotency_ttl_seconds` (>= 24 h: phones replay
offline queues late), and bound to the request body (`payload_validation_jmespath="body"`). Outcomes that a
retry would not change (2xx and deterministic 4xx) are stored and replayed; transient failures (429/5xx)
raise, which deletes the record so the client's retry runs again.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from chalicelib.domain.errors import (IdempotencyInProgress, IdempotencyKeyReused, TemporarilyUnavailable)
from chalicelib.services.ports import Outcome, Submission

_work = threading.local()


class PowertoolsIdempotency:
    def __init__(self, table_name: str, region: str, endpoint: str | None, ttl_seconds: int,
                 key_prefix: str) -> None:
        import boto3
        from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer, IdempotencyConfig,
                                                                 idempotent_function)

        client = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
        store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        config = IdempotencyConfig(event_key_jmespath="[user, key]", payload_validation_jmespath="body",
                                   raise_on_no_idempotency_key=True, expires_after_seconds=ttl_seconds,
                                   response_hook=_mark_replayed)
        self._config = config
        self._run = idempotent_function(_execute, data_keyword_argument="request", config=config,
                                        persistence_store=store, key_prefix=key_prefix)
        # A second layer without payload validation, for looking a submission up by key alone
        # (one persistence-layer instance binds to one config).
        self._lookup = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._lookup.configure(IdempotencyConfig(event_key_jmespath="[user, key]",
                                                 expires_after_seconds=ttl_seconds), key_prefix=key_prefix)

    def run(self, user: str, key: str, body: dict, work: Callable[[], Outcome]) -> Outcome:
        """Run `work` at most once per (user, key). Raises IdempotencyKeyReused, IdempotencyInProgress,
        TemporarilyUnavailable, and whatever transient DomainError `work` raises."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError, IdempotencyValidationError)

        from chalicelib.invocation import lambda_context

        context = lambda_context.get()
        if context is not None:
            # Lets an in-progress record expire when this invocation would have timed out, so a crashed
            # attempt blocks the key for seconds, not for the record's whole lifetime.
            self._config.register_lambda_context(context)
        _work.fn = work
        try:
            stored = self._run(request={"user": user, "key": key, "body": body})
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused(details={"idempotencyKey": key}) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise IdempotencyInProgress(details={"idempotencyKey": key}, retry_after=1) from exc
        except IdempotencyPersistenceLayerError as exc:
            raise TemporarilyUnavailable(retry_after=2) from exc
        finally:
            _work.fn = None
        return Outcome(ok=bool(stored["ok"]), body=stored["body"], replayed=bool(stored.get("replayed")))

    def lookup(self, user: str, key: str) -> Submission | None:
        """What became of a submission: None if unknown (never received, or expired)."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemNotFoundError, IdempotencyPersistenceLayerError)

        try:
            record = self._lookup.get_record({"user": user, "key": key})
        except IdempotencyItemNotFoundError:
            return None
        except IdempotencyPersistenceLayerError as exc:
            raise TemporarilyUnavailable(retry_after=2) from exc
        if record is None or record.status == "EXPIRED" or record.is_expired:
            return None
        return Submission(status=record.status, outcome=record.response_json_as_dict())


def _execute(request: dict) -> dict:
    outcome: Outcome = _work.fn()
    return {"ok": outcome.ok, "body": outcome.body, "replayed": outcome.replayed}


def _mark_replayed(response: Any, data_record: Any) -> Any:
    return {**response, "replayed": True}
