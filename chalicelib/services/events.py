"""What the booking and payment use cases report, and the dispatch that runs whoever reacts.

A use case publishes an event once its write stands; the composition root (bootstrap) decides which handlers run
(opening a Checkout Session, pushing availability), so use cases never call into each other's follow-ups.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence, TypeVar, Union

from chalicelib.domain.booking import ServiceRequest


@dataclass(frozen=True)
class BookingCreated:
    """A new booking is stored with its capacity."""
    request: ServiceRequest

    @property
    def changed_days(self) -> list[str]:
        return [self.request.placement.local_date]


@dataclass(frozen=True)
class BookingMoved:
    """A booking was rescheduled (same team; the day may have changed)."""
    before: ServiceRequest
    after: ServiceRequest

    @property
    def request(self) -> ServiceRequest:
        return self.after

    @property
    def changed_days(self) -> list[str]:
        return sorted({self.before.placement.local_date, self.after.placement.local_date})


@dataclass(frozen=True)
class BookingCancelled:
    """A booking was cancelled and its capacity given back."""
    request: ServiceRequest

    @property
    def changed_days(self) -> list[str]:
        return [self.request.placement.local_date]


@dataclass(frozen=True)
class CapacityReleased:
    """A payment state change ended a request's hold (hold expired, payment failed or expired) and gave its
    capacity back. Not BookingCancelled: nobody cancelled the booking, and reactions to a cancellation (e.g.
    telling the customer) must not run when an unpaid hold runs out."""
    request: ServiceRequest

    @property
    def changed_days(self) -> list[str]:
        return [self.request.placement.local_date]


@dataclass(frozen=True)
class SeriesBooked:
    """Every occurrence of a series stands (each already settled as a BookingCreated). A card series gets its
    one Checkout Session here."""
    series_id: str
    requests: tuple[ServiceRequest, ...]


Event = Union[BookingCreated, BookingMoved, BookingCancelled, CapacityReleased, SeriesBooked]
E = TypeVar("E")
D = TypeVar("D")
Handler = Callable[[Any], Any]


class EventPublisher(Protocol):
    def publish(self, event: Event) -> list[Any]: ...


class EventBus:
    """Runs the handlers registered for an event's type, in registration order, in the caller's thread."""

    def __init__(self, handlers: Mapping[type, Sequence[Handler]]) -> None:
        self._handlers = {event_type: tuple(found) for event_type, found in handlers.items()}

    def publish(self, event: Event) -> list[Any]:
        """Every handler's result, in order. A handler that raises stops the dispatch and its error reaches the
        use case; handlers that must never fail it (realtime pushes) catch their own errors."""
        return [handler(event) for handler in self._handlers.get(type(event), ())]


def inject(handler: Callable[[E, D], Any], deps: D) -> Callable[[E], Any]:
    """A handler bound to its dependencies, called with the event alone (cosmicpython's inject_dependencies,
    for handlers that take `(event, deps)`)."""
    def bound(event: E) -> Any:
        return handler(event, deps)

    return bound


def latest_request(request: ServiceRequest, results: list[Any]) -> ServiceRequest:
    """The request as the last handler that changed it returned it (e.g. with its Checkout Session), so the
    caller answers with the stored state without reading it again."""
    for result in results:
        if isinstance(result, ServiceRequest):
            request = result
    return request


def latest_requests(requests: tuple[ServiceRequest, ...], results: list[Any]) -> tuple[ServiceRequest, ...]:
    """The occurrences as the last handler that changed them returned them (a tuple of requests)."""
    for result in results:
        if isinstance(result, (list, tuple)) and all(isinstance(r, ServiceRequest) for r in result):
            requests = tuple(result)
    return requests
