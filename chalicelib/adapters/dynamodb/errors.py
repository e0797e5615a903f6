"""The one place DynamoDB/pynamodb failures become domain errors."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib.domain.errors import DomainError, TemporarilyUnavailable, Throttled, ValidationFailed
from chalicelib.services.retry import with_retries

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

THROTTLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                  "RequestLimitExceeded", "TransactionConflictException", "TransactionInProgressException"}
# Per-item reasons of a cancelled TransactWriteItems that say nothing about the item's condition: another
# transaction held the item, or its partition was throttled. Nothing was written; the same transaction may succeed.
TRANSIENT_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


def response_code(exc: BaseException) -> str | None:
    return getattr(exc, "cause_response_code", None)


def transiently_cancelled(exc: BaseException) -> bool:
    """A cancelled transaction whose items failed only for transient reasons (no condition was found false)."""
    codes = [c for c in cancellation_codes(exc) if c is not None]
    return bool(codes) and all(c in TRANSIENT_REASONS for c in codes)


class _Contended(Exception):
    """A transaction was cancelled only for transient reasons: nothing was written, it may be sent again."""


def resend_while_contended(commit: Callable[[], None], sleep: Callable[[float], None] | None = None) -> None:
    """Run `commit` (a TransactWriteItems) again, a bounded number of times with jittered backoff, while it is
    cancelled only for transient reasons (`transiently_cancelled`); then its last cancellation is raised, which
    `translated` answers as Throttled (429, Retry-After), never a 500. Any other failure is raised at once."""
    last: list[BaseException] = []

    def attempt() -> None:
        try:
            commit()
        except PynamoDBException as exc:
            if not transiently_cancelled(exc):
                raise
            last[:] = [exc]
            raise _Contended() from exc

    with_retries(attempt, retry_on=(_Contended,), sleep=sleep, give_up=lambda: last[0])


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
        if code in THROTTLE_CODES or any(c in THROTTLE_CODES | TRANSIENT_REASONS for c in cancellation_codes(exc)):
            raise Throttled(retry_after=1) from exc
        if code == "ConditionalCheckFailedException" or code == "TransactionCanceledException":
            raise
        raise TemporarilyUnavailable(retry_after=2) from exc


def commit_transaction(tx: "TransactWrite", condition_failed: Callable[[], DomainError] | None = None, *,
                       first_action_only: bool = False) -> bool:
    """Commit `tx` with infrastructure failures translated. A condition found false (on any action, or only on
    the first with `first_action_only`, when the later actions' conditions mean something else) raises
    `condition_failed()`, or returns False without one; True once committed."""
    with translated():
        try:
            with tx:
                pass
        except TransactWriteError as exc:
            codes = cancellation_codes(exc)
            if "ConditionalCheckFailed" in (codes[:1] if first_action_only else codes):
                if condition_failed is None:
                    return False
                raise condition_failed() from exc
            raise
    return True
