"""What a calendar invite says about a service request, independent of the iCalendar format."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chalicelib.domain.booking import ServiceRequest, Status

# Currencies without minor units (ISO 4217 exponent 0) among those we may be paid in.
ZERO_DECIMAL = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"})


@dataclass(frozen=True)
class Invite:
    uid: str
    sequence: int
    cancelled: bool
    start: datetime  # aware UTC
    end: datetime
    zone: str  # IANA zone DTSTART/DTEND are written in
    stamp: datetime  # DTSTAMP (aware UTC)
    summary: str
    location: str
    description: str
    url: str
    organizer: str  # e-mail address
    attendee: str | None = None
    cancel_url: str | None = None


def uid_for(request_id: str) -> str:
    """Stable per request: calendars update/cancel the same event by UID (+ SEQUENCE)."""
    return f"{request_id}@service-portal"


def format_money(amount: int, currency: str) -> str:
    """Minor units -> '123.45 USD' (no float rounding)."""
    currency = (currency or "USD").upper()
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency}"
    return f"{Decimal(amount).scaleb(-2):.2f} {currency}"


def price_total(price: dict) -> tuple[int, str]:
    """The quote's total as (minor units, currency); the total is an int or a Money dict."""
    total = price.get("total", 0)
    if isinstance(total, dict):
        return int(total.get("amount", 0)), str(total.get("currency") or price.get("currency") or "USD")
    return int(total or 0), str(price.get("currency") or "USD")


def build_invite(request: ServiceRequest, *, service_name: str, member_name: str, zone: str, stamp: datetime,
                 organizer: str, portal_url: str, cancel_url: str | None) -> Invite:
    cancelled = request.status is Status.CANCELLED
    amount, currency = price_total(request.price or {})
    lines = [f"Service: {service_name}",
             f"Team member: {member_name}",
             f"Booking reference: {request.id}",
             f"Price: {format_money(amount, currency)}",
             f"Payment status: {request.payment_status.value}",
             f"Manage your booking: {portal_url}"]
    if cancelled:
        lines.insert(0, "This booking has been cancelled.")
    elif cancel_url:
        lines.append(f"Cancel this booking: {cancel_url}")
    return Invite(uid=uid_for(request.id), sequence=request.sequence, cancelled=cancelled,
                  start=request.placement.start, end=request.placement.end, zone=zone, stamp=stamp,
                  summary=service_name, location=request.address, description="\n".join(lines), url=portal_url,
                  organizer=organizer, attendee=request.customer_email,
                  cancel_url=None if cancelled else cancel_url)
