"""The one way a payment state changes: read the request, decide, write conditionally on the revision read.

A lost race (StaleRevision) reads again and decides again; a decision that finds nothing to do writes nothing,
which is why late, duplicated and reordered events converge and a second reconciliation run changes nothing.
A change that ends the request's hold gives its capacity back in the same transaction.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.payment import Decide
from chalicelib.observability import count
from chalicelib.services import booking
from chalicelib.services.ports import StaleRevision

MAX_WRITE_ATTEMPTS = 5


class Applied(NamedTuple):
    outcome: str  # "changed" | "unchanged" | "unknown" (no such request)
    request: ServiceRequest | None


def apply_transition(deps: Any, request_id: str, decide: Decide, actor: str) -> Applied:
    """Raises ConcurrentUpdate after repeated races, Throttled/TemporarilyUnavailable from the store."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = deps.requests.get(request_id)
        if current is None:
            return Applied("unknown", None)
        change = decide(current)
        if change is None:
            return Applied("unchanged", current)
        new = change.new.with_changes(updated_at=deps.clock())
        releases = current.holds_capacity and not new.holds_capacity
        try:
            if releases:
                saved = booking.release_capacity(deps, current, new, booking.plan_of(deps.catalog.get(), current))
            else:
                saved = deps.requests.save(current, new)
        except StaleRevision:
            continue
        deps.audit.record(f"SR#{request_id}", actor, change.action, codec.request_to_doc(current),
                          codec.request_to_doc(saved), change.reason)
        count("PaymentTransition", action=change.action)
        if change.action == "payment.mismatch_flagged":
            count("PaymentMismatch", kind="amount_mismatch")
        if releases:
            _announce_released_capacity(deps, saved)
        return Applied("changed", saved)
    raise ConcurrentUpdate(details={"serviceRequestId": request_id})


def _announce_released_capacity(deps: Any, request: ServiceRequest) -> None:
    # The one call into booking's publishing, so it can follow booking when capacity changes become events.
    booking._publish(deps, request.service_id, request.placement.team_id, [request.placement.local_date])
