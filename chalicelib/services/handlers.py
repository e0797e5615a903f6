"""Who reacts to each booking event, in order. bootstrap binds every handler to the container.

The checkout handler returns the request as it stored it (with its Checkout Session), and booking.settle answers
with that: the response carries checkoutUrl without reading the request again.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from chalicelib.domain.booking import ServiceRequest
from chalicelib.services import capacity, payments
from chalicelib.services.events import BookingCancelled, BookingCreated, BookingMoved
from chalicelib.services.ports import AuditLog, Clock, PaymentGateway


class CheckoutDeps(capacity.ReleaseDeps, capacity.PublishDeps, Protocol):
    """What opening a Checkout Session reads and writes (its state change goes through payments' conditional
    write, which may release capacity)."""
    stripe: PaymentGateway
    audit: AuditLog
    clock: Clock


def open_checkout(event: BookingCreated, deps: CheckoutDeps) -> ServiceRequest:
    """A CARD booking gets its Checkout Session (a Stripe failure is recorded on the request, never raised)."""
    return payments.checkout_after_booking(deps, event.request)


EVENT_HANDLERS: dict[type, tuple[Callable[[Any, Any], Any], ...]] = {
    BookingCreated: (open_checkout, capacity.publish_booking_change),
    BookingMoved: (capacity.publish_booking_change,),
    BookingCancelled: (capacity.publish_booking_change,),
}
