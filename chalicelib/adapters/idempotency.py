"""Client idempotency keys on DynamoDB with Powertools Idempotency.

A key is scoped to its user (JMESPath `[user, key]`), kept `idempotency_ttl_seconds` (>= 24 h: phones replay
offline queues late), and bound to the request body (`payload_validation_jmespath="body"`). Outcomes that a
retry would not change (2xx and deterministic 4xx) are stored and replayed; transient failures (429/5xx)
raise, which deletes the record so the client's retry runs again.

A booking stores its answer in its own transaction (`completion`): the record turns COMPLETED in the same
TransactWriteItems that writes the booking, so no crash can separate the two, and Powertools' separate
completing write is skipped when it would store that same answer again. A warm booking costs two DynamoDB
requests: the in-progress record's conditional put and the booking transaction.
"""
from __future__ import annotations

import json
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
        store = _completed_in_transaction_aware(DynamoDBPersistenceLayer)(table_name=table_name, boto3_client=client)
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
        _work.fn, _work.record_key, _work.stored = work, None, None
        try:
            stored = self._run(request={"user": user, "key": key, "body": body})
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused(details={"idempotencyKey": key}) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise IdempotencyInProgress(details={"idempotencyKey": key}, retry_after=1) from exc
        except IdempotencyPersistenceLayerError as exc:
            raise TemporarilyUnavailable(retry_after=2) from exc
        finally:
            _work.fn, _work.record_key, _work.stored = None, None, None
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


    def completion(self, outcome: Outcome) -> Callable[[Any], None] | None:
        """A transaction action storing `outcome` as the answer of the submission `run` is working on, in the
        transaction that makes it true (None outside `run`)."""
        record_key = getattr(_work, "record_key", None)
        if record_key is None:
            return None
        stored = _stored_form(outcome)
        response_data = json.dumps(stored, cls=_powertools_encoder(), sort_keys=True)

        def add(tx: Any) -> None:
            from chalicelib.adapters.dynamodb.models import IdempotencyRecordItem as Record

            tx.update("idempotency", Record(record_key), actions=[
                Record.record_status.set("COMPLETED"), Record.response_data.set(response_data)])
            tx.after_commit(lambda: setattr(_work, "stored", stored))
        return add


def _stored_form(outcome: Outcome) -> dict:
    return {"ok": outcome.ok, "body": outcome.body, "replayed": outcome.replayed}


def _powertools_encoder() -> type:
    from aws_lambda_powertools.shared.json_encoder import Encoder

    return Encoder


def _completed_in_transaction_aware(layer: type) -> type:
    """The persistence layer, remembering which record this thread's submission holds (for `completion`) and
    not writing an answer the submission's own transaction already stored."""
    class Layer(layer):  # type: ignore[misc, valid-type]
        def _put_record(self, data_record: Any) -> None:
            super()._put_record(data_record)
            _work.record_key = data_record.idempotency_key

        def _update_record(self, data_record: Any) -> None:
            stored = getattr(_work, "stored", None)
            if stored is not None and data_record.response_data is not None \
                    and json.loads(data_record.response_data) == stored:
                return
            super()._update_record(data_record)
    return Layer


def _execute(request: dict) -> dict:
    outcome: Outcome = _work.fn()
    return {"ok": outcome.ok, "body": outcome.body, "replayed": outcome.replayed}


def _mark_replayed(response: Any, data_record: Any) -> Any:
    return {**response, "replayed": True}
