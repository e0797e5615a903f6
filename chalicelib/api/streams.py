"""DynamoDB stream entry points (AWS stages)."""
from __future__ import annotations

from chalicelib.bootstrap import container
from chalicelib.services import outbox
from chalicelib.services.message_stream import record_messages
from chalicelib.services.realtime_stream import publish_changes


def on_requests_stream(raw_event: dict) -> dict:
    """Service-requests stream batch -> realtime pushes for the team-days whose capacity changed (first: they are
    the latency-bound part), customer messages recorded in the outbox (a failure to record raises, so the stream
    delivers the batch again; pushing twice is harmless), then the new messages sent at once (what fails there
    waits for the scheduled sender)."""
    deps = container()
    records = raw_event.get("Records") or []
    answer = publish_changes(deps, records)
    recorded = record_messages(deps, records)
    outbox.send_now(deps, recorded)
    return {**answer, "messages": len(recorded)}
