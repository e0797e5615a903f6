"""Recurrence: RRULE validation and occurrences at the same local wall time across DST changes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.recurrence import MAX_COUNT, occurrences, parse_rrule

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


def local(y, mo, d, h, mi=0, zone=NY):
    return datetime(y, mo, d, h, mi, tzinfo=zone)


def test_weekly_series_over_the_november_dst_change_keeps_9am_in_new_york():
    start = local(2026, 10, 19, 9)  # Monday, EDT
    series = occurrences("FREQ=WEEKLY;COUNT=4", start, "America/New_York", 120)
    assert [o.local_start.isoformat() for o in series] == [
        "2026-10-19T09:00:00-04:00", "2026-10-26T09:00:00-04:00",
        "2026-11-02T09:00:00-05:00", "2026-11-09T09:00:00-05:00"]
    assert [o.start.hour for o in series] == [13, 13, 14, 14]  # the UTC instant moves, the wall time does not
    assert all(o.end - o.start == timedelta(minutes=120) for o in series)
    assert all(o.start.tzinfo == UTC for o in series)
    doc = series[2].to_dict()
    assert doc["start"] == "2026-11-02T14:00:00Z" and doc["localStart"] == "2026-11-02T09:00:00-05:00"
    assert doc["localEnd"] == "2026-11-02T11:00:00-05:00"


def test_spring_forward_gap_moves_forward_by_the_gap():
    start = local(2026, 3, 1, 2, 30)  # 02:30 EST; 2026-03-08 02:30 does not exist in New York
    series = occurrences("FREQ=WEEKLY;COUNT=3", start, "America/New_York", 60)
    assert [(o.local_start.isoformat(), o.shifted) for o in series] == [
        ("2026-03-01T02:30:00-05:00", False), ("2026-03-08T03:30:00-04:00", True),
        ("2026-03-15T02:30:00-04:00", False)]


def test_fall_back_ambiguous_time_takes_the_first_occurrence():
    start = local(2026, 10, 25, 1, 30)
    second = occurrences("FREQ=WEEKLY;COUNT=2", start, "America/New_York", 60)[1]
    assert second.local_start.isoformat() == "2026-11-01T01:30:00-04:00"
    assert second.start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_wall_time_is_kept_in_the_given_zone_not_the_start_offset():
    # The same instant written in UTC; the series follows London's wall time (BST starts 2026-03-29).
    start = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)  # 09:00 GMT in London
    series = occurrences("FREQ=WEEKLY;COUNT=2", start, "Europe/London", 60)
    assert [o.local_start.isoformat() for o in series] == ["2026-03-23T09:00:00+00:00",
                                                           "2026-03-30T09:00:00+01:00"]


def test_byday_interval_and_monthly_ordinals():
    monday = local(2026, 1, 5, 10)
    weekly = occurrences("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=4", monday, "America/New_York", 60)
    assert [o.local_start.date().isoformat() for o in weekly] == ["2026-01-05", "2026-01-08", "2026-01-19",
                                                                  "2026-01-22"]
    monthly = occurrences("RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", monday, "America/New_York", 60)
    assert [o.local_start.date().isoformat() for o in monthly] == ["2026-01-30", "2026-02-27", "2026-03-27"]
    assert all(o.local_start.hour == 10 for o in monthly)


def test_start_not_matching_byday_begins_at_the_next_match():
    tuesday = local(2026, 1, 6, 10)
    first = occurrences("FREQ=WEEKLY;BYDAY=MO;COUNT=1", tuesday, "America/New_York", 60)[0]
    assert first.local_start.date().isoformat() == "2026-01-12"


def test_until_forms_are_inclusive():
    start = local(2026, 1, 5, 10)
    assert len(occurrences("FREQ=WEEKLY;UNTIL=20260126", start, "America/New_York", 60)) == 4
    assert len(occurrences("FREQ=WEEKLY;UNTIL=20260126T150000Z", start, "America/New_York", 60)) == 4
    assert len(occurrences("FREQ=WEEKLY;UNTIL=20260126T095959", start, "America/New_York", 60)) == 3


def test_limits_at_the_edge_are_accepted():
    start = local(2026, 1, 5, 10)
    assert len(occurrences(f"FREQ=WEEKLY;COUNT={MAX_COUNT}", start, "America/New_York", 60)) == 52
    yearly = occurrences("FREQ=MONTHLY;UNTIL=20270105T100000", start, "America/New_York", 60)
    assert len(yearly) == 13 and yearly[-1].local_start == local(2027, 1, 5, 10)


@pytest.mark.parametrize("text,field", [
    ("", "rrule"),
    ("FREQ=DAILY;COUNT=3", "rrule.FREQ"),
    ("FREQ=YEARLY;COUNT=3", "rrule.FREQ"),
    ("COUNT=3", "rrule.FREQ"),
    ("FREQ=WEEKLY", "rrule.COUNT"),
    ("FREQ=WEEKLY;COUNT=3;UNTIL=20260301", "rrule.COUNT"),
    ("FREQ=WEEKLY;COUNT=53", "rrule.COUNT"),
    ("FREQ=WEEKLY;COUNT=0", "rrule.COUNT"),
    ("FREQ=WEEKLY;COUNT=-1", "rrule.COUNT"),
    ("FREQ=WEEKLY;COUNT=3;INTERVAL=0", "rrule.INTERVAL"),
    ("FREQ=WEEKLY;COUNT=3;BYHOUR=9", "rrule.BYHOUR"),
    ("FREQ=WEEKLY;COUNT=3;BYSETPOS=1", "rrule.BYSETPOS"),
    ("FREQ=WEEKLY;COUNT=3;BYDAY=1MO", "rrule.BYDAY"),
    ("FREQ=MONTHLY;COUNT=3;BYDAY=6MO", "rrule.BYDAY"),
    ("FREQ=WEEKLY;COUNT=3;BYDAY=XX", "rrule.BYDAY"),
    ("FREQ=WEEKLY;COUNT=3;BYDAY=MO,MO", "rrule.BYDAY"),
    ("FREQ=WEEKLY;COUNT=3;COUNT=4", "rrule.COUNT"),
    ("FREQ=WEEKLY;UNTIL=2026-03-01", "rrule.UNTIL"),
    ("FREQ=WEEKLY;UNTIL=20261340", "rrule.UNTIL"),
    ("FREQ=WEEKLY;;COUNT=2", "rrule"),
    ("DTSTART=20260101T000000Z;FREQ=WEEKLY;COUNT=2", "rrule.DTSTART"),
])
def test_invalid_rules_are_rejected_with_the_part_at_fault(text, field):
    with pytest.raises(ValidationFailed) as info:
        parse_rrule(text)
    assert info.value.details["fields"][0]["field"] == field


@pytest.mark.parametrize("text", [
    "FREQ=WEEKLY;UNTIL=20270106",  # one year and a day after the start
    "FREQ=WEEKLY;UNTIL=20251231",  # before the start
    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;UNTIL=20260601",  # more than 52 occurrences
    "FREQ=MONTHLY;BYDAY=5SU;UNTIL=20260301",  # no fifth Sunday in Jan/Feb 2026 after the start: empty
])
def test_rules_whose_expansion_breaks_a_limit(text):
    with pytest.raises(ValidationFailed):
        occurrences(text, local(2026, 1, 5, 10), "America/New_York", 60)


def test_unknown_zone_and_naive_start_are_validation_errors():
    with pytest.raises(ValidationFailed) as info:
        occurrences("FREQ=WEEKLY;COUNT=2", local(2026, 1, 5, 10), "Not/AZone", 60)
    assert info.value.details["fields"][0]["field"] == "tz"
    with pytest.raises(ValidationFailed):
        occurrences("FREQ=WEEKLY;COUNT=2", datetime(2026, 1, 5, 10), "America/New_York", 60)


def test_parsed_rule_round_trips_to_text():
    rule = parse_rrule("rrule:freq=monthly;interval=2;byday=1mo,-1fr;count=6")
    assert rule.to_rrule_string() == "FREQ=MONTHLY;INTERVAL=2;COUNT=6;BYDAY=1MO,-1FR"
    assert parse_rrule(rule.to_rrule_string()) == rule
