"""The outbox table (models.OutboxItem): one item per message, written once, claimed with a lease.

Every state change is a conditional write, so concurrent senders never both hold a message: a claim succeeds only
while the message is unsent, unparked and due (`dueAt <= now`), and moves `dueAt` to the lease's end, which makes
it not due for everyone else until the lease runs out (a sender that died holding it). Unsent messages carry
`queue`, so the sparse `due` index lists exactly what is left to send.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.dynamodb.errors import response_code, translated
from chalicelib.adapters.dynamodb.models import OutboxItem
from chalicelib.domain import codec
from chalicelib.domain.messages import Message, OutboxEntry

QUEUE = "due"
SENT_TTL = timedelta(days=90)  # kept a while for support ("did they get it?"), then expired by DynamoDB
CONDITION_FAILED = "ConditionalCheckFailedException"


def _due_key(at: datetime, message_id: str) -> str:
    return f"{codec.iso_utc(at)}#{message_id}"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


class DynamoOutbox:
    def add(self, message: Message, language: str, due_at: datetime) -> bool:
        item = OutboxItem(message.id, queue=QUEUE, dueKey=_due_key(due_at, message.id), dueAt=_epoch(due_at),
                          state="pending", attempts=0,
                          doc={"kind": message.kind, "version": message.version, "language": language,
                               "request": codec.request_to_doc(message.request)})
        try:
            with translated():
                item.save(condition=OutboxItem.id.does_not_exist())
        except PutError as exc:
            if response_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

    def due(self, now: datetime, limit: int) -> list[str]:
        with translated():
            items = OutboxItem.due.query(QUEUE, OutboxItem.dueKey <= f"{codec.iso_utc(now)}#~", limit=limit)
            return [item.id for item in items]

    def claim(self, message_id: str, now: datetime, lease_until: datetime, lease: str) -> OutboxEntry | None:
        item = OutboxItem(message_id)
        condition = (OutboxItem.id.exists() & OutboxItem.state.is_in("pending", "sending")
                     & (OutboxItem.dueAt <= _epoch(now)))
        try:
            with translated():
                item.update(actions=[OutboxItem.state.set("sending"), OutboxItem.lease.set(lease),
                                     OutboxItem.attempts.add(1), OutboxItem.dueAt.set(_epoch(lease_until)),
                                     OutboxItem.dueKey.set(_due_key(lease_until, message_id))],
                            condition=condition)
        except UpdateError as exc:
            if response_code(exc) == CONDITION_FAILED:
                return None
            raise
        doc = item.doc
        message = Message(doc["kind"], doc["version"], codec.request_from_doc(doc["request"]))
        return OutboxEntry(message, doc["language"], int(item.attempts), lease)

    def mark_sent(self, message_id: str, lease: str, provider_id: str, now: datetime) -> bool:
        return self._finish(message_id, lease, [
            OutboxItem.state.set("sent"), OutboxItem.queue.remove(), OutboxItem.dueKey.remove(),
            OutboxItem.result.set({"providerId": provider_id, "sentAt": codec.iso_utc(now)}),
            OutboxItem.expiresAt.set(now + SENT_TTL)])

    def release(self, message_id: str, lease: str, retry_at: datetime, error: str, park: bool) -> None:
        if park:
            actions = [OutboxItem.state.set("parked"), OutboxItem.queue.remove(), OutboxItem.dueKey.remove()]
        else:
            actions = [OutboxItem.state.set("pending"), OutboxItem.dueAt.set(_epoch(retry_at)),
                       OutboxItem.dueKey.set(_due_key(retry_at, message_id))]
        self._finish(message_id, lease, [*actions, OutboxItem.lease.remove(),
                                         OutboxItem.result.set({"error": error[:500]})])

    @staticmethod
    def _finish(message_id: str, lease: str, actions: list) -> bool:
        try:
            with translated():
                OutboxItem(message_id).update(actions=actions, condition=(OutboxItem.state == "sending")
                                              & (OutboxItem.lease == lease))
        except UpdateError as exc:
            if response_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True
