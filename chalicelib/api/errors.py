"""THE table DomainError -> HTTP status, and the one function that renders an error body."""
from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain import errors as e

STATUS_BY_ERROR: dict[type[e.DomainError], int] = {
    e.ValidationFailed: 400,
    e.RangeTooLarge: 400,
    e.IdempotencyKeyRequired: 400,
    e.SignatureInvalid: 400,
    e.Unauthenticated: 401,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.MethodNotAllowed: 405,
    e.SlotFull: 409,
    e.TeamDayFull: 409,
    e.SlotUnavailable: 409,
    e.InvalidState: 409,
    e.BookingInPast: 409,
    e.BookingNotStarted: 409,
    e.CashNotRecorded: 409,
    e.IdempotencyInProgress: 409,
    e.PromoExhausted: 409,
    e.BookedWorkConflict: 409,
    e.ConcurrentUpdate: 409,
    e.ChangeNotAllowed: 409,
    e.RefundRefused: 409,
    e.NothingToResolve: 409,
    e.AlreadyExists: 409,
    e.ServiceInactive: 409,
    e.MemberUnavailable: 409,
    e.IdempotencyKeyReused: 422,
    e.ServiceAreaNotCovered: 422,
    e.PromoInvalid: 422,
    e.CardAmountTooSmall: 422,
    e.Throttled: 429,
    e.PaymentProviderUnavailable: 503,
    e.TemporarilyUnavailable: 503,
    e.ConfigurationError: 503,
}


def status_for(error: e.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def status_for_code(code: str) -> int:
    """Status of an error known only by its code (a stored idempotent outcome)."""
    for cls, status in STATUS_BY_ERROR.items():
        if cls.code == code:
            return status
    return 500


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(error: e.DomainError, headers: dict[str, str] | None = None) -> Response:
    out = {"Content-Type": "application/json", **(headers or {})}
    if error.retry_after is not None:
        out["Retry-After"] = str(error.retry_after)
    if isinstance(error, e.Unauthenticated):  # RFC 9110 section 11.6.1: a 401 names the scheme it wants
        out["WWW-Authenticate"] = "Bearer"
    return Response(body=json.dumps(error_body(error.code, error.message, error.details), separators=(",", ":")),
                    status_code=status_for(error), headers=out)


# Chalice answers some requests itself, before any view runs, with {"Code", "Message"} bodies.
_CHALICE_ERRORS: dict[str, type[e.DomainError]] = {"MethodNotAllowedError": e.MethodNotAllowed,
                                                   "UnsupportedMediaType": e.UnsupportedMediaType}


def in_contract_format(response: Response) -> Response:
    """Chalice's own error answers (405 on a known path, 415) rewritten into the contract's error body; keeps
    their status and headers (e.g. `Allow`). Every other response is returned untouched."""
    body = response.body
    if not (isinstance(body, dict) and set(body) == {"Code", "Message"} and body["Code"] in _CHALICE_ERRORS):
        return response
    error = _CHALICE_ERRORS[body["Code"]](details={"reason": str(body["Message"])[:200]})
    rewritten = error_response(error)
    rewritten.headers = {**(response.headers or {}), **rewritten.headers}
    return rewritten


def plain_error_response(status: int, code: str, message: str,
                         details: dict[str, Any] | None = None) -> Response:
    """For failures that are not DomainErrors (unknown route, unexpected crash)."""
    return Response(body=json.dumps(error_body(code, message, details), separators=(",", ":")), status_code=status,
                    headers={"Content-Type": "application/json"})
