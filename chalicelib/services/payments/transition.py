"""The one way a payment state changes: read the request, decide, write conditionally on the revision read.

A lost race (StaleRevision) reads again and decides again, a bounded number of times with jittered backoff
(services/retry.py), then gives up with ConcurrentUpdate; a decision that finds nothing to do writes nothing,
which is why late, duplicated and reordered events converge and a second reconciliation run changes nothing.
A change that ends the request's hold gives its capacity back in the same transaction and publishes
CapacityReleased; its handlers (bootstrap, services/handlers.py) push the availability.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol

from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.payment import Change, Decide
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.services.events import CapacityReleased, EventPublisher
from chalicelib.services.ports import AuditLog, CatalogSource, Clock, StaleRevision, TransactionAction
from chalicelib.services.retry import with_retries

MAX_WRITE_ATTEMPTS = 5  # then ConcurrentUpdate: Stripe redelivers the event, the schedules run again


class TransitionDeps(capacity.ReleaseDeps, Protocol):
    """What every payment state change reads and writes (ending a hold releases its capacity)."""
    catalog: CatalogSource
    audit: AuditLog
    clock: Clock
    events: EventPublisher


class Applied(NamedTuple):
    outcome: str  # "changed" | "unchanged" | "unknown" (no such request)
    request: ServiceRequest | None


def apply_transition(deps: TransitionDeps, request_id: str, decide: Decide, actor: str) -> Applied:
    """Raises ConcurrentUpdate after repeated races, Throttled/TemporarilyUnavailable from the store."""
    def read_decide_write() -> tuple[ServiceRequest | None, Change | None, ServiceRequest | None]:
        current = deps.requests.get(request_id)
        change = decide(current) if current is not None else None
        if change is None:
            return current, None, None
        new = change.new.with_changes(updated_at=deps.clock())
        audit = deps.audit.action(f"SR#{request_id}", actor, change.action, codec.request_to_doc(current),
                                  codec.request_to_doc(new), change.reason)
        return current, change, _write(deps, current, new, audit)

    current, change, saved = with_retries(
        read_decide_write, retry_on=(StaleRevision,), attempts=MAX_WRITE_ATTEMPTS,
        give_up=lambda: ConcurrentUpdate(details={"serviceRequestId": request_id}))
    if current is None:
        return Applied("unknown", None)
    if change is None:
        return Applied("unchanged", current)
    count("PaymentTransition", action=change.action)
    if change.action == "payment.mismatch_flagged":
        count("PaymentMismatch", kind="amount_mismatch")
    if change.action == "payment.dispute_opened":
        count("DisputeOpened")
    if current.holds_capacity and not saved.holds_capacity:
        deps.events.publish(CapacityReleased(saved))
    return Applied("changed", saved)


def _write(deps: TransitionDeps, current: ServiceRequest, new: ServiceRequest,
           audit: TransactionAction) -> ServiceRequest:
    """Conditional on `current.revision` (StaleRevision if it moved); the audit entry is written in the same
    transaction, and so is the release of the hold's capacity when the change ends it. A process killed after
    the write thus leaves the change audited, and the retry's decision finds nothing left to do."""
    if current.holds_capacity and not new.holds_capacity:
        return capacity.release_capacity(deps, current, new, capacity.plan_of(deps.catalog.get(), current),
                                         also=(audit,))
    return deps.requests.save(current, new, (audit,))

