"""Who reacts to each booking and payment event, in order. bootstrap binds every handler to the container.

The checkout handler returns the request as it stored it (with its Checkout Session), and booking.settle answers
with that: the response carries checkoutUrl without reading the request again.
"""
from __future__ import annotations

from typing import Any, Callable

from chalicelib.domain.booking import ServiceRequest
from chalicelib.services import capacity, payments
from chalicelib.services.events import BookingCancelled, BookingCreated, BookingMoved, CapacityReleased, SeriesBooked


def open_checkout(event: BookingCreated, deps: payments.CheckoutDeps) -> ServiceRequest:
    """A CARD booking gets its Checkout Session (a Stripe failure is recorded on the request, never raised)."""
    return payments.checkout_after_booking(deps, event.request)


def open_series_checkout(event: SeriesBooked, deps: payments.SeriesCheckoutDeps) -> list[ServiceRequest]:
    """A card series gets one Checkout Session for all its occurrences (a Stripe failure is recorded on them)."""
    return payments.checkout_series(deps, event.series_id, event.requests)


EVENT_HANDLERS: dict[type, tuple[Callable[[Any, Any], Any], ...]] = {
    BookingCreated: (open_checkout, capacity.publish_booking_change),
    BookingMoved: (capacity.publish_booking_change,),
    BookingCancelled: (capacity.publish_booking_change,),
    CapacityReleased: (capacity.publish_booking_change,),
    SeriesBooked: (open_series_checkout,),
}
