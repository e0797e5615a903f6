"""Pushes to the owner of a service request: `booking.updated` and `payment.updated`, from the requests stream.

Every connection also sits on its user's channel (`USER#<userId>`, joined at $connect), so the owner's open
connections are one Query on the realtime table and nobody else's connection is ever read. Frames carry the
request's current state, not a delta, so a record the stream delivers twice pushes the same frame twice.
"""
from __future__ import annotations

import json
from typing import Iterable

from chalicelib.observability import count, logger

# A change to any of these is a booking change the customer sees (status, time, or which team/crew comes).
BOOKING_FIELDS = ("status", "start", "end", "teamId", "memberId", "localDate")


def user_channel(user_id: str) -> str:
    return f"USER#{user_id}"


def _doc(image: dict | None) -> dict | None:
    raw = (image or {}).get("doc")
    if not raw or not isinstance(raw, str):
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _refunded(doc: dict) -> object:
    return (doc.get("payment") or {}).get("amountRefunded")


def owner_frames(old: dict, new: dict) -> list[dict]:
    """The frames the owner gets for one change of their request (old -> new documents), possibly none."""
    frames: list[dict] = []
    changed = [f for f in BOOKING_FIELDS if old.get(f) != new.get(f)]
    if changed:
        frames.append({"type": "booking.updated", "id": new["id"], "status": new.get("status"),
                       "start": new.get("start"), "end": new.get("end"), "sequence": new.get("sequence"),
                       "changed": changed})
    if old.get("paymentStatus") != new.get("paymentStatus") or _refunded(old) != _refunded(new):
        frame = {"type": "payment.updated", "id": new["id"], "paymentStatus": new.get("paymentStatus")}
        if _refunded(new) is not None:
            frame["amountRefunded"] = _refunded(new)
        frames.append(frame)
    return frames


def owner_updates(records: Iterable[dict]) -> list[tuple[str, dict]]:
    """(userId, frame) for every changed request in deserialized stream records. Only modifications count
    (a new request was just answered to its creator; a removal is TTL housekeeping). A record whose request
    has no owner or no id is skipped and counted: it can go to nobody."""
    out: list[tuple[str, dict]] = []
    for images in records:
        old, new = _doc(images.get("old")), _doc(images.get("new"))
        if old is None or new is None:
            continue
        user_id = new.get("userId")
        if not user_id or not isinstance(user_id, str) or not new.get("id") or old.get("userId") != user_id:
            count("RealtimeOwnerSkipped")
            logger.warning("request change without a single owner not pushed", extra={"id": new.get("id")})
            continue
        out.extend((user_id, frame) for frame in owner_frames(old, new))
    return out
