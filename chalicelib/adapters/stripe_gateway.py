"""Stripe: Checkout Sessions, session and event lookups, webhook signature verification.

The only module that imports stripe (lazily: it costs ~110 ms of cold start). Every stripe error is translated
once, into a DomainError (stripe_errors.py); every result is a plain dict in Stripe's documented shape (amounts in minor
units, currency codes lowercase as Stripe returns them), so the services never see SDK objects.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator

from chalicelib.adapters.stripe_errors import first_line, translate_error
from chalicelib.clock import Clock, epoch_seconds, system_clock
from chalicelib.domain.errors import (DomainError, PaymentProviderUnavailable,
                                      RefundRefused, SignatureInvalid, ValidationFailed)
from chalicelib.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.adapters.secrets import StageSecrets
    from chalicelib.settings import Settings

SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's default: older signed timestamps are replays
MIN_HOLD_SECONDS = 30 * 60  # Stripe rejects expires_at earlier than 30 minutes after creation
PAGE_LIMIT = 100  # Stripe's maximum page size
SESSION_FINAL_STATUSES = ("expired", "complete")


class StripeGateway:
    """Thin typed wrapper over `stripe.StripeClient` for the calls the payment use cases make."""

    def __init__(self, api_key: str | Callable[[], str], webhook_secret: str | Callable[[], str], *,
                 api_base: str | None = None,
                 connect_timeout: float = 3.0, read_timeout: float = 8.0, max_network_retries: int = 2,
                 success_url_template: str | None = None, cancel_url_template: str | None = None,
                 clock: Clock = system_clock) -> None:
        """Builds the client (no network I/O). The key and webhook secret may be callables (stage secrets read on
        first use, adapters/secrets.py): a rotated key builds a new client.

        Timeouts and retries are sized for a 30 s Lambda: worst case (1 + retries) * read_timeout plus the
        SDK's backoff (0.5-2 s). POST retries reuse the same Idempotency-Key, so they are safe.
        """
        import stripe

        self._stripe = stripe
        self._api_key = api_key if callable(api_key) else (lambda: api_key)
        self._webhook_secret = webhook_secret if callable(webhook_secret) else (lambda: webhook_secret)
        self._clients: dict[str, Any] = {}
        self._clock = clock
        self._success_template = success_url_template
        self._cancel_template = cancel_url_template
        self.calls = 0  # API calls made (including failed ones), for cost measurements
        self._client_options: dict[str, Any] = {
            "max_network_retries": max_network_retries,
            "http_client": stripe.RequestsClient(timeout=(connect_timeout, read_timeout))}
        if api_base:
            self._client_options["base_addresses"] = {"api": api_base}

    @property
    def _client(self) -> Any:
        """The SDK client for the current API key (ConfigurationError when the stage has none)."""
        key = self._api_key()
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._stripe.StripeClient(key, **self._client_options)
        return client

    @classmethod
    def from_settings(cls, settings: "Settings", secrets: "StageSecrets",
                      clock: Clock = system_clock) -> "StripeGateway":
        return cls(secrets.stripe_api_key, secrets.stripe_webhook_secret, api_base=settings.stripe_api_base,
                   success_url_template=settings.checkout_success_url,
                   cancel_url_template=settings.checkout_cancel_url, clock=clock)

    # -- Checkout Sessions -----------------------------------------------------------------------------------
    def create_checkout_session(self, *, request_id: str, amount: int, currency: str, description: str,
                                expires_at: datetime | int, customer_email: str | None = None,
                                success_url: str | None = None, cancel_url: str | None = None,
                                attempt: int = 1) -> dict:
        """Create a one-line `mode=payment` Checkout Session bound to the service request.

        `client_reference_id`, `metadata.serviceRequestId` and `payment_intent_data.metadata.serviceRequestId`
        all carry request_id (the last reaches the PaymentIntent, not its charges: charge events are matched
        by PaymentIntent). The Idempotency-Key is `checkout-<request_id>-<attempt>`: retrying the same attempt returns
        the same session; resuming after expiry passes attempt + 1 for a fresh one. success/cancel URLs
        default to the configured templates with `{request_id}` filled in (Stripe fills
        `{CHECKOUT_SESSION_ID}`).

        Raises ValidationFailed (bad amount/currency/expiry, or Stripe rejected the parameters),
        InvalidState (this attempt's key was already used with different parameters),
        PaymentProviderUnavailable (network, timeout, 5xx, rate limit, credentials; retry_after set).
        """
        _check_amount(amount)
        line = {"quantity": 1, "price_data": {"currency": currency.lower() if isinstance(currency, str) else currency,
                                              "unit_amount": amount, "product_data": {"name": description}}}
        return self._create_session(request_id, {"serviceRequestId": request_id}, [line], currency, expires_at,
                                    customer_email, success_url or _fill(self._success_template, request_id),
                                    cancel_url or _fill(self._cancel_template, request_id), attempt)

    def create_series_checkout_session(self, *, series_id: str, lines: list[tuple[str, str, int]], currency: str,
                                       expires_at: datetime | int, customer_email: str | None = None,
                                       attempt: int = 1) -> dict:
        """One Checkout Session paying for a whole series: one line per occurrence (`lines`: (request id, name,
        amount)). `client_reference_id` and the metadata carry the series id (events about the session and its
        PaymentIntent find the occurrences by it); the Idempotency-Key is `checkout-<series_id>-<attempt>`.
        Raises as create_checkout_session."""
        for _, _, amount in lines:
            _check_amount(amount)
        items = [{"quantity": 1, "price_data": {"currency": str(currency).lower(), "unit_amount": amount,
                                                "product_data": {"name": name}}} for _, name, amount in lines]
        first = lines[0][0] if lines else series_id
        return self._create_session(series_id, {"seriesId": series_id}, items, currency, expires_at, customer_email,
                                    _fill(self._success_template, first), _fill(self._cancel_template, first),
                                    attempt)

    def _create_session(self, reference: str, metadata: dict, line_items: list[dict], currency: str,
                        expires_at: datetime | int, customer_email: str | None, success_url: str | None,
                        cancel_url: str | None, attempt: int) -> dict:
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise ValidationFailed("currency must be a 3-letter ISO code", {"currency": currency})
        if attempt < 1:
            raise ValidationFailed("attempt starts at 1", {"attempt": attempt})
        expires = _epoch(expires_at)
        if expires < epoch_seconds(self._clock) + MIN_HOLD_SECONDS:
            raise ValidationFailed("expires_at must be at least 30 minutes ahead", {"expiresAt": expires})
        params: dict[str, Any] = {
            "mode": "payment", "line_items": line_items, "client_reference_id": reference, "metadata": metadata,
            "payment_intent_data": {"metadata": dict(metadata)}, "expires_at": expires,
            "success_url": success_url, "cancel_url": cancel_url,
        }
        if customer_email:
            params["customer_email"] = customer_email
        key = idempotency_key_for(reference, attempt)
        with self._translated("create_checkout_session"):
            session = self._client.v1.checkout.sessions.create(params=_drop_none(params),
                                                               options={"idempotency_key": key})
        return session.to_dict()

    def retrieve_session(self, session_id: str) -> dict:
        """The Checkout Session. Raises NotFound, PaymentProviderUnavailable."""
        with self._translated("retrieve_session"):
            return self._client.v1.checkout.sessions.retrieve(session_id).to_dict()

    def list_sessions(self, created_gte: datetime | int, limit: int = PAGE_LIMIT,
                      status: str | None = None) -> Iterator[list[dict]]:
        """Sessions created at or after created_gte, newest first, one list per API page (one call each).

        Lazy: a page is fetched when the iterator reaches it, so a caller can checkpoint between pages.
        Raises (while iterating) PaymentProviderUnavailable, ValidationFailed.
        """
        params: dict[str, Any] = {"created": {"gte": _epoch(created_gte)}, "limit": max(1, min(limit, PAGE_LIMIT))}
        if status:
            params["status"] = status
        yield from self._pages(self._client.v1.checkout.sessions.list, params, "list_sessions")

    def expire_session(self, session_id: str) -> dict:
        """Expire an open session; a session that is already expired or complete is returned as it is.

        Raises NotFound, PaymentProviderUnavailable.
        """
        stripe = self._stripe
        try:
            with self._translated("expire_session", passthrough=(stripe.InvalidRequestError,)):
                return self._client.v1.checkout.sessions.expire(session_id).to_dict()
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 400:
                # Stripe answers 400 for a session that is not open: fine if it already reached a final state.
                session = self.retrieve_session(session_id)
                if session.get("status") in SESSION_FINAL_STATUSES:
                    return session
            raise self._report("expire_session", exc) from exc

    # -- refunds -------------------------------------------------------------------------------------------
    def create_refund(self, *, request_id: str, payment_intent: str, amount: int, attempt: int,
                      reason: str | None = None) -> dict:
        """Refund `amount` of the PaymentIntent. Idempotent per (request_id, attempt): a retry after a lost answer
        or a crash gets the same Refund back, never a second one.

        Raises RefundRefused when Stripe answers a 4xx (charge already refunded or disputed, more than is left, no
        such PaymentIntent, this attempt's key used with another amount): the same request can never succeed, only
        a new attempt can. PaymentProviderUnavailable (network, timeout, 5xx, 409, rate limit, credentials): retry
        with the same attempt (same key)."""
        params: dict[str, Any] = {"payment_intent": payment_intent, "amount": amount,
                                  "metadata": {"serviceRequestId": request_id, "refundAttempt": str(attempt)}}
        if reason in ("duplicate", "fraudulent", "requested_by_customer"):
            params["reason"] = reason
        with self._translated("create_refund", refusal=RefundRefused):
            return self._client.v1.refunds.create(
                params=params, options={"idempotency_key": refund_idempotency_key(request_id, attempt)}).to_dict()

    def list_refunds(self, payment_intent: str) -> list[dict]:
        """Every Refund of the PaymentIntent (a few at most; paged all the same). Raises PaymentProviderUnavailable."""
        params: dict[str, Any] = {"payment_intent": payment_intent, "limit": PAGE_LIMIT}
        return [refund for page in self._pages(self._client.v1.refunds.list, params, "list_refunds")
                for refund in page]

    # -- events --------------------------------------------------------------------------------------------
    def list_undelivered_events(self, since: datetime | int, types: list[str] | None = None) -> Iterator[dict]:
        """Events created at or after `since` whose webhook delivery is pending or failed
        (`delivery_success=false`), newest first, paging lazily (Stripe keeps events for 30 days).

        Raises (while iterating) PaymentProviderUnavailable, ValidationFailed.
        """
        params: dict[str, Any] = {"delivery_success": False, "created": {"gte": _epoch(since)},
                                  "limit": PAGE_LIMIT}
        if types:
            params["types"] = list(types)
        for page in self._pages(self._client.v1.events.list, params, "list_events"):
            yield from page

    def retrieve_event(self, event_id: str) -> dict:
        """One event. Raises NotFound, PaymentProviderUnavailable."""
        with self._translated("retrieve_event"):
            return self._client.v1.events.retrieve(event_id).to_dict()

    # -- webhooks ------------------------------------------------------------------------------------------
    def construct_event(self, raw_body: bytes, signature_header: str | None) -> dict:
        """Verify the Stripe-Signature header over the exact raw body and return the event as a dict.

        Raises SignatureInvalid for a missing/malformed header, a wrong signature (tampered body, other
        secret), a timestamp older than 300 s, or a body that is not a JSON event.
        """
        try:
            event = self._stripe.Webhook.construct_event(raw_body, signature_header, self._webhook_secret(),
                                                         tolerance=SIGNATURE_TOLERANCE_SECONDS)
        except self._stripe.SignatureVerificationError as exc:
            count("StripeSignatureRejected")
            raise SignatureInvalid(details={"reason": first_line(exc)}) from exc
        except ValueError as exc:  # not UTF-8 / not JSON / not an event: signed garbage is still rejected
            count("StripeSignatureRejected")
            raise SignatureInvalid(details={"reason": "payload is not a JSON event"}) from exc
        body = event.to_dict()
        if body.get("object") != "event" or not body.get("id") or not body.get("type"):
            raise SignatureInvalid(details={"reason": "payload is not an event"})
        return body

    # -- internals -----------------------------------------------------------------------------------------
    def _pages(self, list_call: Any, params: dict[str, Any], operation: str) -> Iterator[list[dict]]:
        """Explicit cursor paging (starting_after = last id): one API call per page, no hidden calls."""
        cursor: str | None = None
        while True:
            page_params = dict(params, starting_after=cursor) if cursor else params
            with self._translated(operation):
                page = list_call(params=page_params)
            items = [item.to_dict() for item in page.data]
            if items:
                yield items
            if not page.has_more or not items:
                return
            cursor = items[-1]["id"]

    @contextmanager
    def _translated(self, operation: str, passthrough: tuple[type[Exception], ...] = (),
                    refusal: type[DomainError] | None = None) -> Iterator[None]:
        """The one place stripe errors become DomainErrors (`passthrough`: the caller inspects those first;
        `refusal`: what a permanent refusal of this operation becomes, see translate_error)."""
        stripe = self._stripe
        self.calls += 1
        try:
            yield
        except DomainError:
            raise
        except passthrough:
            raise
        except stripe.StripeError as exc:
            raise self._report(operation, exc, refusal) from exc

    def _report(self, operation: str, exc: Exception, refusal: type[DomainError] | None = None) -> DomainError:
        """Translate, log and count one stripe failure; returns the DomainError to raise."""
        error = translate_error(self._stripe, exc, refusal)
        level = logger.warning if isinstance(error, PaymentProviderUnavailable) else logger.info
        level("stripe call failed", extra={"operation": operation, "stripe_error": type(exc).__name__,
                                           "http_status": getattr(exc, "http_status", None),
                                           "stripe_code": getattr(exc, "code", None),
                                           "request_id": getattr(exc, "request_id", None),
                                           "error_code": error.code})
        count("StripeErrors", kind=type(exc).__name__)
        return error


def _check_amount(amount: Any) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValidationFailed("amount must be a positive integer in minor units", {"amount": amount})


def idempotency_key_for(request_id: str, attempt: int) -> str:
    return f"checkout-{request_id}-{attempt}"


def refund_idempotency_key(request_id: str, attempt: int) -> str:
    return f"refund-{request_id}-{attempt}"


def _epoch(value: datetime | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationFailed("datetimes must be timezone-aware", {"value": value.isoformat()})
        return int(value.timestamp())
    return int(value)


def _fill(template: str | None, request_id: str) -> str | None:
    return template.replace("{request_id}", request_id) if template else None


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None}
