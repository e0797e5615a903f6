"""A local stand-in for the parts of Stripe the portal uses (never deployed).

Emulates, with Stripe's documented object shapes and wire format (form-encoded request bodies as the stripe SDK
sends them, JSON responses, list envelopes, error envelopes, Idempotency-Key replay):

  POST /v1/checkout/sessions                 create (mode=payment, line_items[].price_data)
  GET  /v1/checkout/sessions[/{id}]          list (limit, starting_after, ending_before, status, created) / retrieve
  POST /v1/checkout/sessions/{id}/expire     expire an open session
  GET  /v1/events[/{id}]                     list (created, type, types, delivery_success) / retrieve
  POST /v1/refunds, GET /v1/refunds/{id}     refunds (emit charge.refunded)
  GET  /v1/payment_intents/{id}, GET /v1/charges/{id}

plus a hosted checkout page `GET /pay/{session_id}` (buttons, or `?outcome=paid|async_succeeded|async_failed|
async_pending|cancel`) that completes the session and delivers the resulting events as signed webhooks, and
test controls under `/_stub/...` (reset, faults, clock, expiry, deliveries, redelivery, stats). See
docs/stripe-stub.md for what is and is not emulated.

Run: `python -m devtools.stripe_stub [--port 12111]`; in tests: `start_in_thread(...)`.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devtools.stripe_stub.client import StubClient
from devtools.stripe_stub.errors import ApiError, missing
from devtools.stripe_stub.faults import Faults
from devtools.stripe_stub.ids import new_id
from devtools.stripe_stub.pages import checkout_page, not_found_page, result_page, unavailable_page
from devtools.stripe_stub.params import (created_filter, currency_param, decode_params, int_param, metadata_param,
                                         paginate, str_param)
from devtools.stripe_stub.webhooks import WebhookDelivery, sign_payload

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:8000/payments/stripe/webhook"
DEFAULT_WEBHOOK_SECRET = "whsec_local"
API_VERSION = "2026-10-28.endive"  # the version stripe-python 16.1 pins; stamped on events

MIN_EXPIRY_SECONDS = 30 * 60  # Stripe: expires_at must be 30 minutes to 24 hours after creation
MAX_EXPIRY_SECONDS = 24 * 3600
DEFAULT_EXPIRY_SECONDS = 24 * 3600
IDEMPOTENCY_KEY_TTL = 24 * 3600  # Stripe prunes keys after 24 hours
PAY_OUTCOMES = ("paid", "async_succeeded", "async_failed", "async_pending", "cancel")


# --- the emulated account ---------------------------------------------------------------------------------------

class StripeStub(WebhookDelivery):
    """All state of the emulated Stripe account. Thread-safe; webhook delivery happens outside the lock."""

    def __init__(self, webhook_url: str | None = DEFAULT_WEBHOOK_URL,
                 webhook_secret: str = DEFAULT_WEBHOOK_SECRET, public_base_url: str = "",
                 delivery_timeout: float = 10.0) -> None:
        self.lock = threading.RLock()
        self.webhook_url = webhook_url or None
        self.webhook_secret = webhook_secret
        self.public_base_url = public_base_url.rstrip("/")
        self.delivery_timeout = delivery_timeout
        self._outbox: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.reset()

    # -- state ---------------------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.clock_offset = 0
            self.sessions: dict[str, dict] = {}
            self.session_order: list[str] = []  # creation order; lists are served newest first
            self.line_items: dict[str, list[dict]] = {}
            self.pi_metadata: dict[str, dict] = {}  # session id -> payment_intent_data.metadata
            self.async_pending: set[str] = set()
            self.payment_intents: dict[str, dict] = {}
            self.charges: dict[str, dict] = {}
            self.refunds: dict[str, dict] = {}
            self.events: dict[str, dict] = {}
            self.event_order: list[str] = []
            self.deliveries: list[dict] = []
            self.idempotency: dict[str, dict] = {}
            self.key_locks: dict[str, threading.Lock] = {}
            self.faults = Faults()
            self.stats: dict[str, int] = {}
            self.in_flight = 0  # /v1 requests being handled (a delayed one finishes after its client gave up)

    def now(self) -> int:
        """The emulated clock (shifted by /_stub/clock): object timestamps and expiry use it."""
        return int(time.time()) + self.clock_offset

    # -- faults --------------------------------------------------------------------------------------------
    def set_faults(self, spec: dict[str, Any]) -> dict[str, Any]:
        faults = Faults.from_spec(spec)
        with self.lock:
            self.faults = faults
            return faults.public()

    def take_faults(self, path: str) -> tuple[float, int | None]:
        """(delay seconds, failure status or None) for one API request; consumes the counters."""
        with self.lock:
            return self.faults.take(path)

    def count(self, route: str) -> None:
        with self.lock:
            self.stats[route] = self.stats.get(route, 0) + 1

    # -- idempotency ---------------------------------------------------------------------------------------
    def key_lock(self, key: str) -> threading.Lock:
        with self.lock:
            return self.key_locks.setdefault(key, threading.Lock())

    def idempotent_lookup(self, key: str, fingerprint: tuple) -> dict | None:
        """The saved result for key, None if unused; ApiError if it was used for a different request."""
        with self.lock:
            saved = self.idempotency.get(key)
            if saved is None or saved["created"] < self.now() - IDEMPOTENCY_KEY_TTL:
                return None
            if saved["fingerprint"][:2] != fingerprint[:2]:
                raise ApiError(400, "Keys for idempotent requests can only be used for the same endpoint they "
                                    "were first used for.", type_="idempotency_error")
            if saved["fingerprint"] != fingerprint:
                raise ApiError(400, "Keys for idempotent requests can only be used with the same parameters "
                                    f"they were first used with. Try using a key other than '{key}' if you "
                                    "meant to execute a different request.", type_="idempotency_error")
            return saved

    def idempotent_save(self, key: str, fingerprint: tuple, status: int, body: dict, request_id: str) -> None:
        with self.lock:
            self.idempotency[key] = {"fingerprint": fingerprint, "status": status, "body": body,
                                     "request_id": request_id, "created": self.now()}

    # -- checkout sessions ---------------------------------------------------------------------------------
    SESSION_PARAMS = {"mode", "line_items", "client_reference_id", "metadata", "payment_intent_data",
                      "expires_at", "success_url", "cancel_url", "customer_email", "currency", "expand",
                      "locale", "payment_method_types", "submit_type", "billing_address_collection",
                      "allow_promotion_codes", "customer", "customer_creation", "phone_number_collection",
                      "payment_method_options", "automatic_tax", "ui_mode", "return_url", "custom_text",
                      "consent_collection", "invoice_creation", "after_expiration", "tax_id_collection"}

    def create_session(self, params: dict) -> dict:
        unknown = sorted(set(params) - self.SESSION_PARAMS)
        if unknown:
            raise ApiError(400, f"Received unknown parameter: {unknown[0]}", code="parameter_unknown",
                           param=unknown[0])
        mode = str_param(params, "mode", required=True)
        if mode != "payment":
            raise ApiError(400, "This stub supports only mode=payment.", code="parameter_invalid_string",
                           param="mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise ApiError(400, "line_items is required in payment mode.", code="parameter_missing",
                           param="line_items")
        now = self.now()
        stored_items, currency, total = [], None, 0
        for index, item in enumerate(items):
            label = f"line_items[{index}]"
            if not isinstance(item, dict):
                raise ApiError(400, "Invalid line item.", param=label)
            if "price" in item:
                raise missing("price", str(item["price"]), param=f"{label}[price]")
            price_data = item.get("price_data")
            if not isinstance(price_data, dict):
                raise ApiError(400, "You must specify either `price` or `price_data`.", code="parameter_missing",
                               param=f"{label}[price_data]")
            item_currency = currency_param(price_data.get("currency"), f"{label}[price_data][currency]")
            unit_amount = int_param(price_data, "unit_amount", minimum=0, maximum=99_999_999,
                               label=f"{label}[price_data][unit_amount]")
            if unit_amount is None:
                raise ApiError(400, "Missing required param: unit_amount.", code="parameter_missing",
                               param=f"{label}[price_data][unit_amount]")
            product = price_data.get("product_data")
            name = product.get("name") if isinstance(product, dict) else None
            if not name:
                raise ApiError(400, "Missing required param: product_data[name].", code="parameter_missing",
                               param=f"{label}[price_data][product_data][name]")
            quantity = int_param(item, "quantity", minimum=1, maximum=999_999, label=f"{label}[quantity]")
            if quantity is None:
                raise ApiError(400, "Missing required param: quantity.", code="parameter_missing",
                               param=f"{label}[quantity]")
            if currency not in (None, item_currency):
                raise ApiError(400, "All line items must use the same currency.", param=f"{label}[price_data]")
            currency = item_currency
            total += unit_amount * quantity
            stored_items.append({"id": new_id("li_"), "object": "item", "amount_discount": 0,
                                 "amount_subtotal": unit_amount * quantity, "amount_tax": 0,
                                 "amount_total": unit_amount * quantity, "currency": item_currency,
                                 "description": name, "quantity": quantity,
                                 "price": {"id": new_id("price_"), "object": "price", "currency": item_currency,
                                           "unit_amount": unit_amount, "type": "one_time", "active": False}})
        if "currency" in params and currency_param(params["currency"], "currency") != currency:
            raise ApiError(400, "currency must match the line items' currency.", param="currency")
        expires_at = int_param(params, "expires_at", default=now + DEFAULT_EXPIRY_SECONDS)
        if expires_at < now + MIN_EXPIRY_SECONDS or expires_at > now + MAX_EXPIRY_SECONDS:
            raise ApiError(400, "The `expires_at` timestamp must be between 30 minutes and 24 hours after "
                                "Checkout Session creation.", code="parameter_invalid_integer", param="expires_at")
        pi_data = params.get("payment_intent_data") or {}
        if not isinstance(pi_data, dict):
            raise ApiError(400, "Invalid object", param="payment_intent_data")
        session_id = new_id("cs_test_", 58)
        session = {
            "id": session_id, "object": "checkout.session", "after_expiration": None,
            "allow_promotion_codes": None, "amount_subtotal": total, "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": str_param(params, "cancel_url", max_length=5000),
            "client_reference_id": str_param(params, "client_reference_id", max_length=200),
            "client_secret": None, "consent": None, "consent_collection": None, "created": now,
            "currency": currency, "custom_fields": [], "custom_text": {}, "customer": None,
            "customer_creation": "if_required", "customer_details": None,
            "customer_email": str_param(params, "customer_email", max_length=800), "expires_at": expires_at,
            "invoice": None, "livemode": False, "locale": params.get("locale"),
            "metadata": metadata_param(params, "metadata"), "mode": "payment", "payment_intent": None,
            "payment_link": None, "payment_method_collection": "if_required",
            "payment_method_types": ["card"], "payment_status": "unpaid", "recovered_from": None,
            "status": "open", "submit_type": None, "subscription": None,
            "success_url": str_param(params, "success_url", max_length=5000),
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted", "url": f"{self.public_base_url}/pay/{session_id}",
        }
        pi_metadata = metadata_param(pi_data, "metadata")
        with self.lock:
            self.sessions[session_id] = session
            self.session_order.append(session_id)
            self.line_items[session_id] = stored_items
            self.pi_metadata[session_id] = pi_metadata
            return self.render_session(session_id, params.get("expand"))

    def render_session(self, session_id: str, expand: Any = None) -> dict:
        with self.lock:
            out = copy.deepcopy(self.sessions[session_id])
            if isinstance(expand, list) and "line_items" in expand:
                out["line_items"] = {"object": "list", "data": copy.deepcopy(self.line_items[session_id]),
                                     "has_more": False, "url": f"/v1/checkout/sessions/{session_id}/line_items"}
            return out

    def get_session(self, session_id: str, expand: Any = None) -> dict:
        with self.lock:
            if session_id not in self.sessions:
                raise missing("checkout.session", session_id, param="session")
            return self.render_session(session_id, expand)

    def list_sessions(self, params: dict) -> dict:
        status = params.get("status")
        if status is not None and status not in ("open", "complete", "expired"):
            raise ApiError(400, "status must be one of open, complete, expired.", param="status")
        created = created_filter(params)
        pi = params.get("payment_intent")
        with self.lock:
            items = [self.sessions[sid] for sid in reversed(self.session_order)
                     if (status is None or self.sessions[sid]["status"] == status)
                     and created(self.sessions[sid]["created"])
                     and (pi is None or self.sessions[sid]["payment_intent"] == pi)]
            return paginate(items, params, "/v1/checkout/sessions", "checkout.session")

    def expire_session(self, session_id: str) -> tuple[dict, list[str]]:
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise missing("checkout.session", session_id, param="session")
            if session["status"] != "open":
                raise ApiError(400, f"Only Checkout Sessions with a status in [\"open\"] can be expired. This "
                                    f"Checkout Session has a status of \"{session['status']}\".",
                               code="checkout_session_not_open")
            events = self._expire_locked(session)
            return self.render_session(session_id), events

    def _expire_locked(self, session: dict) -> list[str]:
        session["status"] = "expired"
        session["url"] = None
        return [self._emit_locked("checkout.session.expired", session)]

    def sweep_expired(self) -> list[str]:
        """Expire open sessions whose expires_at passed on the emulated clock; returns the event ids."""
        with self.lock:
            now = self.now()
            events: list[str] = []
            for sid in self.session_order:
                session = self.sessions[sid]
                if session["status"] == "open" and session["expires_at"] <= now:
                    events += self._expire_locked(session)
            return events

    # -- the hosted page's actions ---------------------------------------------------------------------------
    def pay(self, session_id: str, outcome: str) -> tuple[dict, list[str]]:
        """Complete (or cancel) a checkout as the customer would; returns the session and new event ids."""
        if outcome not in PAY_OUTCOMES:
            raise ApiError(400, f"outcome must be one of {', '.join(PAY_OUTCOMES)}", param="outcome")
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise missing("checkout.session", session_id)
            if session["status"] != "open":
                raise ApiError(409, f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
            if outcome == "cancel":
                return self.render_session(session_id), []
            now = self.now()
            pi_id = new_id("pi_")
            self.payment_intents[pi_id] = {
                "id": pi_id, "object": "payment_intent", "amount": session["amount_total"],
                "amount_received": 0, "created": now, "currency": session["currency"],
                "latest_charge": None, "livemode": False, "metadata": dict(self.pi_metadata.get(session_id, {})),
                "payment_method_types": ["card"], "status": "processing",
            }
            session.update(status="complete", payment_intent=pi_id, url=None,
                           customer_details={"address": None, "email": session["customer_email"], "name": None,
                                             "phone": None, "tax_exempt": "none", "tax_ids": []})
            if outcome == "paid":
                self._capture_locked(session)
                return self.render_session(session_id), [self._emit_locked("checkout.session.completed", session)]
            # Delayed-notification methods: completed while unpaid, then succeeded/failed later.
            self.async_pending.add(session_id)
            events = [self._emit_locked("checkout.session.completed", session)]
            if outcome != "async_pending":
                events += self._settle_locked(session, "succeeded" if outcome == "async_succeeded" else "failed")
            return self.render_session(session_id), events

    def settle(self, session_id: str, result: str) -> tuple[dict, list[str]]:
        """Finish a delayed payment of a completed-but-unpaid session (result: succeeded | failed)."""
        if result not in ("succeeded", "failed"):
            raise ApiError(400, "result is 'succeeded' or 'failed'", param="result")
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise missing("checkout.session", session_id)
            if session_id not in self.async_pending:
                raise ApiError(409, "This session has no delayed payment pending.")
            return self.render_session(session_id), self._settle_locked(session, result)

    def _settle_locked(self, session: dict, result: str) -> list[str]:
        self.async_pending.discard(session["id"])
        if result == "succeeded":
            self._capture_locked(session)
            return [self._emit_locked("checkout.session.async_payment_succeeded", session)]
        self.payment_intents[session["payment_intent"]]["status"] = "requires_payment_method"
        return [self._emit_locked("checkout.session.async_payment_failed", session)]

    def _capture_locked(self, session: dict) -> None:
        pi = self.payment_intents[session["payment_intent"]]
        charge_id = new_id("ch_")
        self.charges[charge_id] = {
            "id": charge_id, "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"],
            "amount_refunded": 0, "captured": True, "created": self.now(), "currency": pi["currency"],
            "livemode": False, "metadata": dict(pi["metadata"]), "paid": True, "payment_intent": pi["id"],
            "refunded": False, "status": "succeeded",
        }
        pi.update(status="succeeded", amount_received=pi["amount"], latest_charge=charge_id)
        session["payment_status"] = "paid"

    # -- refunds -------------------------------------------------------------------------------------------
    def create_refund(self, params: dict) -> tuple[dict, list[str]]:
        with self.lock:
            charge = self._charge_for_refund(params)
            remaining = charge["amount"] - charge["amount_refunded"]
            if remaining <= 0:
                raise ApiError(400, f"Charge {charge['id']} has already been refunded.",
                               code="charge_already_refunded")
            amount = int_param(params, "amount", minimum=1, default=remaining)
            if amount > remaining:
                raise ApiError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                                    f"({remaining})", code="amount_too_large", param="amount")
            refund_id = new_id("re_")
            refund = {"id": refund_id, "object": "refund", "amount": amount, "charge": charge["id"],
                      "created": self.now(), "currency": charge["currency"], "metadata": metadata_param(params, "metadata"),
                      "payment_intent": charge["payment_intent"], "reason": params.get("reason"),
                      "status": "succeeded"}
            self.refunds[refund_id] = refund
            previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            event = self._emit_locked("charge.refunded", charge, previous_attributes=previous)
            return copy.deepcopy(refund), [event]

    def _charge_for_refund(self, params: dict) -> dict:
        charge_id, pi_id = params.get("charge"), params.get("payment_intent")
        if charge_id:
            if charge_id not in self.charges:
                raise missing("charge", charge_id, param="charge")
            return self.charges[charge_id]
        if pi_id:
            pi = self.payment_intents.get(pi_id)
            if pi is None:
                raise missing("payment_intent", pi_id, param="payment_intent")
            if not pi["latest_charge"]:
                raise ApiError(400, f"PaymentIntent {pi_id} does not have a successful charge to refund.",
                               code="charge_not_refundable", param="payment_intent")
            return self.charges[pi["latest_charge"]]
        raise ApiError(400, "One of the following params should be provided for this request: payment_intent or "
                            "charge.", code="parameter_missing")

    def refund_session(self, session_id: str, amount: int | None = None) -> tuple[dict, list[str]]:
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise missing("checkout.session", session_id)
            if not session["payment_intent"]:
                raise ApiError(400, "This session has no payment to refund.", code="charge_not_refundable")
            params: dict[str, Any] = {"payment_intent": session["payment_intent"]}
            if amount is not None:
                params["amount"] = str(amount)
            return self.create_refund(params)

    def get_object(self, store: str, kind: str, ident: str) -> dict:
        with self.lock:
            obj = getattr(self, store).get(ident)
            if obj is None:
                raise missing(kind, ident, param="id")
            return copy.deepcopy(obj)

    # -- events --------------------------------------------------------------------------------------------
    def _emit_locked(self, type_: str, obj: dict, previous_attributes: dict | None = None) -> str:
        event_id = new_id("evt_")
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        self.events[event_id] = {
            "id": event_id, "object": "event", "api_version": API_VERSION, "created": self.now(), "data": data,
            "livemode": False, "pending_webhooks": 1 if self.webhook_url else 0,
            "request": {"id": None, "idempotency_key": None}, "type": type_,
        }
        self.event_order.append(event_id)
        return event_id

    def list_events(self, params: dict) -> dict:
        created = created_filter(params)
        delivery = params.get("delivery_success")
        if delivery not in (None, "true", "false"):
            raise ApiError(400, "Invalid boolean: delivery_success", param="delivery_success")
        type_filter, types = params.get("type"), params.get("types")
        if type_filter is not None and types is not None:
            raise ApiError(400, "You may pass either `type` or `types`, but not both.", param="types")
        if types is not None and (not isinstance(types, list) or len(types) > 20):
            raise ApiError(400, "types is an array of up to 20 event types.", param="types")
        patterns = [type_filter] if type_filter is not None else types

        def wanted(event: dict) -> bool:
            if not created(event["created"]):
                return False
            if delivery == "false" and event["pending_webhooks"] == 0:
                return False
            if delivery == "true" and event["pending_webhooks"] > 0:
                return False
            return patterns is None or any(_type_matches(p, event["type"]) for p in patterns)

        with self.lock:
            items = [self.events[eid] for eid in reversed(self.event_order) if wanted(self.events[eid])]
            return paginate(items, params, "/v1/events", "event")

    def get_event(self, event_id: str) -> dict:
        return self.get_object("events", "event", event_id)

def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


# --- HTTP -----------------------------------------------------------------------------------------------------

SESSION_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)$")
EXPIRE_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)/expire$")
EVENT_PATH = re.compile(r"^/v1/events/([^/]+)$")
OBJECT_PATHS = {re.compile(r"^/v1/refunds/([^/]+)$"): ("refunds", "refund"),
                re.compile(r"^/v1/payment_intents/([^/]+)$"): ("payment_intents", "payment_intent"),
                re.compile(r"^/v1/charges/([^/]+)$"): ("charges", "charge")}
PAY_PATH = re.compile(r"^/pay/([^/]+)$")
STUB_SESSION_PATH = re.compile(r"^/_stub/sessions/([^/]+)/(pay|settle|refund)$")


class Handler(BaseHTTPRequestHandler):
    server_version = "stripe-stub/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses connections
    stub: StripeStub  # set on the subclass made by make_server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("STRIPE_STUB_VERBOSE"):
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # -- plumbing --------------------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        path, query = split.path, split.query
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        try:
            if path.startswith("/v1/"):
                self._api(method, path, query, body)
            elif path.startswith("/_stub/") or path == "/_stub":
                self._json(200, self._control(method, path, query, body))
            elif PAY_PATH.match(path) and method == "GET":
                self._pay_page(PAY_PATH.match(path).group(1), dict(parse_qsl(query)))
            elif path == "/" and method == "GET":
                self._json(200, {"stub": "stripe", "api": "/v1", "controls": "/_stub", "pay": "/pay/{session_id}"})
            else:
                raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")
        except ApiError as exc:
            self._json(exc.status, exc.body())
        except (ValueError, TypeError) as exc:
            self._json(400, ApiError(400, f"Invalid request: {exc}").body())

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _html(self, status: int, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- /v1 -----------------------------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: str, body: str) -> None:
        stub = self.stub
        stub.count(f"{method} {_route_name(path)}")
        with stub.lock:
            stub.in_flight += 1
        try:
            self._api_call(method, path, query, body)
        finally:
            with stub.lock:
                stub.in_flight -= 1

    def _api_call(self, method: str, path: str, query: str, body: str) -> None:
        stub = self.stub
        auth = self.headers.get("Authorization", "")
        if not re.match(r"^Bearer (sk|rk)_\S+$", auth):
            raise ApiError(401, "You did not provide a valid API key. Provide it as a Bearer token "
                                "(Authorization: Bearer sk_test_...).")
        delay, fail_status = stub.take_faults(path)
        if delay:
            time.sleep(delay)
        if fail_status is not None and stub.faults.fail_mode == "before":
            raise _injected(fail_status)
        request_id = new_id("req_", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": self.headers.get("Stripe-Version") or API_VERSION}
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        params = decode_params(body if method == "POST" else query)
        if key:
            headers["Idempotency-Key"] = key
            fingerprint = (method, path, tuple(sorted(parse_qsl(body, keep_blank_values=True))))
            with stub.key_lock(key):  # concurrent duplicates wait, then replay
                saved = stub.idempotent_lookup(key, fingerprint)
                if saved is not None:
                    status, payload = saved["status"], saved["body"]
                    headers.update({"Idempotent-Replayed": "true", "Original-Request": saved["request_id"]})
                else:
                    status, payload = 200, self._execute(method, path, params)
                    stub.idempotent_save(key, fingerprint, status, payload, request_id)
        else:
            status, payload = 200, self._execute(method, path, params)
        if fail_status is not None:  # fail_mode "after": executed, but the client never sees the result
            raise _injected(fail_status)
        self._json(status, payload, headers)

    def _execute(self, method: str, path: str, params: dict) -> dict:
        """Run one API call; ApiError for Stripe-style failures. Events go out in the background."""
        stub = self.stub
        stub.dispatch(stub.sweep_expired(), wait=False)  # lazy expiry, as observed by any API call
        if path == "/v1/checkout/sessions":
            if method == "POST":
                return stub.create_session(params)
            if method == "GET":
                return stub.list_sessions(params)
        elif (match := SESSION_PATH.match(path)) and method == "GET":
            return stub.get_session(match.group(1), params.get("expand"))
        elif (match := EXPIRE_PATH.match(path)) and method == "POST":
            session, events = stub.expire_session(match.group(1))
            stub.dispatch(events, wait=False)
            return session
        elif path == "/v1/events" and method == "GET":
            return stub.list_events(params)
        elif (match := EVENT_PATH.match(path)) and method == "GET":
            return stub.get_event(match.group(1))
        elif path == "/v1/refunds" and method == "POST":
            refund, events = stub.create_refund(params)
            stub.dispatch(events, wait=False)
            return refund
        for pattern, (store, kind) in OBJECT_PATHS.items():
            if (match := pattern.match(path)) and method == "GET":
                return stub.get_object(store, kind, match.group(1))
        raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")

    # -- hosted checkout page ------------------------------------------------------------------------------
    def _pay_page(self, session_id: str, query: dict[str, str]) -> None:
        stub = self.stub
        stub.dispatch(stub.sweep_expired(), wait=True)
        outcome = query.get("outcome")
        try:
            session = stub.get_session(session_id)
        except ApiError:
            self._html(404, not_found_page())
            return
        if outcome is None:
            self._html(200, checkout_page(session))
            return
        try:
            session, events = stub.pay(session_id, outcome)
        except ApiError as exc:
            self._html(exc.status, unavailable_page(exc.message))
            return
        deliveries = stub.dispatch(events, wait=True)
        target = session["cancel_url"] if outcome == "cancel" else session["success_url"]
        target = (target or "").replace("{CHECKOUT_SESSION_ID}", session_id)
        if query.get("format") == "json":
            self._json(200, {"session": session, "events": events, "deliveries": deliveries})
        elif query.get("redirect") == "1" and target:
            self.send_response(303)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._html(200, result_page(session, outcome, deliveries, target))

    # -- /_stub controls -------------------------------------------------------------------------------------
    def _control(self, method: str, path: str, query: str, body: str) -> Any:
        stub = self.stub
        data = json.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ApiError(400, "Send a JSON object.")
        if path == "/_stub/health":
            return {"ok": True}
        if method == "POST" and path == "/_stub/reset":
            stub.flush()
            stub.reset()
            if data:
                _configure(stub, data)
            return {"reset": True}
        if path == "/_stub/config":
            if method == "POST":
                _configure(stub, data)
            return {"webhook_url": stub.webhook_url, "public_base_url": stub.public_base_url}
        if path == "/_stub/faults":
            if method == "POST":
                return stub.set_faults(data)
            if method == "DELETE":
                return stub.set_faults({})
            return stub.faults.public()
        if path == "/_stub/clock":
            if method == "POST":
                with stub.lock:
                    if "offset_seconds" in data:
                        stub.clock_offset = int(data["offset_seconds"])
                    stub.clock_offset += int(data.get("advance_seconds", 0))
            return {"now": stub.now(), "offset_seconds": stub.clock_offset}
        if method == "POST" and path == "/_stub/expire":
            if data.get("session_id"):  # force one session, whatever its expires_at
                session, events = stub.expire_session(data["session_id"])
            else:
                events = stub.sweep_expired()
            deliveries = stub.dispatch(events, wait=data.get("deliver", True) is not False)
            return {"events": events, "deliveries": deliveries}
        if method == "GET" and path == "/_stub/deliveries":
            event_id = dict(parse_qsl(query)).get("event_id")
            with stub.lock:
                return {"data": [d for d in stub.deliveries if event_id in (None, d["event_id"])]}
        if method == "POST" and path == "/_stub/redeliver":
            stub.flush()  # a background delivery still in flight would otherwise be sent twice
            return {"deliveries": stub.redeliver(data.get("event_id"))}
        if method == "POST" and path == "/_stub/flush":
            stub.flush()
            return {"flushed": True}
        if method == "GET" and path == "/_stub/stats":
            with stub.lock:
                return {"api_requests": sum(stub.stats.values()), "by_route": dict(stub.stats),
                        "in_flight": stub.in_flight}
        if method == "POST" and (match := STUB_SESSION_PATH.match(path)):
            session_id, action = match.groups()
            stub.dispatch(stub.sweep_expired(), wait=True)  # a session past expires_at cannot be paid
            if action == "pay":
                session, events = stub.pay(session_id, data.get("outcome", "paid"))
            elif action == "settle":
                session, events = stub.settle(session_id, data.get("result", "succeeded"))
            else:
                session, events = stub.refund_session(session_id, data.get("amount"))
            # deliver=false leaves the events undelivered (a lost webhook, for reconciliation tests)
            deliveries = stub.dispatch(events, wait=True) if data.get("deliver", True) is not False else []
            return {"object": session, "events": events, "deliveries": deliveries}
        raise ApiError(404, f"Unknown stub control: {method} {path}")


def _configure(stub: StripeStub, data: dict) -> None:
    with stub.lock:
        if "webhook_url" in data:
            stub.webhook_url = data["webhook_url"] or None
        if "webhook_secret" in data:
            stub.webhook_secret = data["webhook_secret"]
        if "public_base_url" in data:
            stub.public_base_url = str(data["public_base_url"]).rstrip("/")


def _injected(status: int) -> ApiError:
    if status == 429:
        return ApiError(429, "Request rate limit exceeded (injected fault).", code="rate_limit")
    return ApiError(status, "An unexpected error occurred (injected fault).", type_="api_error")


def _route_name(path: str) -> str:
    """Path with object ids replaced, for request statistics."""
    return re.sub(r"/(cs|evt|re|pi|ch)_[A-Za-z0-9_]+", r"/{\1}", path)


# --- running ----------------------------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out (delay fault) has gone away: not worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_server(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, webhook_url: str | None = DEFAULT_WEBHOOK_URL,
                webhook_secret: str = DEFAULT_WEBHOOK_SECRET, public_base_url: str | None = None,
                delivery_timeout: float = 10.0) -> ThreadingHTTPServer:
    """A bound (not yet serving) server; `server.stub` is its StripeStub. Port 0 picks a free port."""
    stub = StripeStub(webhook_url, webhook_secret, "", delivery_timeout)
    handler = type("BoundHandler", (Handler,), {"stub": stub})
    server = _Server((host, port), handler)
    server.daemon_threads = True
    server.stub = stub  # type: ignore[attr-defined]
    bound_host, bound_port = server.server_address[:2]
    stub.public_base_url = (public_base_url or f"http://{bound_host}:{bound_port}").rstrip("/")
    return server


def start_in_thread(webhook_url: str | None = None, webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
                    host: str = DEFAULT_HOST, port: int = 0,
                    delivery_timeout: float = 5.0) -> tuple[ThreadingHTTPServer, str]:
    """Serve on a free port in a daemon thread (tests). Returns (server, base URL); stop with server.shutdown()."""
    server = make_server(host, port, webhook_url, webhook_secret, delivery_timeout=delivery_timeout)
    thread = threading.Thread(target=server.serve_forever, name="stripe-stub", daemon=True)
    thread.start()
    return server, server.stub.public_base_url  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(description="Local Stripe stub (Checkout Sessions, events, webhooks).")
    parser.add_argument("--host", default=env.get("STRIPE_STUB_HOST", DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=int(env.get("PORT") or env.get("STRIPE_STUB_PORT")
                                                        or DEFAULT_PORT))
    parser.add_argument("--webhook-url", default=env.get("STUB_WEBHOOK_URL", DEFAULT_WEBHOOK_URL),
                        help="where events are POSTed (empty: do not deliver)")
    parser.add_argument("--webhook-secret", default=env.get("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET))
    parser.add_argument("--public-url", default=env.get("STUB_PUBLIC_URL"),
                        help="base URL of checkout links (default http://HOST:PORT)")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.webhook_url, args.webhook_secret, args.public_url)
    stub: StripeStub = server.stub  # type: ignore[attr-defined]

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started with SIGINT ignored (background job of a script)
    print(f"stripe stub on {stub.public_base_url} -> webhooks to {stub.webhook_url or '(none)'}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

