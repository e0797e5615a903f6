"""Time zones by IANA name: the one loader (cached), with unknown names reported as the client's mistake.

Only canonical zone names are accepted. The system zone database also answers to names that are not zones a
customer or a team can be in — `localtime` (the machine's own zone), the `posix/` and `right/` copies (the latter
counts leap seconds) and `Factory` — so those are refused even though zoneinfo would load them.
"""
from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.errors import ValidationFailed


# IANA names: capitalised area and location parts ("America/New_York", "Etc/GMT+5", "UTC", "EST5EDT").
_CANONICAL = re.compile(r"^[A-Z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")
_NOT_A_PLACE = frozenset({"Factory"})


@lru_cache(maxsize=128)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def load_zone(name: str, field: str = "tz") -> ZoneInfo:
    """IANA zone by name; an unknown or malformed name raises ValidationFailed naming `field`."""
    try:
        if not isinstance(name, str) or len(name) > 64 or not _CANONICAL.match(name) or name in _NOT_A_PLACE:
            raise ValueError(name)
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationFailed("Unknown time zone.", {"fields": [{"field": field, "message":
                                                                  f"not an IANA time zone: {name!r}"}]}) from exc
