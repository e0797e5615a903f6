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
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devtools.stripe_stub.account import DEFAULT_WEBHOOK_SECRET, DEFAULT_WEBHOOK_URL, StripeStub
from devtools.stripe_stub.client import StubClient
from devtools.stripe_stub.errors import ApiError
from devtools.stripe_stub.events import API_VERSION
from devtools.stripe_stub.ids import new_id
from devtools.stripe_stub.pages import checkout_page, not_found_page, result_page, unavailable_page
from devtools.stripe_stub.params import decode_params
from devtools.stripe_stub.webhooks import sign_payload

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111


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
                stub.configure(data)
            return {"reset": True}
        if path == "/_stub/config":
            if method == "POST":
                stub.configure(data)
            return {"webhook_url": stub.webhook_url, "public_base_url": stub.public_base_url}
        if path == "/_stub/faults":
            if method == "POST":
                return stub.set_faults(data)
            if method == "DELETE":
                return stub.set_faults({})
            return stub.faults.public()
        if path == "/_stub/clock":
            if method == "POST":
                stub.set_clock(data)
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
            return {"data": stub.delivery_log(event_id)}
        if method == "POST" and path == "/_stub/redeliver":
            stub.flush()  # a background delivery still in flight would otherwise be sent twice
            return {"deliveries": stub.redeliver(data.get("event_id"))}
        if method == "POST" and path == "/_stub/flush":
            stub.flush()
            return {"flushed": True}
        if method == "GET" and path == "/_stub/stats":
            return stub.request_stats()
        if method == "POST" and (match := STUB_SESSION_PATH.match(path)):
            session_id, action = match.groups()
            stub.expire_overdue(wait=True)  # a session past expires_at cannot be paid
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

