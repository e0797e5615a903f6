"""ICS rendering: parses back with icalendar, iTIP update/cancel semantics, and DST-correct instants."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from chalicelib.adapters.ical import render
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.invite import build_invite, format_money, uid_for

UTC = timezone.utc
STAMP = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def request_at(local: datetime, zone: str, **changes) -> ServiceRequest:
    start = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    placement = Placement(team_id="team-1", member_id="member-1", start=start, end=start + timedelta(hours=2),
                          local_date=local.date().isoformat(), timezone=zone)
    base = ServiceRequest(id="sr_abc", user_id="user-a", service_id="cleaning", placement=placement,
                          status=Status.CONFIRMED, payment_status=PaymentStatus.PAID,
                          payment_method=PaymentMethod.CARD,
                          price={"currency": "USD", "total": 12950, "lines": []}, created_at=STAMP,
                          updated_at=STAMP, address="1 Main St, Springfield", customer_email="user-a@example.com")
    return base.with_changes(**changes)


def ics_for(request: ServiceRequest, zone: str | None = None, cancel_url: str | None = "https://portal/links/t/cancel"):
    invite = build_invite(request, service_name="Home cleaning", member_name="Ava M.",
                          zone=zone or request.placement.timezone, stamp=STAMP, organizer="bookings@example.com",
                          portal_url=f"https://portal/requests/{request.id}", cancel_url=cancel_url)
    return icalendar.Calendar.from_ical(render(invite))


def event_of(cal):
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def test_request_has_the_required_properties():
    cal = ics_for(request_at(datetime(2026, 6, 10, 9, 0), "America/New_York"))
    event = event_of(cal)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == uid_for("sr_abc") == "sr_abc@service-portal"
    assert event.decoded("DTSTAMP") == STAMP
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 6, 10, 13, 0, tzinfo=UTC)
    assert str(event["ORGANIZER"]) == "mailto:bookings@example.com"
    assert str(event["ATTENDEE"]) == "mailto:user-a@example.com"
    assert str(event["SUMMARY"]) == "Home cleaning"
    assert str(event["LOCATION"]) == "1 Main St, Springfield"
    assert str(event["URL"]) == "https://portal/requests/sr_abc"
    assert str(event["STATUS"]) == "CONFIRMED"
    description = str(event["DESCRIPTION"])
    for expected in ("Home cleaning", "Ava M.", "sr_abc", "129.50 USD", "PAID", "https://portal/links/t/cancel"):
        assert expected in description


def test_start_carries_the_team_tzid_and_a_matching_trimmed_vtimezone():
    cal = ics_for(request_at(datetime(2026, 6, 10, 9, 0), "Europe/London"))
    event = event_of(cal)
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event["DTEND"].params["TZID"] == "Europe/London"
    zones = cal.walk("VTIMEZONE")
    assert [str(z["TZID"]) for z in zones] == ["Europe/London"]
    transitions = [c.decoded("DTSTART").year for c in zones[0].walk() if c.name in ("STANDARD", "DAYLIGHT")]
    assert transitions and set(transitions) == {2026}  # trimmed to the event's year, not 1970-2038


def test_reschedule_keeps_uid_and_raises_sequence():
    original = request_at(datetime(2026, 6, 10, 9, 0), "America/New_York")
    moved = request_at(datetime(2026, 6, 11, 14, 0), "America/New_York", sequence=original.sequence + 1)
    before, after = event_of(ics_for(original)), event_of(ics_for(moved))
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART").astimezone(UTC) == datetime(2026, 6, 11, 18, 0, tzinfo=UTC)


def test_cancel_keeps_uid_raises_sequence_and_says_cancelled():
    original = request_at(datetime(2026, 6, 10, 9, 0), "America/New_York", sequence=1)
    cancelled = original.with_changes(status=Status.CANCELLED, sequence=2)
    before = ics_for(original)
    cal = ics_for(cancelled, cancel_url=None)
    event = event_of(cal)
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(event_of(before)["UID"])
    assert int(event["SEQUENCE"]) > int(event_of(before)["SEQUENCE"])
    assert "cancel" not in str(event.get("X-SERVICE-PORTAL-CANCEL-URL", "")).lower()


@pytest.mark.parametrize("local_day, zone, utc_expected", [
    # US spring forward that very morning (02:00 -> 03:00): 09:00 is EDT, UTC-4.
    (date(2026, 3, 8), "America/New_York", datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
    # UK falls back that morning (02:00 BST -> 01:00 GMT): 09:00 is GMT, UTC+0.
    (date(2026, 10, 25), "Europe/London", datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),
    # Sydney leaves daylight time that morning (03:00 AEDT -> 02:00 AEST): 09:00 is AEST, UTC+10.
    (date(2026, 4, 5), "Australia/Sydney", datetime(2026, 4, 4, 23, 0, tzinfo=UTC)),
])
def test_dst_change_days_resolve_to_the_right_instant(local_day, zone, utc_expected):
    request = request_at(datetime.combine(local_day, datetime.min.time()).replace(hour=9), zone)
    assert request.placement.start == utc_expected  # the fixture itself is right
    cal = ics_for(request)
    event = event_of(cal)
    assert event["DTSTART"].params["TZID"] == zone
    # Resolve with the file's own VTIMEZONE (as a calendar client without the IANA database would).
    embedded = cal.walk("VTIMEZONE")[0].to_tz()
    wall = event.decoded("DTSTART").replace(tzinfo=None)
    assert wall == datetime.combine(local_day, datetime.min.time()).replace(hour=9)
    assert wall.replace(tzinfo=embedded).astimezone(UTC) == utc_expected
    # And with the parser's own zone resolution.
    assert event.decoded("DTSTART").astimezone(UTC) == utc_expected


def test_customer_zone_renders_the_same_instant_in_that_zone():
    request = request_at(datetime(2026, 3, 8, 9, 0), "America/New_York")
    cal = ics_for(request, zone="Asia/Tokyo")
    event = event_of(cal)
    assert event["DTSTART"].params["TZID"] == "Asia/Tokyo"
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["Asia/Tokyo"]
    assert event.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 3, 8, 22, 0)
    assert event.decoded("DTSTART").astimezone(UTC) == request.placement.start


def test_utc_zone_is_written_as_utc_without_vtimezone():
    request = request_at(datetime(2026, 3, 8, 9, 0), "America/New_York")
    cal = ics_for(request, zone="UTC")
    assert cal.walk("VTIMEZONE") == []
    assert event_of(cal).decoded("DTSTART") == request.placement.start


def test_no_attendee_without_customer_email():
    event = event_of(ics_for(request_at(datetime(2026, 6, 10, 9, 0), "America/New_York", customer_email=None)))
    assert "ATTENDEE" not in event


@pytest.mark.parametrize("amount, currency, text", [(12950, "USD", "129.50 USD"), (5, "eur", "0.05 EUR"),
                                                    (0, "USD", "0.00 USD"), (1500, "JPY", "1500 JPY")])
def test_money_is_formatted_from_minor_units(amount, currency, text):
    assert format_money(amount, currency) == text
