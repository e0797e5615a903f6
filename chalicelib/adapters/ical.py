"""Invite -> iCalendar bytes (RFC 5545 / iTIP), built with icalendar; never hand-written text.

icalendar is imported inside `render` only (cold start). DTSTART/DTEND carry the zone's TZID and the calendar
holds the matching VTIMEZONE, trimmed to the years the event touches so the file stays small.
"""
from __future__ import annotations

from datetime import date

from chalicelib.domain.invite import Invite
from chalicelib.domain.zones import load_zone

PRODID = "-//Service Portal//Bookings//EN"
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"})


def render(invite: Invite) -> bytes:
    from icalendar import Calendar, Event, Timezone, vCalAddress, vText

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if invite.cancelled else "REQUEST")

    if invite.zone in UTC_NAMES:
        start, end = invite.start, invite.end  # written as UTC ("Z"), no VTIMEZONE needed
    else:
        zone = load_zone(invite.zone, field="zone")
        start, end = invite.start.astimezone(zone), invite.end.astimezone(zone)
        first, last = date(start.year, 1, 1), date(end.year + 1, 1, 1)
        cal.add_component(Timezone.from_tzinfo(zone, tzid=invite.zone, first_date=first, last_date=last))

    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", invite.stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", invite.summary)
    if invite.location:
        event.add("location", invite.location)
    event.add("description", invite.description)
    event.add("url", invite.url)
    event.add("status", "CANCELLED" if invite.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")

    organizer = vCalAddress(f"mailto:{invite.organizer}")
    organizer.params["cn"] = vText("Service Portal")
    event.add("organizer", organizer)
    if invite.attendee:
        attendee = vCalAddress(f"mailto:{invite.attendee}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee)
    if invite.cancel_url:
        event.add("x-service-portal-cancel-url", invite.cancel_url)
    cal.add_component(event)
    return cal.to_ical()
