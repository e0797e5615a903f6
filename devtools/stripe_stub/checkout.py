"""Checkout Sessions: creation from the SDK's parameters, retrieval, listing, expiry, and the customer's actions
on the hosted page (pay, pay later and settle, cancel)."""
from __future__ import annotations

import copy
from typing import Any

from devtools.stripe_stub.errors import ApiError, missing, missing_param
from devtools.stripe_stub.ids import new_id
from devtools.stripe_stub.params import (created_filter, currency_param, int_param, metadata_param, paginate,
                                         str_param)

MIN_EXPIRY_SECONDS = 30 * 60  # Stripe: expires_at must be 30 minutes to 24 hours after creation
MAX_EXPIRY_SECONDS = 24 * 3600
DEFAULT_EXPIRY_SECONDS = 24 * 3600
PAY_OUTCOMES = ("paid", "async_succeeded", "async_failed", "async_pending", "cancel")


class CheckoutSessions:
    """Part of StripeStub (account.py), which owns the lock, the clock and the stores (`sessions`,
    `session_order`, `line_items`, `pi_metadata`, `async_pending`)."""

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
        now = self.now()
        stored_items, currency, total = _line_items(params.get("line_items"))
        if "currency" in params and currency_param(params["currency"], "currency") != currency:
            raise ApiError(400, "currency must match the line items' currency.", param="currency")
        expires_at = _expires_at(params, now)
        pi_data = params.get("payment_intent_data") or {}
        if not isinstance(pi_data, dict):
            raise ApiError(400, "Invalid object", param="payment_intent_data")
        session_id = new_id("cs_test_", 58)
        session = _new_session(session_id, params, now, expires_at, currency, total,
                               url=f"{self.public_base_url}/pay/{session_id}")
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
            self._session_locked(session_id, param="session")
            return self.render_session(session_id, expand)

    def _session_locked(self, session_id: str, param: str | None = None) -> dict:
        session = self.sessions.get(session_id)
        if session is None:
            raise missing("checkout.session", session_id, param=param)
        return session

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

    # -- expiry ------------------------------------------------------------------------------------------
    def expire_session(self, session_id: str) -> tuple[dict, list[str]]:
        with self.lock:
            session = self._session_locked(session_id, param="session")
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

    # -- the hosted page's actions -------------------------------------------------------------------------
    def pay(self, session_id: str, outcome: str) -> tuple[dict, list[str]]:
        """Complete (or cancel) a checkout as the customer would; returns the session and new event ids."""
        if outcome not in PAY_OUTCOMES:
            raise ApiError(400, f"outcome must be one of {', '.join(PAY_OUTCOMES)}", param="outcome")
        with self.lock:
            session = self._session_locked(session_id)
            if session["status"] != "open":
                raise ApiError(409, f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
            if outcome == "cancel":
                return self.render_session(session_id), []
            pi_id = self._open_payment_intent_locked(session)
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
            session = self._session_locked(session_id)
            if session_id not in self.async_pending:
                raise ApiError(409, "This session has no delayed payment pending.")
            return self.render_session(session_id), self._settle_locked(session, result)

    def _settle_locked(self, session: dict, result: str) -> list[str]:
        self.async_pending.discard(session["id"])
        if result == "succeeded":
            self._capture_locked(session)
            return [self._emit_locked("checkout.session.async_payment_succeeded", session)]
        self._fail_payment_locked(session)
        return [self._emit_locked("checkout.session.async_payment_failed", session)]


def _line_items(items: Any) -> tuple[list[dict], str, int]:
    """The stored line items of a `line_items` parameter, their (common) currency and the total amount."""
    if not isinstance(items, list) or not items:
        raise ApiError(400, "line_items is required in payment mode.", code="parameter_missing",
                       param="line_items")
    stored_items, currency, total = [], None, 0
    for index, item in enumerate(items):
        label = f"line_items[{index}]"
        stored = _line_item(item, label)
        if currency not in (None, stored["currency"]):
            raise ApiError(400, "All line items must use the same currency.", param=f"{label}[price_data]")
        currency = stored["currency"]
        total += stored["amount_total"]
        stored_items.append(stored)
    return stored_items, currency, total


def _line_item(item: Any, label: str) -> dict:
    """One `line_items[n]` (price_data + quantity; a `price` id does not exist here) as Stripe's item object."""
    if not isinstance(item, dict):
        raise ApiError(400, "Invalid line item.", param=label)
    if "price" in item:
        raise missing("price", str(item["price"]), param=f"{label}[price]")
    price_data = item.get("price_data")
    if not isinstance(price_data, dict):
        raise ApiError(400, "You must specify either `price` or `price_data`.", code="parameter_missing",
                       param=f"{label}[price_data]")
    currency = currency_param(price_data.get("currency"), f"{label}[price_data][currency]")
    unit_amount = int_param(price_data, "unit_amount", minimum=0, maximum=99_999_999,
                            label=f"{label}[price_data][unit_amount]")
    if unit_amount is None:
        raise missing_param("unit_amount", f"{label}[price_data][unit_amount]")
    product = price_data.get("product_data")
    name = product.get("name") if isinstance(product, dict) else None
    if not name:
        raise missing_param("product_data[name]", f"{label}[price_data][product_data][name]")
    quantity = int_param(item, "quantity", minimum=1, maximum=999_999, label=f"{label}[quantity]")
    if quantity is None:
        raise missing_param("quantity", f"{label}[quantity]")
    amount = unit_amount * quantity
    return {"id": new_id("li_"), "object": "item", "amount_discount": 0, "amount_subtotal": amount,
            "amount_tax": 0, "amount_total": amount, "currency": currency, "description": name,
            "quantity": quantity,
            "price": {"id": new_id("price_"), "object": "price", "currency": currency, "unit_amount": unit_amount,
                      "type": "one_time", "active": False}}


def _expires_at(params: dict, now: int) -> int:
    expires_at = int_param(params, "expires_at", default=now + DEFAULT_EXPIRY_SECONDS)
    if expires_at < now + MIN_EXPIRY_SECONDS or expires_at > now + MAX_EXPIRY_SECONDS:
        raise ApiError(400, "The `expires_at` timestamp must be between 30 minutes and 24 hours after "
                            "Checkout Session creation.", code="parameter_invalid_integer", param="expires_at")
    return expires_at


def _new_session(session_id: str, params: dict, now: int, expires_at: int, currency: str, total: int,
                 url: str) -> dict:
    """An open, unpaid checkout.session with every field of Stripe's object (unsupported ones empty)."""
    return {
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
        "ui_mode": "hosted", "url": url,
    }
