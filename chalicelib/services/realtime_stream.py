"""Realtime fan-out from the service-requests table's DynamoDB stream (AWS stages).

Pushing inline would add three DynamoDB requests and the websocket posts to every booking request; instead the
booking Lambda only books (3 requests) and this consumer, triggered by the stream, tells subscribers which
team-days changed. Locally (no streams) the same publisher runs inline within a time budget.
"""
from __future__ import annotations

import json
from typing import Iterable, Protocol

from chalicelib.domain.booking import HOLDING_STATUSES, Status
from chalicelib.observability import count, logger
from chalicelib.services.ports import AvailabilityPublisher, CatalogSource
from chalicelib.services.realtime_owner import owner_updates

HOLDING = {s.value for s in HOLDING_STATUSES}


class StreamDeps(Protocol):
    catalog: CatalogSource
    stream_publisher: AvailabilityPublisher  # this consumer IS the delivery for request changes


def _doc(image: dict) -> dict | None:
    """The request document from a deserialized stream image ({"doc": "<json>"}), if it has a readable one."""
    raw = image.get("doc")
    if not raw or not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _holds(doc: dict | None) -> tuple[str, str, str] | None:
    """(serviceId, teamId, localDate) of the capacity this version of the request holds, if any."""
    if not doc or doc.get("status") not in HOLDING:
        return None
    return doc["serviceId"], doc["teamId"], doc["localDate"]


def changes_in(records: Iterable[dict]) -> tuple[dict[str, set[str]], list[dict]]:
    """Team -> team-local dates whose capacity changed, and the emergency requests just created. `records` are
    the raw stream records (DynamoDB JSON); Powertools' data class deserializes their images."""
    # Imported here, not at module level: the data classes package loads every event type (tens of ms), and
    # app.py imports this module in every Lambda of a stream stage, not only in the stream consumer.
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (DynamoDBRecordEventName,
                                                                                     DynamoDBStreamEvent)

    days: dict[str, set[str]] = {}
    emergencies: list[dict] = []
    for record in DynamoDBStreamEvent({"Records": list(records)}).records:
        try:
            images = record.dynamodb
            old, new = (_doc(images.old_image), _doc(images.new_image)) if images else (None, None)
            before, after = _holds(old), _holds(new)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # One unreadable record must not fail the batch: the stream would retry it until it expires and
            # hold back every change behind it. Skipped, counted (alarmed) and logged for a look.
            count("RealtimeStreamMalformedRecord")
            logger.error("malformed stream record skipped", extra={"eventID": record.get("eventID"),
                                                                   "error": type(exc).__name__})
            continue
        if before != after or (old and new and old.get("cells") != new.get("cells")):
            for held in (before, after):
                if held:
                    days.setdefault(held[1], set()).add(held[2])
        if record.event_name is DynamoDBRecordEventName.INSERT and new and new.get("priority") == "EMERGENCY" \
                and new.get("status") != Status.CANCELLED.value:
            emergencies.append(new)
    return days, emergencies


def request_images(records: Iterable[dict]) -> list[dict]:
    """{"old", "new"} deserialized images of each record (either may be None); unreadable records give none."""
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent

    out: list[dict] = []
    for record in DynamoDBStreamEvent({"Records": list(records)}).records:
        try:
            images = record.dynamodb
            out.append({"old": images.old_image, "new": images.new_image} if images else {})
        except (KeyError, TypeError, AttributeError, ValueError):
            continue  # already counted and logged by changes_in
    return out


def publish_changes(deps: StreamDeps, records: Iterable[dict]) -> dict:
    """Push availability for every changed team-day, emergencies to admins, and request changes to their
    owners. Errors are logged, not raised: a failed push must not make the stream retry the batch forever
    (clients also poll the changes feed)."""
    records = list(records)
    days, emergencies = changes_in(records)
    catalog = deps.catalog.get()
    for team_id, dates in days.items():
        services = [s.id for s in catalog.services.values() if team_id in s.team_ids]
        try:
            deps.stream_publisher.availability_changed(services, team_id, sorted(dates))
        except Exception:  # noqa: BLE001
            logger.exception("stream push failed", extra={"teamId": team_id})
    for doc in emergencies:
        try:
            deps.stream_publisher.emergency_created(doc)
        except Exception:  # noqa: BLE001
            logger.exception("emergency push failed", extra={"serviceRequestId": doc.get("id")})
    updates = owner_updates(request_images(records))
    if updates:
        try:
            deps.stream_publisher.requests_updated(updates)
        except Exception:  # noqa: BLE001
            logger.exception("owner push failed")
    count("RealtimeStreamBatches")
    return {"teamDays": sum(len(d) for d in days.values()), "emergencies": len(emergencies),
            "ownerFrames": len(updates)}
