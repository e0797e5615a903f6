"""The HTTP front: routes /v1 (Stripe's API), /pay (the hosted page) and /_stub (test controls), and answers
in Stripe's wire format (JSON bodies, error envelopes, Request-Id, Idempotency-Key replay, injected faults)."""
from __future__ import annotations

import json
import os
import re
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devtools.stripe_stub.account import StripeStub
from devtools.stripe_stub.controls import run_control
from devtools.stripe_stub.errors import ApiError
from devtools.stripe_stub.events import API_VERSION
from devtools.stripe_stub.ids import new_id
from devtools.stripe_stub.pages import checkout_page, not_found_page, result_page, unavailable_page
from devtools.stripe_stub.params import decode_params

SESSION_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)$")
EXPIRE_PATH = re.compile(r"^/v1/checkout/sessions/([^/]+)/expire$")
EVENT_PATH = re.compile(r"^/v1/events/([^/]+)$")
OBJECT_PATHS = {re.compile(r"^/v1/refunds/([^/]+)$"): ("refunds", "refund"),
                re.compile(r"^/v1/payment_intents/([^/]+)$"): ("payment_intents", "payment_intent"),
                re.compile(r"^/v1/charges/([^/]+)$"): ("charges", "charge")}
PAY_PATH = re.compile(r"^/pay/([^/]+)$")


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
                self._json(200, run_control(self.stub, method, path, query, body))
            elif PAY_PATH.match(path) and method == "GET":
                self._pay_page(PAY_PATH.match(path).group(1), dict(parse_qsl(query)))
            elif path == "/" and method == "GET":
                self._json(200, {"stub": "stripe", "api": "/v1", "controls": "/_stub", "pay": "/pay/{session_id}"})
            else:
                raise _unrecognized(method, path)
        except ApiError as exc:
            self._json(exc.status, exc.body())
        except (ValueError, TypeError) as exc:
            self._json(400, ApiError(400, f"Invalid request: {exc}").body())

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(payload).encode("utf-8"), headers)

    def _html(self, status: int, body: str) -> None:
        self._send(status, "text/html; charset=utf-8", body.encode("utf-8"))

    def _send(self, status: int, content_type: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    # -- /v1 -----------------------------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: str, body: str) -> None:
        with self.stub.serving(f"{method} {_route_name(path)}"):
            self._api_call(method, path, query, body)

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
            status, payload, original_request = stub.run_once(key, fingerprint, request_id,
                                                              lambda: self._execute(method, path, params))
            if original_request is not None:
                headers.update({"Idempotent-Replayed": "true", "Original-Request": original_request})
        else:
            status, payload = 200, self._execute(method, path, params)
        if fail_status is not None:  # fail_mode "after": executed, but the client never sees the result
            raise _injected(fail_status)
        self._json(status, payload, headers)

    def _execute(self, method: str, path: str, params: dict) -> dict:
        """Run one API call; ApiError for Stripe-style failures. Events go out in the background."""
        stub = self.stub
        stub.expire_overdue(wait=False)
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
        elif path == "/v1/refunds" and method == "GET":
            return stub.list_refunds(params)
        elif path == "/v1/refunds" and method == "POST":
            refund, events = stub.create_refund(params)
            stub.dispatch(events, wait=False)
            return refund
        for pattern, (store, kind) in OBJECT_PATHS.items():
            if (match := pattern.match(path)) and method == "GET":
                return stub.get_object(store, kind, match.group(1))
        raise _unrecognized(method, path)

    # -- hosted checkout page ------------------------------------------------------------------------------
    def _pay_page(self, session_id: str, query: dict[str, str]) -> None:
        """The page, or (with ?outcome=) the customer's choice: events are delivered before the answer, which
        is a result page, JSON (format=json) or a redirect to success_url / cancel_url (redirect=1)."""
        stub = self.stub
        stub.expire_overdue(wait=True)
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


def _unrecognized(method: str, path: str) -> ApiError:
    return ApiError(404, f"Unrecognized request URL ({method}: {path}).")


def _injected(status: int) -> ApiError:
    """The error a fault-injected request answers with (429: Stripe's rate limit)."""
    if status == 429:
        return ApiError(429, "Request rate limit exceeded (injected fault).", code="rate_limit")
    return ApiError(status, "An unexpected error occurred (injected fault).", type_="api_error")


def _route_name(path: str) -> str:
    """Path with object ids replaced, for request statistics."""
    return re.sub(r"/(cs|evt|re|pi|ch)_[A-Za-z0-9_]+", r"/{\1}", path)
