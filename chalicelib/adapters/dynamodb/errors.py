"""The one place DynamoDB/pynamodb failures become domain errors."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from pynamodb.exceptions import PynamoDBException

from chalicelib.domain.errors import DomainError, TemporarilyUnavailable, Throttled, ValidationFailed

THROTTLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                  "RequestLimitExceeded", "TransactionConflictException", "TransactionInProgressException"}


def response_code(exc: BaseException) -> str | None:
    return getattr(exc, "cause_response_code", None)


def cancellation_codes(exc: BaseException) -> list[str | None]:
    """Per-item cancellation reason codes of a failed TransactWriteItems (pynamodb order, see STACK-NOTES)."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [getattr(r, "code", None) if r is not None else None for r in reasons]


@contextmanager
def translated(cursor: str | None = None) -> Iterator[None]:
    """Map throttling/transient infrastructure failures to Throttled / TemporarilyUnavailable (with Retry-After).
    With the client's `cursor`, DynamoDB refusing its start key is the client's invalid cursor (400).

    Conditional-check failures are NOT handled here: callers catch them where they know what they mean.
    """
    try:
        yield
    except DomainError:
        raise
    except PynamoDBException as exc:
        code = response_code(exc)
        if cursor and code == "ValidationException":
            raise ValidationFailed("The cursor is not valid.", {"fields": [{"field": "cursor"}]}) from exc
        if code in THROTTLE_CODES or any(c in THROTTLE_CODES for c in cancellation_codes(exc)):
            raise Throttled(retry_after=1) from exc
        if code == "ConditionalCheckFailedException" or code == "TransactionCanceledException":
            raise
        raise TemporarilyUnavailable(retry_after=2) from exc
