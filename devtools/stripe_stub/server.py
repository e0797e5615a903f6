"""Serving the stub: `python -m devtools.stripe_stub` (main), or a thread in tests (start_in_thread)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from devtools.stripe_stub.account import DEFAULT_WEBHOOK_SECRET, DEFAULT_WEBHOOK_URL, StripeStub
from devtools.stripe_stub.handler import Handler

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111


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

