"""Ports the use cases depend on. Adapters (DynamoDB, Stripe, SES, websockets) implement them; tests use fakes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Protocol

from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember


class CatalogRepository(Protocol):
    def load(self) -> Catalog:
        """The whole catalog (one Query). Raises TemporarilyUnavailable/Throttled on infrastructure failure."""

    def put_service(self, service: Service) -> None: ...

    def put_team(self, team: Team, expected_version: int | None = None) -> None:
        """Write a team; with expected_version the write is conditional (raises ConcurrentUpdate)."""

    def put_member(self, member: TeamMember) -> None: ...

    def put_global_blackout(self, blackout: Blackout) -> None: ...


class AuditLog(Protocol):
    def record(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> dict:
        """Append an audit entry for entity (e.g. 'SR#id', 'TEAM#id'); returns the entry."""

    def for_entity(self, entity: str) -> list[dict]: ...

    def list(self, day: str | None = None, cursor: str | None = None, limit: int = 50) -> tuple[list[dict], str | None]: ...


class AvailabilityPublisher(Protocol):
    """Tells realtime subscribers that capacity changed. Must never make the caller fail or wait long."""

    def availability_changed(self, service_ids: list[str], team_id: str, local_dates: list[str]) -> None:
        """Capacity of `team_id` changed on these team-local dates, for these services."""

    def emergency_created(self, request_doc: dict) -> None:
        """An emergency request was booked (pushed to admins)."""


class NullPublisher:
    def availability_changed(self, service_ids: list[str], team_id: str, local_dates: list[str]) -> None:
        return None

    def emergency_created(self, request_doc: dict) -> None:
        return None


@dataclass(frozen=True)
class Outcome:
    """What an idempotent submission produced; the idempotency store keeps it and replays it for the same key."""
    ok: bool  # True: body is the result; False: body is the error {code, message, details}
    body: dict
    replayed: bool = False


# Signals between the booking service and its repository (not HTTP errors: the service decides what they mean).
class MemberBusy(Exception):
    """The chosen member's cell lock was taken; the service tries the next member."""


class StaleCatalog(Exception):
    """The team's hours/limits changed since the catalog was cached; reload and retry."""


class StaleRevision(Exception):
    """The request changed since it was read; re-read and decide again."""


class ExtraActionFailed(Exception):
    """An extra action added to a booking transaction (e.g. a promotion usage counter) failed its condition;
    `labels` names the failed actions (e.g. "promo-usage:<ruleId>")."""

    def __init__(self, labels: set[str]) -> None:
        super().__init__(", ".join(sorted(labels)))
        self.labels = labels


class PaymentGateway(Protocol):
    """Stripe Checkout as the payment use cases need it (adapters/stripe_gateway.py). Plain dicts in Stripe's
    shapes; failures are DomainErrors (PaymentProviderUnavailable with retry_after when transient)."""

    def create_checkout_session(self, *, request_id: str, amount: int, currency: str, description: str,
                                expires_at: datetime | int, customer_email: str | None = None,
                                success_url: str | None = None, cancel_url: str | None = None,
                                attempt: int = 1) -> dict:
        """Idempotent per (request_id, attempt). Raises ValidationFailed, InvalidState, PaymentProviderUnavailable."""

    def retrieve_session(self, session_id: str) -> dict:
        """Raises NotFound, PaymentProviderUnavailable."""

    def list_sessions(self, created_gte: datetime | int, limit: int = 100,
                      status: str | None = None) -> Iterator[list[dict]]:
        """Newest first, one list per API page. Raises PaymentProviderUnavailable while iterating."""

    def expire_session(self, session_id: str) -> dict:
        """Already expired/complete is returned as is. Raises NotFound, PaymentProviderUnavailable."""

    def list_undelivered_events(self, since: datetime | int, types: list[str] | None = None) -> Iterator[dict]:
        """Events whose webhook delivery failed or is pending. Raises PaymentProviderUnavailable while iterating."""

    def construct_event(self, raw_body: bytes, signature_header: str | None) -> dict:
        """Verified event dict. Raises SignatureInvalid."""
