"""Which occurrences of a card series an event about its one Checkout Session (or shared PaymentIntent) is about.

A series' session carries the series id (`client_reference_id`, `metadata.seriesId`); its events apply to every
occurrence bound to it (or to none yet: a line of the session all the same), never to one bound to another
attempt's session. Stripe's later charge and refund events carry no metadata of ours on the charge; a refund this
app sent names its occurrence (`metadata.serviceRequestId`), one whose id an occurrence recorded is that
occurrence's, and any other refund of the shared PaymentIntent (made in Stripe's dashboard) goes to the series'
anchor (the lowest request id of those paid), where domain/refunds.py flags it for an admin instead of marking anything refunded.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol

from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.refunds import named_request
from chalicelib.services.ports import ServiceRequestRepository

SERIES_PREFIX = "ser_"
MAX_SERIES_ID_LENGTH = 64


class SharedDeps(Protocol):
    requests: ServiceRequestRepository


def series_of(session: Mapping[str, Any]) -> str | None:
    """The series a Checkout Session pays for, or None for a single booking's session."""
    metadata = session.get("metadata") if isinstance(session.get("metadata"), dict) else {}
    for candidate in (metadata.get("seriesId"), session.get("client_reference_id")):
        if isinstance(candidate, str) and candidate.startswith(SERIES_PREFIX) \
                and len(candidate) <= MAX_SERIES_ID_LENGTH:
            return candidate
    return None


def session_members(deps: SharedDeps, series_id: str, session_id: str | None) -> list[str]:
    """Ids of the series' occurrences the session is about, in id order (bound to it, or to no session)."""
    return sorted(r.id for r in deps.requests.by_series(series_id)
                  if r.payment.session_id in (None, session_id))


def refund_target(deps: SharedDeps, request_id: str, refund: Mapping[str, Any]) -> str:
    """The occurrence a refund matched to `request_id` by PaymentIntent belongs to (see the module docstring);
    `request_id` itself unless its payment is shared."""
    found = deps.requests.get(request_id)
    if found is None or not found.payment.shared or found.series_id is None:
        return request_id
    intent = found.payment.payment_intent_id
    members = [r for r in deps.requests.by_series(found.series_id) if _shares(r, intent)]
    if not members:
        return request_id
    named = named_request(refund)
    if any(m.id == named for m in members):
        return str(named)
    owner = next((m.id for m in members if any(r.id and r.id == refund.get("id") for r in m.payment.refunds)), None)
    return owner or min(members, key=lambda m: (m.payment.payment_intent_id != intent, m.id)).id


def _shares(request: ServiceRequest, intent: str | None) -> bool:
    return request.payment.shared and request.payment.payment_intent_id in (None, intent)
