"""Realtime fan-out from the service-requests table's DynamoDB stream (AWS stages).

Pushing inline would add three DynamoDB requests and the websocket posts to every booking request; instead the
booking Lambda only books (3 requests) and this consumer, triggered by the stream, tells subscribers which
team-days changed. Locally (no streams) the same publisher runs inline within a time budget.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from chalicelib.domain.booking import ACTIVE_STATUSES, Status
from chalicelib.observability import count, logger

ACTIVE = {s.value for s in ACTIVE_STATUSES}


def _doc(image: dict | None) -> dict | None:
    """The request document from a stream image (DynamoDB JSON: {"doc": {"S": "<json>"}})."""
    if not image or "doc" not in image:
        return None
    raw = image["doc"].get("S")
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _holds(doc: dict | None) -> tuple[str, str, str] | None:
    """(serviceId, teamId, localDate) of the capacity this version of the request holds, if any."""
    if not doc or doc.get("status") not in ACTIVE:
        return None
    return doc["serviceId"], doc["teamId"], doc["localDate"]


def changes_in(records: Iterable[dict]) -> tuple[dict[str, set[str]], list[dict]]:
    """Team -> team-local dates whose capacity changed, and the emergency requests just created."""
    days: dict[str, set[str]] = {}
    emergencies: list[dict] = []
    for record in records:
        data = record.get("dynamodb") or {}
        old, new = _doc(data.get("OldImage")), _doc(data.get("NewImage"))
        before, after = _holds(old), _holds(new)
        if before != after or (old and new and old.get("cells") != new.get("cells")):
            for held in (before, after):
                if held:
                    days.setdefault(held[1], set()).add(held[2])
        if record.get("eventName") == "INSERT" and new and new.get("priority") == "EMERGENCY" \
                and new.get("status") != Status.CANCELLED.value:
            emergencies.append(new)
    return days, emergencies


def publish_changes(deps: Any, records: Iterable[dict]) -> dict:
    """Push availability for every changed team-day and emergencies to admins. Errors are logged, not raised:
    a failed push must not make the stream retry the batch forever (clients also poll the changes feed)."""
    days, emergencies = changes_in(records)
    catalog = deps.catalog.get()
    for team_id, dates in days.items():
        services = [s.id for s in catalog.services.values() if team_id in s.team_ids]
        try:
            deps.publisher.availability_changed(services, team_id, sorted(dates))
        except Exception:  # noqa: BLE001
            logger.exception("stream push failed", extra={"teamId": team_id})
    for doc in emergencies:
        try:
            deps.publisher.emergency_created(doc)
        except Exception:  # noqa: BLE001
            logger.exception("emergency push failed", extra={"serviceRequestId": doc.get("id")})
    count("RealtimeStreamBatches")
    return {"teamDays": sum(len(d) for d in days.values()), "emergencies": len(emergencies)}
