"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey as URL-safe base64 JSON, plus a check tag.

The tag (a keyed BLAKE2b digest of the JSON) lets the API tell its own cursors from anything else a client
sends, and answer 400 at once; it is not a secret, so a crafted cursor that passes it is still judged by
DynamoDB, whose refusal `translated(cursor=...)` also reports as the client's invalid cursor.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from chalicelib.domain.errors import ValidationFailed

_TAG_KEY = b"service-portal/cursor/v1"


def _tag(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=8, key=_TAG_KEY).hexdigest()


def encode_cursor(key: dict | None) -> str | None:
    if not key:
        return None
    payload = json.dumps(key, separators=(",", ":")).encode()
    return f"{base64.urlsafe_b64encode(payload).decode()}.{_tag(payload)}"


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed("The cursor is not valid.", {"fields": [{"field": "cursor"}]})


def decode_cursor(cursor: str | None) -> dict | None:
    """The start key a cursor carries. Raises ValidationFailed for anything that is not shaped like a key this
    API issued: attribute name -> {"S" | "N" | "B": text}. (A well-shaped key DynamoDB still refuses, e.g. one
    from another index, is reported the same way by `translated(cursor=...)`.)"""
    if not cursor:
        return None
    value = decode_cursor_state(cursor)
    if not is_start_key(value):
        raise invalid_cursor()
    return value


def decode_cursor_state(cursor: str) -> dict:
    """Any JSON object a cursor carries (a start key, or a walk's state around one)."""
    encoded, _, tag = cursor.rpartition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded.encode())
        if not hmac.compare_digest(tag, _tag(payload)):
            raise ValueError("not a cursor this API issued")
        value = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(value, dict):
        raise invalid_cursor()
    return value


def is_start_key(value: object) -> bool:
    return isinstance(value, dict) and 0 < len(value) <= 4 and all(
        isinstance(name, str) and isinstance(attr, dict) and len(attr) == 1
        and next(iter(attr)) in ("S", "N", "B") and isinstance(next(iter(attr.values())), str)
        for name, attr in value.items())
