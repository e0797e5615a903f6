"""An admin resolving the reconciliation notes that flag a request (`GET /admin/reconciliation/flagged`).

One conditional write on the revision read, with its audit entry in the same transaction. A lost race is not
retried: the request changed under the admin (a new note may have arrived that they have not seen), so they are
told (ConcurrentUpdate) and look again rather than have it resolved unseen.
"""
from __future__ import annotations

from typing import Iterable, Protocol

from chalicelib.domain import codec
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.notes import notes_resolved
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services.ports import AuditLog, Clock, ServiceRequestRepository, StaleRevision


class FlagDeps(Protocol):
    requests: ServiceRequestRepository
    audit: AuditLog
    clock: Clock


def resolve_notes(deps: FlagDeps, admin: Principal, request_id: str, kinds: Iterable[str] | None,
                  reason: str, ids: Iterable[str] | None = None) -> ServiceRequest:
    """Mark the open notes of `kinds` and `ids` (None: any) resolved by `admin`; the request leaves the flagged
    list once none is open. Raises NotFound, NothingToResolve (none of them open: a repeat changes nothing),
    ConcurrentUpdate."""
    current = deps.requests.get(request_id)
    if current is None:
        raise NotFound(details={"serviceRequestId": request_id})
    now = deps.clock()
    change = notes_resolved(current, frozenset(kinds) if kinds is not None else None, admin.actor, now, reason,
                            frozenset(ids) if ids is not None else None)
    new = change.new.with_changes(updated_at=now)
    audit = deps.audit.action(f"SR#{request_id}", admin.actor, change.action, codec.request_to_doc(current),
                              codec.request_to_doc(new), change.reason)
    try:
        saved = deps.requests.save(current, new, (audit,))
    except StaleRevision as exc:
        raise ConcurrentUpdate(details={"serviceRequestId": request_id}) from exc
    count("AdminChange", action="notes_resolved")
    return saved
