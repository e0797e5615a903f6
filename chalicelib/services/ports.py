"""Ports the use cases depend on. Adapters (DynamoDB, Stripe, SES, websockets) implement them; tests use fakes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, Protocol

from chalicelib.clock import Clock  # noqa: F401 - the clock port: () -> aware UTC datetime, from the container
from chalicelib.domain.availability import CapacityPlan, CounterSnapshot
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember
from chalicelib.services.outbox_store import OutboxStore  # noqa: F401 - the outbox port, kept beside this module
from chalicelib.domain.principal import Principal
from chalicelib.domain.promotions import PromoRule
from chalicelib.domain.utilisation import TeamCounters


class CatalogRepository(Protocol):
    """Every write also bumps the catalog version, atomically with the change."""

    def version(self) -> int:
        """The catalog's change count (one strongly consistent GetItem; 0 before any write)."""

    def load(self) -> Catalog:
        """The whole catalog (one Query), at least as new as a version() read before it. Raises
        TemporarilyUnavailable/Throttled on infrastructure failure."""

    def put_service(self, service: Service) -> None: ...

    def put_team(self, team: Team, expected_version: int | None = None) -> None:
        """Write a team; with expected_version the write is conditional (raises ConcurrentUpdate)."""

    def put_member(self, member: TeamMember) -> None: ...

    def put_global_blackout(self, blackout: Blackout) -> None: ...


class CatalogSource(Protocol):
    """The catalog as use cases read it (services.catalog.CatalogCache over a CatalogRepository)."""

    def get(self) -> Catalog: ...

    def invalidate(self) -> None:
        """Forget the cached copy: a booking found it stale, or an admin changed it."""


