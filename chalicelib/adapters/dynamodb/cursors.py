"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey as URL-safe base64 JSON."""
from __future__ import annotations

import base64
import json

from chalicelib.domain.errors import ValidationFailed


def encode_cursor(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode() if key else None


def decode_cursor(cursor: str | None) -> dict | None:
    """Raises ValidationFailed for anything that is not a cursor this API issued."""
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(value, dict):
            raise ValueError
        return value
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("The cursor is not valid.", {"fields": [{"field": "cursor"}]}) from exc
