"""Requests with a reminder still to send, read from the sparse `reminders` GSI (one Query per UTC hour)."""
from __future__ import annotations

from chalicelib.adapters.dynamodb.booking_repository import from_item
from chalicelib.adapters.dynamodb.errors import translated
from chalicelib.adapters.dynamodb.models import ServiceRequestItem
from chalicelib.domain.booking import ServiceRequest


class DynamoReminderQueue:
    def due_in_bucket(self, bucket: str, start_from: str, start_to: str) -> list[ServiceRequest]:
        """Requests bucketed under `bucket` (UTC 'YYYY-MM-DDTHH') whose start key lies in [start_from,
        start_to] (ISO UTC strings). GSI reads are eventually consistent: writes stay conditional on rev."""
        condition = ServiceRequestItem.startKey.between(start_from, f"{start_to}~")
        with translated():
            return [from_item(item) for item in ServiceRequestItem.reminders.query(bucket, condition)]
