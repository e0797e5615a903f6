"""Occurrences of a recurring booking from an RRULE (python-dateutil). Pure Python.

Accepted rules (anything else -> ValidationFailed, 400, with ``details.fields``):
  FREQ=WEEKLY | MONTHLY (required), INTERVAL=1..52, exactly one of COUNT (1..52) or UNTIL (at most one year
  after the start), BYDAY (weekly: MO,TU,...; monthly: also an ordinal such as 1MO or -1FR).
  An optional leading "RRULE:" is ignored. A series never has more than MAX_OCCURRENCES occurrences.

Time zones: occurrences keep the start's LOCAL wall time in the given IANA zone across DST changes. They are
generated as naive local times (the start converted to the zone, offset dropped) and then localised:
  - a wall time that does not exist (spring-forward gap) is read with the offset in force before the gap,
    which moves it forward by the gap's length (02:30 on a 1-hour gap day becomes 03:30);
  - a wall time that occurs twice (fall-back) takes its first occurrence (fold=0, the daylight-time one).
As in RFC 5545 and dateutil, the start itself is the first occurrence only if it matches the rule (a start on
a Tuesday with BYDAY=MO begins on the following Monday). UNTIL is inclusive; a date-only UNTIL means the end of
that local day, a UNTIL with 'Z' is an instant, a UNTIL without 'Z' is a local wall time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.zones import load_zone

MAX_COUNT = 52
MAX_INTERVAL = 52
MAX_OCCURRENCES = 52
ALLOWED_KEYS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY"})
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY_ITEM = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")


def localize(wall: datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    """Naive local wall time -> aware local time, and whether it was shifted out of a DST gap (see module doc)."""
    aware = wall.replace(tzinfo=zone, fold=0)
    normalized = aware.astimezone(timezone.utc).astimezone(zone)
    return normalized, normalized.replace(tzinfo=None) != wall


@dataclass(frozen=True)
class RecurrenceRule:
    freq: str  # "WEEKLY" | "MONTHLY"
    interval: int = 1
    count: int | None = None
    until: str | None = None  # as written (resolved against the start's zone when expanding)
    by_day: tuple[str, ...] = ()

    def to_rrule_string(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until}")
        if self.by_day:
            parts.append("BYDAY=" + ",".join(self.by_day))
        return ";".join(parts)


@dataclass(frozen=True)
class Occurrence:
    index: int  # 0-based position in the series
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    local_start: datetime  # aware, in the series' zone
    local_end: datetime
    shifted: bool = False  # the wall time fell in a DST gap and moved forward

    def to_dict(self) -> dict:
        from chalicelib.domain.codec import iso_utc
        return {"index": self.index, "start": iso_utc(self.start), "end": iso_utc(self.end),
                "localStart": self.local_start.isoformat(), "localEnd": self.local_end.isoformat(),
                "shifted": self.shifted}


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("The recurrence rule is not valid.",
                            {"fields": [{"field": f"rrule.{field}" if field else "rrule", "message": message}]})


def _positive_int(key: str, raw: str, maximum: int) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise _invalid(key, f"must be an integer from 1 to {maximum}")
    return int(raw)


def parse_rrule(text: str) -> RecurrenceRule:
    """Parse and validate an RRULE string (see the module docstring for what is accepted).

    Raises ValidationFailed with the offending part in ``details.fields``.
    """
    if not isinstance(text, str) or not text.strip():
        raise _invalid("", "a rule such as FREQ=WEEKLY;COUNT=4 is required")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts: dict[str, str] = {}
    for chunk in body.split(";"):
        key, sep, value = chunk.partition("=")
        key = key.strip().upper()
        if not sep or not key or not value.strip():
            raise _invalid("", f"malformed part {chunk!r}")
        if key not in ALLOWED_KEYS:
            raise _invalid(key, "not supported (allowed: FREQ, INTERVAL, COUNT, UNTIL, BYDAY)")
        if key in parts:
            raise _invalid(key, "given twice")
        parts[key] = value.strip().upper()

    freq = parts.get("FREQ")
    if freq not in ("WEEKLY", "MONTHLY"):
        raise _invalid("FREQ", "must be WEEKLY or MONTHLY")
    interval = _positive_int("INTERVAL", parts["INTERVAL"], MAX_INTERVAL) if "INTERVAL" in parts else 1
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise _invalid("COUNT", "exactly one of COUNT or UNTIL is required")
    count = _positive_int("COUNT", parts["COUNT"], MAX_COUNT) if "COUNT" in parts else None
    until = parts.get("UNTIL")
    if until is not None:
        _parse_until(until, ZoneInfo("UTC"))  # syntax only; the one-year limit needs the start
    by_day: tuple[str, ...] = ()
    if "BYDAY" in parts:
        items = [item.strip() for item in parts["BYDAY"].split(",")]
        for item in items:
            match = _BYDAY_ITEM.match(item)
            if match is None:
                raise _invalid("BYDAY", f"{item!r} is not a weekday such as MO or 1MO")
            if match.group(1) is not None:
                ordinal = int(match.group(1))
                if freq != "MONTHLY":
                    raise _invalid("BYDAY", "an ordinal weekday (e.g. 1MO) is only allowed with FREQ=MONTHLY")
                if ordinal == 0 or abs(ordinal) > 5:
                    raise _invalid("BYDAY", "the ordinal must be 1..5 or -1..-5")
        if len(set(items)) != len(items):
            raise _invalid("BYDAY", "a weekday is listed twice")
        by_day = tuple(items)
    return RecurrenceRule(freq=freq, interval=interval, count=count, until=until, by_day=by_day)


def _parse_until(raw: str, zone: ZoneInfo) -> datetime:
    """UNTIL -> naive local wall time in ``zone`` (inclusive bound for the naive local expansion)."""
    try:
        if re.fullmatch(r"\d{8}", raw):
            return datetime.combine(datetime.strptime(raw, "%Y%m%d").date(), datetime.max.time())
        if re.fullmatch(r"\d{8}T\d{6}Z", raw):
            instant = datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            return instant.astimezone(zone).replace(tzinfo=None)
        if re.fullmatch(r"\d{8}T\d{6}", raw):
            return datetime.strptime(raw, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise _invalid("UNTIL", f"{raw!r} is not a valid date") from exc
    raise _invalid("UNTIL", "must look like 20261231, 20261231T235959 or 20261231T235959Z")


def _weekday(item: str):
    from dateutil.rrule import weekday

    match = _BYDAY_ITEM.match(item)
    assert match is not None  # validated by parse_rrule
    ordinal = int(match.group(1)) if match.group(1) else None
    return weekday(WEEKDAY_CODES.index(match.group(2)), ordinal)


def occurrences(rule: RecurrenceRule | str, start: datetime, tz: str, duration_minutes: int) -> list[Occurrence]:
    """Expand a rule from ``start`` (aware) at the same local wall time in IANA zone ``tz``.

    Raises ValidationFailed for an invalid rule or zone, an UNTIL later than one year after the start, or more
    than MAX_OCCURRENCES occurrences.
    """
    from dateutil.relativedelta import relativedelta
    from dateutil.rrule import MONTHLY, WEEKLY, rrule

    if isinstance(rule, str):
        rule = parse_rrule(rule)
    if start.tzinfo is None:
        raise ValidationFailed("The start needs a UTC offset.", {"fields": [{"field": "start"}]})
    zone = load_zone(tz)
    wall_start = start.astimezone(zone).replace(tzinfo=None)
    until = None
    if rule.until is not None:
        until = _parse_until(rule.until, zone)
        if until > wall_start + relativedelta(years=1):
            raise _invalid("UNTIL", "must be at most one year after the start")
        if until < wall_start:
            raise _invalid("UNTIL", "is before the start")
    walls = list(rrule(WEEKLY if rule.freq == "WEEKLY" else MONTHLY, dtstart=wall_start, interval=rule.interval,
                       count=rule.count, until=until,
                       byweekday=[_weekday(d) for d in rule.by_day] or None)[:MAX_OCCURRENCES + 1])
    if len(walls) > MAX_OCCURRENCES:
        raise _invalid("", f"the series has more than {MAX_OCCURRENCES} occurrences")
    if not walls:
        raise _invalid("", "the rule produces no occurrence")
    duration = timedelta(minutes=duration_minutes)
    out = []
    for index, wall in enumerate(walls):
        local_start, shifted = localize(wall, zone)
        start_utc = local_start.astimezone(timezone.utc)
        end_utc = start_utc + duration  # elapsed time: a visit lasts as long on a DST-change day
        out.append(Occurrence(index=index, start=start_utc, end=end_utc, local_start=local_start,
                              local_end=end_utc.astimezone(zone), shifted=shifted))
    return out
