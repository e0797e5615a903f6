"""Client submissions under an Idempotency-Key: each runs at most once per (user, key), its outcome is stored and
replayed, and an offline queue can ask what became of one."""
from __future__ import annotations

from typing import Any, Callable, Protocol

from chalicelib.domain.booking import PaymentMethod, ServiceRequest
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.principal import Principal
from chalicelib.services import booking
from chalicelib.services.ports import Idempotency, Outcome


class SubmissionDeps(Protocol):
    idempotency: Idempotency


class BookOnceDeps(SubmissionDeps, booking.BookingDeps, Protocol):
    pass


def once_per_key(deps: SubmissionDeps, principal: Principal, key: str, body: dict, action: Callable[[], Any],
                 render: Callable[[Any], dict]) -> Outcome:
    """Run `action` at most once per (user, Idempotency-Key) and return its Outcome (a replay returns the stored
    one). A deterministic DomainError (slot full, invalid promo...) is stored and replayed like a success; a
    transient one raises, which frees the key so the client's retry runs again. A booking an earlier attempt
    stored before it died (its idempotency record lost or expired) is answered as the replay it is."""
    def work() -> Outcome:
        try:
            result = action()
        except booking.AlreadyBooked as found:
            return Outcome(ok=True, body=render(found.request), replayed=True)
        except DomainError as exc:
            if exc.transient:
                raise
            return Outcome(ok=False, body={"code": exc.code, "message": exc.message, "details": exc.details})
        return Outcome(ok=True, body=render(result))

    return deps.idempotency.run(principal.user_id, key, body, work)


def book_once(deps: BookOnceDeps, principal: Principal, key: str, body: dict, draft: booking.BookingDraft,
              render: Callable[[ServiceRequest], dict]) -> Outcome:
    """Book once per (user, Idempotency-Key); the answer is stored by the booking transaction itself."""
    answer = answer_in_transaction(deps, render)
    return once_per_key(deps, principal, key, body,
                        lambda: booking.create(deps, principal, draft, key, answer=answer), render)


def answer_in_transaction(deps: SubmissionDeps, render: Callable[[ServiceRequest], dict]) -> booking.AnswerAction:
    """The 201 a booking answers, stored with the booking in one transaction. Not for a CARD booking: its answer
    carries the Checkout Session opened after the write, so it is stored after it (a crash in between leaves the
    submission in progress; the retry finds the booking and opens the session, see booking.finish_recovered)."""
    def action(request: ServiceRequest):
        if request.payment_method is PaymentMethod.CARD:
            return None
        return deps.idempotency.completion(Outcome(ok=True, body=render(request)))
    return action


def get_submission(deps: SubmissionDeps, principal: Principal, key: str) -> dict:
    """Raises NotFound (never received, expired, or another user's key)."""
    found = deps.idempotency.lookup(principal.user_id, key)
    if found is None:
        raise NotFound("No submission with this Idempotency-Key.", {"idempotencyKey": key})
    if found.status != "COMPLETED":
        return {"idempotencyKey": key, "status": "IN_PROGRESS"}
    outcome = found.outcome or {}
    body = outcome.get("body") or {}
    if outcome.get("ok"):
        return {"idempotencyKey": key, "status": "COMPLETED", "serviceRequestId": body.get("id"), "error": None}
    return {"idempotencyKey": key, "status": "COMPLETED", "serviceRequestId": None, "error": body}
