"""The one place a stripe SDK exception becomes a domain error: what the caller may retry, what Stripe refused."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import (DomainError, InvalidState, NotFound, PaymentProviderUnavailable,
                                      ValidationFailed)


def translate_error(stripe: Any, exc: Exception, refusal: type[DomainError] | None = None) -> DomainError:
    """stripe exception -> DomainError (network/5xx/409/rate limit/credentials -> PaymentProviderUnavailable).

    `refusal`: for an operation whose callers must tell "Stripe said no" from "Stripe could not answer" (creating
    a refund), every answer that retrying the same request cannot change (400/404 invalid_request_error,
    idempotency_error, 402 card_error) becomes this error, with Stripe's code, type, param and message."""
    details = {"provider": "stripe", "providerCode": getattr(exc, "code", None),
               "providerStatus": getattr(exc, "http_status", None)}
    if isinstance(exc, stripe.RateLimitError):
        return PaymentProviderUnavailable(details=details, retry_after=_retry_after(exc, 2))
    if refusal is not None and isinstance(exc, (stripe.IdempotencyError, stripe.InvalidRequestError,
                                                stripe.CardError)):
        return refusal(details={**details, "providerType": _error_type(exc), "param": getattr(exc, "param", None),
                                "providerMessage": first_line(exc)})
    if isinstance(exc, stripe.IdempotencyError):
        # Same attempt key, different parameters: the caller must start a new attempt.
        return InvalidState("The payment session for this attempt was created with different details.",
                            details=details)
    if isinstance(exc, stripe.InvalidRequestError):
        if exc.http_status == 404 or exc.code == "resource_missing":
            return NotFound("The payment session was not found.", details=details)
        return ValidationFailed(first_line(exc) or None, details={**details, "param": getattr(exc, "param", None)})
    if isinstance(exc, stripe.CardError):
        return ValidationFailed(first_line(exc) or None, details=details)
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # Our credentials, not the customer's input: unavailable until an operator fixes the key.
        return PaymentProviderUnavailable(details={**details, "reason": "configuration"}, retry_after=60)
    # APIConnectionError (network, timeout), APIError (5xx, 409 lock conflicts, bad responses), anything else.
    return PaymentProviderUnavailable(details=details, retry_after=_retry_after(exc, 2))


def _error_type(exc: Exception) -> str | None:
    """Stripe's `error.type` (invalid_request_error, idempotency_error, card_error) as the answer carried it."""
    body = getattr(exc, "json_body", None)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def _retry_after(exc: Exception, default: int) -> int:
    headers = getattr(exc, "headers", None) or {}
    try:
        return max(1, int(headers.get("Retry-After") or headers.get("retry-after") or default))
    except (TypeError, ValueError):
        return default


def first_line(exc: Exception) -> str:
    message = getattr(exc, "user_message", None) or str(exc)
    return message.strip().splitlines()[0] if message and message.strip() else ""

