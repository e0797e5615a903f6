"""Requests with a reminder still to send, read from the sparse `reminders` GSI (one Query per UTC hour), and the
continuation a reminders run stopped by its deadline leaves for the next run (ops table, JOB#send_reminders)."""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError

from chalicelib.adapters.dynamodb.booking_repository import from_item
from chalicelib.adapters.dynamodb.errors import response_code, translated
from chalicelib.adapters.dynamodb.models import OpsItem, ServiceRequestItem
from chalicelib.clock import Clock, system_clock
from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest

CONTINUATION_KEY = ("JOB#send_reminders", "CONTINUATION")
CONTINUATION_TTL = timedelta(days=1)  # runs resume at most an hour back; a leftover just expires


class DynamoReminderQueue:
    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    def due_in_bucket(self, bucket: str, start_from: str, start_to: str) -> list[ServiceRequest]:
        """Requests bucketed under `bucket` (UTC 'YYYY-MM-DDTHH') whose start key lies in [start_from,
        start_to] (ISO UTC strings). GSI reads are eventually consistent: writes stay conditional on rev."""
        condition = ServiceRequestItem.startKey.between(start_from, f"{start_to}~")
        with translated():
            return [from_item(item) for item in ServiceRequestItem.reminders.query(bucket, condition)]

    def load_continuation(self) -> datetime | None:
        with translated():
            try:
                state = OpsItem.get(*CONTINUATION_KEY, consistent_read=True).state
            except OpsItem.DoesNotExist:
                return None
        return codec.parse_iso(state) if state else None

    def save_continuation(self, since: datetime) -> None:
        with translated():
            OpsItem(*CONTINUATION_KEY, state=codec.iso_utc(since), expiresAt=self._clock() + CONTINUATION_TTL).save()

    def clear_continuation(self, since: datetime) -> None:
        """Only the continuation this run resumed: one a concurrent run saved meanwhile stays."""
        with translated():
            try:
                OpsItem(*CONTINUATION_KEY).delete(condition=OpsItem.state == codec.iso_utc(since))
            except DeleteError as exc:
                if response_code(exc) != "ConditionalCheckFailedException":
                    raise
