"""DynamoDB stream entry points (AWS stages)."""
from __future__ import annotations

from chalicelib.bootstrap import container
from chalicelib.services.realtime_stream import publish_changes


def on_requests_stream(raw_event: dict) -> dict:
    """Service-requests stream batch -> realtime pushes for the team-days whose capacity changed."""
    return publish_changes(container(), raw_event.get("Records") or [])
