"""Composition root: builds repositories and gateways lazily, once per warm Lambda container.

Tests swap fakes with `container().override(name=fake)` or `use_container(Container(settings))`.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

from chalicelib.settings import Settings, get_settings


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def override(self, **deps: Any) -> "Container":
        """Replace dependencies (cached_property reads the instance dict first)."""
        self.__dict__.update(deps)
        return self

    @cached_property
    def dynamodb_ready(self) -> bool:
        from chalicelib.adapters.dynamodb.tables import configure_models
        configure_models(self.settings)
        return True

    @cached_property
    def catalog_repo(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
        return DynamoCatalogRepository()

    @cached_property
    def catalog_version(self):
        """The catalog's version, checked (one GetItem) at most every CATALOG_CACHE_SECONDS; shared by the
        catalog cache and the promotion rules cache."""
        from chalicelib.services.catalog import CatalogVersion
        return CatalogVersion(self.catalog_repo.version, ttl_seconds=self.settings.catalog_cache_seconds)

    @cached_property
    def catalog(self):
        from chalicelib.services.catalog import CatalogCache
        return CatalogCache(self.catalog_repo, self.catalog_version)

    @cached_property
    def catalog_admin(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.catalog_admin_repository import DynamoCatalogAdmin
        return DynamoCatalogAdmin()

    @cached_property
    def time_off(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.time_off_store import DynamoTimeOff
        return DynamoTimeOff()

    @cached_property
    def admin_lookups(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.admin_lookups import DynamoAdminLookups
        return DynamoAdminLookups()

    @cached_property
    def audit(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.audit_repository import DynamoAuditLog
        return DynamoAuditLog(now=self._now)

    @cached_property
    def promotions(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository
        # A rule written through this container is priced at once: the next read checks the version again.
        return DynamoPromoRepository(self.settings.dynamodb_endpoint, self.settings.region,
                                     on_write=lambda: self.catalog_version.expire())

    @cached_property
    def pricing_policy(self):
        """Surcharge rates and business hours (defaults in domain.pricing.PricingPolicy)."""
        from chalicelib.domain.pricing import PricingPolicy
        return PricingPolicy()


    @cached_property
    def requests(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
        return DynamoServiceRequestRepository(self.settings.dynamodb_endpoint, self.settings.region,
                                              sleep=self._sleep)

    @cached_property
    def reminder_queue(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.reminder_repository import DynamoReminderQueue
        return DynamoReminderQueue(clock=self._now)

    @cached_property
    def notifier(self):
        """E-mail through SES v2 (boto3 client built on first send)."""
        from chalicelib.adapters.notifier import SesNotifier
        return SesNotifier(self.settings.mail_from, self.settings.region, self.settings.ses_endpoint)

    @cached_property
    def outbox(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.outbox_repository import DynamoOutbox
        return DynamoOutbox()

    @staticmethod
    def render_mail(kind: str, language: str, context: dict) -> tuple[str, str, str]:
        from chalicelib.adapters.mail_templates import render_mail
        return render_mail(kind, language, context)

    @staticmethod
    def render_ics(invite) -> bytes:
        from chalicelib.adapters.ical import render
        return render(invite)

    @cached_property
    def capacity_overrides(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.capacity_store import DayOverrides
        return DayOverrides()

    @cached_property
    def capacity_report(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.capacity_store import ReportReader
        return ReportReader()

    @cached_property
    def revenue_ledger(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.revenue_ledger import RevenueLedger
        return RevenueLedger()

    @cached_property
    def idempotency(self):
        from chalicelib.adapters.idempotency import PowertoolsIdempotency
        return PowertoolsIdempotency(self.settings.idempotency_table, self.settings.region,
                                     self.settings.dynamodb_endpoint, self.settings.idempotency_ttl_seconds,
                                     key_prefix="service-requests.create")

    @cached_property
    def load_snapshots(self):
        from chalicelib.services.capacity import LoadSnapshots
        return LoadSnapshots()

    @staticmethod
    def clock():
        """The one clock (aware UTC). Tests fix it with `override(clock=FixedClock(...))`; adapters that stamp
        time receive `self.clock` late-bound through `_now`, so an override reaches them too."""
        from chalicelib.clock import system_clock
        return system_clock()

    def _now(self):
        return self.clock()

    @staticmethod
    def sleep(seconds: float) -> None:
        """The backoff between retries of a lost race. Tests override it (`override(sleep=...)`) so they never
        wait; adapters receive it late-bound through `_sleep`."""
        import time
        time.sleep(seconds)

    def _sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    @staticmethod
    def shuffle(items: list) -> None:
        """Random order in place: ties between equally loaded members, so a burst spreads over them."""
        import random
        random.shuffle(items)

    @staticmethod
    def new_id() -> str:
        from chalicelib.services.booking import new_id
        return new_id()

    @cached_property
    def price(self):
        """Prices a booking draft: (service, draft, start, tz, principal) -> quote dict (the quote resolver)."""
        from chalicelib.services.booking_pricing import BookingPricer
        return BookingPricer(self.promotion_rules, self.pricing_policy)

    @cached_property
    def promotion_rules(self):
        """Rules for pricing (quotes and bookings), reloaded when the catalog version moves."""
        from chalicelib.services.promotions import CachedRules
        return CachedRules(self.promotions, self.catalog_version)

    @cached_property
    def promo_usage(self):
        """Promotion usage counters as booking-transaction actions (consume on booking, give back on cancel)."""
        from chalicelib.adapters.dynamodb.promo_usage import DynamoPromoUsage
        return DynamoPromoUsage()

    @cached_property
    def stripe(self):
        """Stripe Checkout/events/webhook verification (imports the SDK on first use only)."""
        from chalicelib.adapters.stripe_gateway import StripeGateway
        return StripeGateway.from_settings(self.settings, self.secrets, clock=self._now)

    @cached_property
    def secrets(self):
        """Stage secrets: environment values locally, SSM/Secrets Manager (cached) in deployed stages."""
        from chalicelib.adapters.secrets import StageSecrets
        return StageSecrets(self.settings)

    @cached_property
    def series_claims(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.series_claims import DynamoSeriesClaims
        return DynamoSeriesClaims(self.settings.idempotency_ttl_seconds, clock=self._now)

    @cached_property
    def payment_store(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.payments_repository import DynamoPaymentStore
        return DynamoPaymentStore(clock=self._now)

    @cached_property
    def events(self):
        """Dispatches what the booking use cases report to the handlers registered for it (services/handlers.py),
        each bound to this container, as cosmicpython's bootstrap injects dependencies into its handlers."""
        from chalicelib.services.events import EventBus, inject
        from chalicelib.services.handlers import EVENT_HANDLERS
        return EventBus({event: [inject(handler, self) for handler in handlers]
                         for event, handlers in EVENT_HANDLERS.items()})

    @cached_property
    def realtime_store(self):
        assert self.dynamodb_ready
        from chalicelib.adapters.dynamodb.realtime_repository import DynamoRealtimeStore
        return DynamoRealtimeStore()

    @cached_property
    def realtime_pusher(self):
        from chalicelib.adapters.realtime import ManagementApiPusher
        return ManagementApiPusher(self.settings.region, self.settings.websocket_management_endpoint)

    @cached_property
    def booking_publisher(self):
        """What booking changes publish through: nothing when the service-requests stream consumer pushes."""
        if self.settings.realtime_delivery == "stream":
            from chalicelib.services.ports import NullPublisher
            return NullPublisher()
        return self.publisher

    @cached_property
    def publisher(self):
        """Realtime availability/emergency pushes: websockets + the change log, inline within a time budget."""
        from chalicelib.services.realtime import WebsocketPublisher

        return WebsocketPublisher(self.realtime_store, self.realtime_pusher, self.day_slots, clock=self._now)

    @cached_property
    def stream_publisher(self):
        """The same pushes for the requests-stream consumer. A batch of up to 100 records can touch dozens of
        team-days, and what the budget cuts off gets neither a push nor a change-log entry, so it is bounded by
        the invocation's time rather than a request's second."""
        from chalicelib.services.realtime import STREAM_BUDGET_SECONDS, WebsocketPublisher

        return WebsocketPublisher(self.realtime_store, self.realtime_pusher, self.day_slots,
                                  budget_seconds=STREAM_BUDGET_SECONDS, clock=self._now)

    def day_slots(self, service_id: str, local_date: str, team_id: str) -> list[dict]:
        """One team's slots {start, remaining} on a team-local date, read through this container."""
        from chalicelib.services.availability import day_slots
        return day_slots(self, service_id, team_id, local_date)


def verify_token(token: str, settings: Settings) -> dict | None:
    """Claims of a valid bearer token, else None. `cognito` mode checks RS256 against the user pool's key set
    (no pool configured: nothing verifies, fail closed); other modes check the HS256 dev-token secret."""
    if settings.auth_mode == "cognito":
        if not settings.cognito_issuer or not settings.cognito_jwks_url:
            return None
        from chalicelib.adapters import cognito_tokens
        return cognito_tokens.verify(token, settings.cognito_issuer, settings.cognito_jwks_url,
                                     settings.cognito_client_id)
    from chalicelib.adapters import dev_tokens
    return dev_tokens.verify(settings.dev_token_secret, token)


_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = Container(get_settings())
    return _container


def use_container(new: Container | None) -> None:
    """Install a container (tests), or None to rebuild from the environment on next use."""
    global _container
    _container = new
