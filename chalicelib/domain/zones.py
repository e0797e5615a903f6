"""Time zones by IANA name: the one loader (cached), with unknown names reported as the client's mistake."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.errors import ValidationFailed


@lru_cache(maxsize=128)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def load_zone(name: str, field: str = "tz") -> ZoneInfo:
    """IANA zone by name; an unknown or malformed name raises ValidationFailed naming `field`."""
    try:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(name)
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationFailed("Unknown time zone.", {"fields": [{"field": field, "message":
                                                                  f"not an IANA time zone: {name!r}"}]}) from exc
