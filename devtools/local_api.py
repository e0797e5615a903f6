"""Serve the Chalice app over HTTP the way `chalice local` does, programmatically.

Differences from the `chalice local` command, both deliberate:
- no autoreloader (it forks a second process that outlives Ctrl-C handling in scripts);
- an unknown route answers JSON 404 `{"error":{"code":"NOT_FOUND",...}}` (with X-Request-Id and, for an
  allowed browser origin, CORS headers) instead of API Gateway's 403 "Missing Authentication Token". infra/resources.json maps the MISSING_AUTHENTICATION_TOKEN gateway
  response to the same body, so local and deployed behaviour agree.

chalice's LocalDevServer uses a ThreadingMixIn server (one thread per connection), so parallel requests are
served in parallel; `serve()` asserts that, because the concurrency tests depend on it.

Run: `python -m devtools.local_api` (host 127.0.0.1, port from PORT, default 8000, stage from CHALICE_STAGE,
default "local").
"""
from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from socketserver import ThreadingMixIn
from typing import Any

from chalice.local import (ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer,
                           LocalGateway, LocalGatewayException, ThreadedHTTPServer)
from http.server import BaseHTTPRequestHandler

from devtools.processes import LOOPBACK, PROJECT_DIR

NOT_FOUND_BODY = json.dumps({"error": {"code": "NOT_FOUND", "message": "No route matches this path.",
                                       "details": {}}}).encode()


class ConcurrentHTTPServer(ThreadedHTTPServer):
    """chalice's threaded server with a listen backlog for bursts: socketserver's default queue of 5
    pending connections is small when 50 clients connect at once (the concurrency tests do)."""
    request_queue_size = 128


class RouteNotFound(LocalGatewayException):
    CODE = 404


class JsonNotFoundGateway(LocalGateway):
    """LocalGateway whose 'no route matched' is the contract's JSON 404 instead of a 403."""

    def _generate_lambda_event(self, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            event = super()._generate_lambda_event(method, path, headers, body)
        except ValueError:  # chalice's RouteMatcher: no route for this path
            raise RouteNotFound({"Content-Type": "application/json", "X-Request-Id": str(uuid.uuid4()),
                                 **browser_headers(headers)}, NOT_FOUND_BODY) from None
        # API Gateway gives every request an id (the logs' correlation id); chalice local does not.
        event["requestContext"].setdefault("requestId", str(uuid.uuid4()))
        return event


def browser_headers(request_headers: Any) -> dict[str, str]:
    """CORS headers (chalicelib.api.cors) for answers given before the app runs, as the deployed gateway's
    responses carry them (infra/resources.json), so a browser page can read these errors too."""
    from chalicelib.api import cors
    from chalicelib.settings import get_settings

    return cors.with_vary_origin(cors.response_headers(dict(request_headers or {}),
                                                       get_settings().cors_allowed_origins))


# Errors the HTTP server answers itself, before the app sees the request, by status.
_SERVER_ERROR_CODES = {400: "VALIDATION_ERROR", 405: "METHOD_NOT_ALLOWED", 408: "REQUEST_TIMEOUT",
                       413: "PAYLOAD_TOO_LARGE", 414: "URI_TOO_LONG", 431: "HEADERS_TOO_LARGE",
                       501: "METHOD_NOT_ALLOWED", 505: "HTTP_VERSION_NOT_SUPPORTED"}


class JsonNotFoundHandler(ChaliceRequestHandler):
    def __init__(self, request: bytes, client_address: Any, server: Any, app_object: Any, config: Any) -> None:
        self.local_gateway = JsonNotFoundGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)  # handles the request

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own answers (unknown method -> 501, oversized headers -> 431, malformed request line)
        in the contract's JSON error body with a request id, instead of its HTML page. An unsupported method
        answers 405 as API Gateway does."""
        status = 405 if code == 501 else code
        body = json.dumps({"error": {"code": _SERVER_ERROR_CODES.get(code, "BAD_REQUEST"),
                                     "message": message or self.responses.get(code, ("Error",))[0],
                                     "details": {}}}).encode()
        self.close_connection = True
        try:
            self.send_response(status, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Request-Id", str(uuid.uuid4()))
            for name, value in browser_headers(getattr(self, "headers", None)).items():
                self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and status >= 200 and status not in (204, 304):
                self.wfile.write(body)
        except OSError:  # the client went away; nothing to answer
            pass


def create_server(host: str = LOOPBACK, port: int = 8000, stage: str = "local") -> LocalDevServer:
    """Load app.py with the stage's environment (as `chalice local --stage` does) and bind the server."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.validate import validate_routes

    # os.environ itself: chalice applies the stage's variables to it before importing app.py.
    factory = CLIFactory(project_dir=str(PROJECT_DIR), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    # What chalice.local.create_local_server does: make current_request thread-local for the threaded server.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    server = LocalDevServer(app, config, host, port, handler_cls=JsonNotFoundHandler,
                            server_cls=ConcurrentHTTPServer)
    if not isinstance(server.server, ThreadingMixIn):
        raise RuntimeError("chalice's local server is not threaded; parallel requests would be serialised")
    return server


def serve(host: str = LOOPBACK, port: int = 8000, stage: str = "local") -> None:
    server = create_server(host, port, stage)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(f"API on http://{host}:{port} (stage {stage})", flush=True)
    try:
        server.server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    stage = os.environ.get("CHALICE_STAGE", "local")
    sys.path.insert(0, str(PROJECT_DIR))
    serve(LOOPBACK, port, stage)


if __name__ == "__main__":
    main()
