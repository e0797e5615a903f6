"""Customer messages from the service-requests stream: every change of a request passes through it, so the
booking, reschedule, cancel and payment transactions need no extra write (and cannot forget one).

Each record's old and new images give the messages the change warrants (domain/messages.py); they are recorded
in the outbox, whose conditional put makes a redelivered record (Lambda retries a failed batch, bisects it, the
local poller retries too) record nothing new. Recording failures raise: the stream then delivers the batch again,
so no message is lost to a DynamoDB hiccup.
"""
from __future__ import annotations

import json
from typing import Iterable

from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.messages import Message, messages_for_change
from chalicelib.observability import count, logger
from chalicelib.services import outbox


def _request(image: dict | None) -> ServiceRequest | None:
    raw = (image or {}).get("doc")
    if not raw or not isinstance(raw, str):
        return None
    return codec.request_from_doc(json.loads(raw))


def messages_in(records: Iterable[dict]) -> list[Message]:
    """The messages the changes in `records` (raw stream records, DynamoDB JSON) warrant, in stream order."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

    out: list[Message] = []
    for record in DynamoDBStreamEvent({"Records": list(records)}).records:
        try:
            images = record.dynamodb
            old = _request(images.old_image) if images else None
            new = _request(images.new_image) if images else None
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # Skipped like the realtime consumer does (alarmed there too): retrying it would hold back every
            # message behind it until the record expires.
            count("MessageStreamMalformedRecord")
            logger.error("malformed stream record skipped for messages",
                         extra={"eventID": record.get("eventID"), "error": type(exc).__name__})
            continue
        out.extend(messages_for_change(old, new))
    return out


def record_messages(deps: outbox.OutboxDeps, records: Iterable[dict]) -> list[str]:
    """Record the batch's messages; returns the ids new to the outbox (to send at once)."""
    return outbox.record(deps, messages_in(records))
