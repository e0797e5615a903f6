"""An admin settling the reconciliation notes that flag a request: the chosen open notes are marked resolved (who,
when, why) and kept in the request's history, never removed (services/flags.py writes it)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.errors import NothingToResolve
from chalicelib.domain.payment import Change, ReconciliationNote


def notes_resolved(current: ServiceRequest, kinds: frozenset[str] | None, actor: str, now: datetime,
                   reason: str, ids: frozenset[str] | None = None) -> Change:
    """An admin settled the open notes of `kinds` and with `ids` (None: any): they are marked resolved, never
    removed. Raises NothingToResolve when none of them is open (so a repeated call changes nothing and audits
    nothing)."""
    def chosen(note: ReconciliationNote) -> bool:
        return note.is_open and (kinds is None or note.kind in kinds) and (ids is None or note.id in ids)

    notes = current.payment.reconciliation_notes
    if not any(chosen(n) for n in notes):
        open_notes = current.payment.open_notes
        raise NothingToResolve(details={"serviceRequestId": current.id,
                                        "openKinds": sorted({n.kind for n in open_notes}),
                                        "openIds": sorted(n.id for n in open_notes)})
    resolved = tuple(replace(n, resolved_at=now, resolved_by=actor, resolution=reason) if chosen(n) else n
                     for n in notes)
    return Change(current.with_changes(payment=current.payment.with_changes(reconciliation_notes=resolved)),
                  "payment.notes_resolved", reason)