class AuditLog(Protocol):
    def record(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> dict:
        """Append an audit entry for entity (e.g. 'SR#id', 'TEAM#id'); returns the entry."""

    def action(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> "TransactionAction":
        """The same entry as an `extra` action of a service-request transaction: the change and its audit entry
        stand or fall together, so a process killed after the write never leaves a change unaudited."""

    def for_entity(self, entity: str) -> list[dict]: ...

    def entity_page(self, entity: str, cursor: str | None = None, limit: int = 50) -> tuple[list[dict], str | None]:
        """One page of an entity's entries, oldest first, and the next page's cursor (None after the last)."""

    def list(self, day: str | None = None, cursor: str | None = None, limit: int = 50) -> tuple[list[dict], str | None]: ...


class AvailabilityPublisher(Protocol):
    """Tells realtime subscribers that capacity changed. Must never make the caller fail or wait long."""

    def availability_changed(self, service_ids: list[str], team_id: str, local_dates: list[str]) -> None:
        """Capacity of `team_id` changed on these team-local dates, for these services."""

    def emergency_created(self, request_doc: dict) -> None:
        """An emergency request was booked (pushed to admins)."""

    def requests_updated(self, updates: list[tuple[str, dict]]) -> None:
        """(userId, frame) pairs: each frame goes to that user's own connections only."""


class NullPublisher:
    def _nothing(self, *args: object) -> None:
        return None

    availability_changed = emergency_created = requests_updated = _nothing


@dataclass(frozen=True)
class Outcome:
    """What an idempotent submission produced; the idempotency store keeps it and replays it for the same key."""
    ok: bool  # True: body is the result; False: body is the error {code, message, details}
    body: dict
    replayed: bool = False


@dataclass(frozen=True)
class Submission:
    """A stored submission as looked up by its key alone."""
    status: str  # COMPLETED | IN_PROGRESS
    outcome: dict | None


class Idempotency(Protocol):
    """Client Idempotency-Keys, scoped per user and bound to the request body (adapters/idempotency.py)."""

    def run(self, user: str, key: str, body: dict, work: Callable[[], Outcome]) -> Outcome:
        """Run `work` at most once per (user, key); a replay returns the stored Outcome with replayed=True.
        Raises IdempotencyKeyReused, IdempotencyInProgress, TemporarilyUnavailable, and whatever transient
        DomainError `work` raises (nothing is stored then)."""

    def lookup(self, user: str, key: str) -> Submission | None:
        """What became of a submission: None if unknown (never received, or expired)."""

    def completion(self, outcome: Outcome) -> Callable[[Any], None] | None:
        """Inside `run`'s work: a transaction action that stores `outcome` as the submission's answer in the same
        transaction as the write producing it, so a crash cannot separate them (None outside `run`)."""


class SecretSource(Protocol):
    """Stage secrets (adapters/secrets.py). Each raises ConfigurationError when the stage has none."""

    def stripe_api_key(self) -> str: ...

    def stripe_webhook_secret(self) -> str: ...

    def link_signing_secrets(self) -> tuple[str, ...]:
        """The current link secret first (it signs), then any being retired (still accepted)."""


class SeriesClaims(Protocol):
    """Which series a (user, Idempotency-Key) is booking (adapters/dynamodb/series_claims.py)."""

    def claim(self, user: str, key: str, series_id: str) -> str:
        """Claim the key for `series_id` unless an earlier attempt holds it; returns the holding series id."""

    def release(self, user: str, key: str, series_id: str) -> None:
        """Free the key, if `series_id` still holds it."""


# Signals between the booking service and its repository (not HTTP errors: the service decides what they mean).
class MemberBusy(Exception):
    """One of the chosen member's cells is taken; the service tries the next member."""


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
    calls: int  # API calls made so far, failed ones included (reconciliation reports its own as stripeCalls)

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


# A transaction action from the adapter family of the repository it is passed to (e.g. PromoUsage.actions).
TransactionAction = Callable[[Any], None]


class ServiceRequestRepository(Protocol):
    """Service requests and the capacity they hold (adapters/dynamodb/booking_repository.py; tests/fakes.py).
    Every write is conditional: on the request's revision, on the capacity limits, on the team-day's catalog
    fence. Infrastructure failures raise Throttled / TemporarilyUnavailable."""

    def get(self, request_id: str) -> ServiceRequest | None:
        """Strongly consistent read, with the revision the next write is conditional on."""

    def counters(self, first: date, last: date, consistent: bool = False, *,
                 teams: Iterable[str]) -> CounterSnapshot:
        """The counters of `teams` for team-local dates [first, last] (nothing of other teams or days is read)."""

    def list_for_user(self, user_id: str, cursor: str | None,
                      limit: int) -> tuple[list[ServiceRequest], str | None]:
        """Newest first; the cursor is opaque. Raises ValidationFailed for a cursor this API did not issue."""

    def admin_list(self, *, status: str | None, payment_status: str | None, team_id: str | None,
                   start_from: str | None, start_to: str | None, cursor: str | None,
                   limit: int) -> tuple[list[ServiceRequest], str | None]:
        """Filtered by any of the fields, ordered by start; start bounds are ISO UTC strings."""

    def by_series(self, series_id: str) -> list[ServiceRequest]: ...

    def create(self, request: ServiceRequest, plan: CapacityPlan,
               extra: Iterable[TransactionAction] = ()) -> ServiceRequest:
        """Store the request and claim its capacity in one transaction. Raises TeamDayFull, SlotFull,
        MemberBusy, StaleCatalog, ExtraActionFailed (an `extra` action failed its condition)."""

    def move(self, old: ServiceRequest, new: ServiceRequest, old_plan: CapacityPlan, new_plan: CapacityPlan,
             extra: Iterable[TransactionAction] = ()) -> ServiceRequest:
        """Reschedule: release what only the old placement holds, claim what only the new one needs, write the
        request, atomically. Raises as `create`, and StaleRevision."""

    def release(self, old: ServiceRequest, new: ServiceRequest, plan: CapacityPlan,
                extra: Iterable[TransactionAction] = ()) -> ServiceRequest:
        """Give the capacity back and write the new state atomically. Raises StaleRevision,
        ExtraActionFailed."""

    def save(self, old: ServiceRequest, new: ServiceRequest,
             extra: Iterable[TransactionAction] = ()) -> ServiceRequest:
        """A change that holds the same capacity, conditional on `old.revision` (with `extra` actions, one
        transaction). Raises StaleRevision, ExtraActionFailed."""


class CapacityOverrides(Protocol):
    """Admin day overrides on the team-day item (adapters/dynamodb/capacity_store.DayOverrides)."""

    def set(self, team_id: str, local_date: str, limit: int, reason: str) -> None:
        """The day's limit becomes `limit`; bookings already counted stay counted."""

    def fence(self, team_id: str, local_dates: Iterable[str], version: int) -> None:
        """From now on, bookings of these team-days planned from a catalog older than `version` of the team fail
        with StaleCatalog (written before a schedule change that must not be booked past)."""


class CapacityReport(Protocol):
    """The capacity items of one team as the utilisation report reads them (capacity_store.ReportReader)."""

    def team_counters(self, team_id: str, first: date, last: date) -> TeamCounters:
        """Team-day and member-day counters of local dates [first, last]; requests independent of bookings."""


class RevenueLedger(Protocol):
    """Money flows per UTC day and currency, written with the request changes (revenue_ledger.RevenueLedger)."""

    def days(self, first: date, last: date) -> dict[tuple[str, str], dict[str, int]]:
        """(day, currency) -> kind -> amount for UTC days [first, last]; requests independent of bookings."""


class ReminderQueue(Protocol):
    """Requests with a reminder still to send (adapters/dynamodb/reminder_repository.py)."""

    def due_in_bucket(self, bucket: str, start_from: str, start_to: str) -> list[ServiceRequest]:
        """Requests bucketed under the UTC hour `bucket` ('YYYY-MM-DDTHH') starting within [start_from, start_to]
        (ISO UTC); an eventually consistent read."""

    def load_continuation(self) -> datetime | None:
        """When the run a deadline stopped ran (None: the last run finished)."""

    def save_continuation(self, since: datetime) -> None: ...

    def clear_continuation(self, since: datetime) -> None:
        """Remove the continuation if it is still the one saved for `since`."""


class PromoUsage(Protocol):
    """Promotion usage counters as booking-transaction actions (adapters/dynamodb/promo_usage.py)."""

    def actions(self, claim_docs: Iterable[dict], user_id: str, *, consume: bool) -> list[TransactionAction]:
        """Actions consuming (or giving back) one use of each claim stored with a booking's price."""

    def spent(self, labels: Iterable[str]) -> dict:
        """PromoExhausted details ({"rules": [{"ruleId", "scope"}]}) for the labels of a failed transaction;
        no rules when no consuming promotion action failed."""


class PaymentStore(Protocol):
    """Payment bookkeeping (adapters/dynamodb/payments_repository.py): webhook event claims, job checkpoints
    and the payment-specific reads of service requests."""

    def claim_event(self, event_id: str, event_type: str) -> bool:
        """True if this invocation owns the event now; False if it was (or is being) processed."""

    def finish_event(self, event_id: str, outcome: str) -> None: ...

    def release_event(self, event_id: str) -> None:
        """Processing failed: a retry or a replay may take the event again."""

    def event_state(self, event_id: str) -> str | None: ...

    def load_checkpoint(self, job: str) -> dict | None: ...

    def save_checkpoint(self, job: str, doc: dict) -> None: ...

    def clear_checkpoint(self, job: str) -> None: ...

    def open_payments(self) -> Iterator[ServiceRequest]:
        """Requests whose payment is not final (UNPAID, PENDING)."""

    def due_holds(self, now: datetime) -> Iterator[ServiceRequest]:
        """Requests whose `payment.hold_due_at` is at or before `now` (eventually consistent: check again)."""

    def recently_paid(self, updated_since: datetime, starting_from: datetime) -> Iterator[ServiceRequest]:
        """PAID requests changed since `updated_since` whose job starts at or after `starting_from`."""

    def request_id_by_payment_ref(self, ref: str) -> str | None:
        """The request a PaymentIntent id (once its session completed) or open Checkout Session id belongs to."""


class Notifier(Protocol):
    """E-mail (adapters/notifier.py)."""

    def send(self, to: str, subject: str, text: str, attachments: tuple[tuple[str, str, bytes], ...] = (), *,
             html: str | None = None, message_id: str | None = None) -> str:
        """One e-mail with (filename, content type, data) attachments, its Message-ID derived from `message_id`
        when given; returns the provider's message id. Raises TemporarilyUnavailable."""


class PricingRules(Protocol):
    """Promotion rules as pricing reads them (services/promotions.CachedRules over the rule repository)."""

    def list_rules(self) -> list[PromoRule]:
        """Every rule, sorted by (priority, id); may be a cached copy."""

    def refresh(self) -> list[PromoRule]:
        """Every rule, read again now (a typed code unknown to the cached copy)."""

    def exhausted_rule_ids(self, rules: Iterable[PromoRule], user_id: str | None = None) -> set[str]:
        """Those of `rules` whose usage counters reached a limit (display only: one BatchGet of their counters)."""

    def shards_with_room(self, global_limits: dict[str, int]) -> dict[str, list[int]]:
        """Rule id -> the shards of its global limit below their share (strongly consistent read)."""


class Pricer(Protocol):
    """Prices a booking (services/booking_pricing.BookingPricer): the stored quote dict."""

    def __call__(self, service: Service, draft: Any, start: datetime, tz: str, principal: Principal) -> dict:
        """`tz` is the booked team's zone. Raises ValidationFailed, PromoInvalid, PromoExhausted."""
