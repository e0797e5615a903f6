"""DomainError hierarchy. Each error has a stable `code` (part of the public contract: extend, never rename).

The HTTP status for each class lives in exactly one place: chalicelib/api/errors.py.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "DOMAIN_ERROR"
    default_message = "The request could not be completed."
    transient = False  # True: retrying later may succeed (never stored as an idempotent outcome)

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None,
                 retry_after: int | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.retry_after = retry_after  # seconds; surfaced as a Retry-After header
        super().__init__(self.message)


# 400
class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid."


class RangeTooLarge(DomainError):
    code = "RANGE_TOO_LARGE"
    default_message = "The requested range is too large."


class IdempotencyKeyRequired(DomainError):
    code = "IDEMPOTENCY_KEY_REQUIRED"
    default_message = "The Idempotency-Key header is required."


class SignatureInvalid(DomainError):
    code = "SIGNATURE_INVALID"
    default_message = "The signature is missing, invalid or too old."


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "The request body must be JSON (Content-Type: application/json)."


# 401 / 403 / 404
class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    default_message = "A valid bearer token is required."


class Forbidden(DomainError):
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_message = "Not found."


class MethodNotAllowed(DomainError):
    code = "METHOD_NOT_ALLOWED"
    default_message = "This method is not allowed on this resource."


# 409
class SlotFull(DomainError):
    code = "SLOT_FULL"
    default_message = "This slot is fully booked."


class TeamDayFull(DomainError):
    code = "TEAM_DAY_FULL"
    default_message = "The team has no capacity left on this day."


class SlotUnavailable(DomainError):
    code = "SLOT_UNAVAILABLE"
    default_message = "This time cannot be booked."


class InvalidState(DomainError):
    code = "INVALID_STATE"
    default_message = "The request is not in a state that allows this."


class BookingInPast(DomainError):
    code = "BOOKING_IN_PAST"
    default_message = "This booking has already started; it can no longer be changed or cancelled here."


class BookingNotStarted(DomainError):
    code = "BOOKING_NOT_STARTED"
    default_message = "The appointment has not begun yet; a no-show can be recorded only after its start."


class CashNotRecorded(DomainError):
    code = "CASH_NOT_RECORDED"
    default_message = "A cash-on-delivery job is completed with the cash collected or with an unpaid reason."


class IdempotencyInProgress(DomainError):
    code = "IDEMPOTENCY_IN_PROGRESS"
    default_message = "A request with this Idempotency-Key is still being processed."


class CardAmountTooSmall(DomainError):
    code = "CARD_AMOUNT_TOO_SMALL"
    default_message = ("The total is below the smallest amount a card can be charged in this currency; pay in cash "
                       "or add to the booking.")


class PromoExhausted(DomainError):
    code = "PROMO_EXHAUSTED"
    default_message = "This promotion has been used up."


class BookedWorkConflict(DomainError):
    code = "BOOKED_WORK_CONFLICT"
    default_message = "The change would affect booked work; pass force with a reason to apply it."


class ChangeNotAllowed(DomainError):
    code = "CHANGE_NOT_ALLOWED"
    default_message = "The service's terms do not allow this change so close to the start."


class RefundRefused(DomainError):
    code = "REFUND_REFUSED"
    default_message = "The payment provider refused this refund; an admin must settle it."


class NothingToResolve(DomainError):
    code = "NOTHING_TO_RESOLVE"
    default_message = "The request has no open reconciliation note of the kinds asked for."


class ConcurrentUpdate(DomainError):
    code = "CONCURRENT_UPDATE"
    default_message = "The resource changed while this request was processed; retry."


class ServiceInactive(DomainError):
    code = "SERVICE_INACTIVE"
    default_message = "This service is no longer offered; bookings made before keep working."


class MemberUnavailable(DomainError):
    code = "MEMBER_UNAVAILABLE"
    default_message = "That member cannot take this booking (busy, off, not skilled or in another team)."


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"
    default_message = "Something with this identifier or code already exists."


# 422
class ServiceAreaNotCovered(DomainError):
    code = "SERVICE_AREA_NOT_COVERED"
    default_message = "No crew serves this location for this service."


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "This Idempotency-Key was used with a different request body."


class PromoInvalid(DomainError):
    code = "PROMO_INVALID"
    default_message = "The promotion code is not valid for this request."


class ConfigurationError(DomainError):
    code = "CONFIGURATION_ERROR"
    default_message = "The service is not configured to do this yet; operators have been alerted."
    transient = True  # fixed by configuration, not by the client: never stored as an idempotent outcome


# 429 / 502 / 503: transient, the client retries after Retry-After
class Throttled(DomainError):
    code = "THROTTLED"
    default_message = "Too many requests; retry later."
    transient = True


class PaymentProviderUnavailable(DomainError):
    code = "PAYMENT_PROVIDER_UNAVAILABLE"
    default_message = "The payment provider is unavailable; the request keeps its payment state, retry later."
    transient = True


class TemporarilyUnavailable(DomainError):
    code = "TEMPORARILY_UNAVAILABLE"
    default_message = "The service is temporarily unavailable; retry later."
    transient = True


def all_error_classes() -> list[type[DomainError]]:
    """Every DomainError subclass, transitively (used by the error-table completeness test)."""
    seen: list[type[DomainError]] = []
    stack = list(DomainError.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen
