"""Websocket dev gateway: what API Gateway's websocket API does for the deployed app, on one loopback port.

`chalice local` serves REST only. This gateway
- accepts websocket clients (ws://127.0.0.1:PORT/?token=...) and turns each connect, text/binary frame and
  close into the API Gateway websocket event the Lambda receives ($connect with headers and
  queryStringParameters, $default MESSAGE with body, $disconnect), invoking app.py's handlers in-process
  exactly as Lambda would (app.handler_map[name](event, context));
- refuses the handshake with the status $connect returned when it is not 2xx (as API Gateway does);
- enforces API Gateway's limits (devtools/ws_limits.py): idle 10 minutes, 2 hours per connection, 32 KB per
  frame, 128 KB per message, each configurable (WS_IDLE_TIMEOUT_SECONDS, ...);
- serves the management API on the same port: POST/GET/DELETE /@connections/{id} (optionally under a
  /{stage} prefix); an unknown or closed connection answers 410 GoneException the way botocore parses it.
  GET /@connections lists the open connection ids (a dev-only extension, handy in tests and debugging).
  The app reaches it through WEBSOCKET_MANAGEMENT_ENDPOINT=http://HOST:PORT (forced for the in-process app).

One port serves both: a small front reads each request head; websocket upgrades are spliced to an internal
`websockets` server on an ephemeral loopback port, everything else is the management API.

Run: `python -m devtools.ws_gateway [--host 127.0.0.1] [--port 8001] [--stage local]` (PORT and CHALICE_STAGE
env work too). The app needs the local API's environment (DynamoDB endpoint, table prefix, secrets): `make run`
passes it; standalone, export the variables devtools.environment.local_stack_env produces.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import secrets
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.processes import LOOPBACK, PROJECT_DIR
from devtools.ws_limits import GOING_AWAY, MESSAGE_TOO_BIG, FrameScanner, Limits, close_frame

log = logging.getLogger("ws_gateway")

DEFAULT_PORT = 8001
API_ID = "local"
MAX_POST_BYTES = 128 * 1024  # API Gateway's post_to_connection payload limit
MAX_HEAD_BYTES = 64 * 1024
CONNECTIONS_PATH = re.compile(r"^(?:/[^/@]+)?/@connections/([^/]+)$")
CONNECTIONS_LIST = re.compile(r"^(?:/[^/@]+)?/@connections/?$")
Invoke = Callable[[str, dict], dict]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")


def new_connection_id() -> str:
    """Shaped like API Gateway's (base64 with '='), so clients and the app handle URL-encoding for real."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


# --- API Gateway websocket events ---------------------------------------------------------------------------
def _request_context(route_key: str, event_type: str, connection_id: str, domain_name: str, stage: str,
                     connected_at: int, source_ip: str, user_agent: str | None) -> dict:
    now = _now_ms()
    return {"routeKey": route_key, "eventType": event_type, "extendedRequestId": uuid.uuid4().hex,
            "requestTime": datetime.now(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN", "stage": stage, "connectedAt": connected_at, "requestTimeEpoch": now,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent}, "requestId": uuid.uuid4().hex,
            "domainName": domain_name, "connectionId": connection_id, "apiId": API_ID}


def connect_event(connection_id: str, path: str, headers: list[tuple[str, str]], domain_name: str, stage: str,
                  connected_at: int, source_ip: str) -> dict:
    query = parse_qs(urlsplit(path).query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
    return {"headers": {k: v[-1] for k, v in multi_headers.items()}, "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": _request_context("$connect", "CONNECT", connection_id, domain_name, stage,
                                               connected_at, source_ip, user_agent),
            "isBase64Encoded": False}


def message_event(connection_id: str, data: str | bytes, domain_name: str, stage: str, connected_at: int,
                  source_ip: str) -> dict:
    binary = isinstance(data, bytes)
    context = _request_context("$default", "MESSAGE", connection_id, domain_name, stage, connected_at, source_ip,
                               None)
    context["messageId"] = uuid.uuid4().hex[:16]
    return {"requestContext": context, "body": base64.b64encode(data).decode() if binary else data,
            "isBase64Encoded": binary}


def disconnect_event(connection_id: str, domain_name: str, stage: str, connected_at: int, source_ip: str,
                     status_code: int | None, reason: str) -> dict:
    context = _request_context("$disconnect", "DISCONNECT", connection_id, domain_name, stage, connected_at,
                               source_ip, None)
    context.update({"disconnectStatusCode": status_code or 1006, "disconnectReason": reason})
    return {"headers": {"Host": domain_name}, "multiValueHeaders": {"Host": [domain_name]},
            "requestContext": context, "isBase64Encoded": False}


def app_invoker(app: Any) -> Invoke:
    """Calls the handler registered for a route key the way Lambda calls `app.<name>` (wrapped handler)."""
    from chalice.local import LambdaContext

    def invoke(route_key: str, event: dict) -> dict:
        config = app.websocket_handlers.get(route_key)
        if config is None:
            return {"statusCode": 200}
        result = app.handler_map[config.name](event, LambdaContext(config.name, memory_size=512))
        return result if isinstance(result, dict) else {"statusCode": 200}
    return invoke


# --- the gateway ------------------------------------------------------------------------------------------
@dataclass
class Client:
    connection: Any  # websockets ServerConnection
    connected_at: int
    source_ip: str
    user_agent: str | None
    last_active: int = field(default_factory=_now_ms)


class Gateway:
    def __init__(self, invoke: Invoke, host: str = LOOPBACK, port: int = DEFAULT_PORT, stage: str = "api",
                 workers: int = 16, limits: Limits | None = None) -> None:
        self.invoke = invoke
        self.limits = limits or Limits()
        self.host = host
        self.port = port
        self.stage = stage
        self.clients: dict[str, Client] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ws-lambda")
        self._internal_port: int | None = None
        self._front: asyncio.AbstractServer | None = None
        self._ws_server: Any = None
        self._reaper: asyncio.Task | None = None

    @property
    def domain_name(self) -> str:
        return f"{self.host}:{self.port}"

    async def _call(self, route_key: str, event: dict) -> dict:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.invoke, route_key, event)

    # websocket side (internal server) -------------------------------------------------------------------
    async def _process_request(self, connection: Any, request: Any) -> Any:
        """$connect: runs before the handshake completes; a non-2xx result refuses it with that status."""
        headers = [(k, v) for k, v in request.headers.raw_items() if k.lower() != "x-gateway-client-ip"]
        # The front appends the client's address last (a client-sent copy would come first).
        source_ip = (request.headers.get_all("X-Gateway-Client-Ip") or [LOOPBACK])[-1]
        connection_id, connected_at = new_connection_id(), _now_ms()
        event = connect_event(connection_id, request.path, headers, self.domain_name, self.stage, connected_at,
                              source_ip)
        try:
            result = await self._call("$connect", event)
        except Exception:  # noqa: BLE001 - API Gateway answers a failed $connect integration with 500
            log.exception("$connect handler failed")
            return connection.respond(500, "Internal server error\n")
        status = int(result.get("statusCode", 200))
        if not 200 <= status < 300:
            return connection.respond(status, result.get("body") or "")
        connection.gateway_client = (connection_id, Client(connection, connected_at, source_ip,
                                                           request.headers.get("User-Agent")))
        return None

    async def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        connection_id, client = connection.gateway_client
        self.clients[connection_id] = client
        try:
            async for data in connection:
                client.last_active = _now_ms()
                event = message_event(connection_id, data, self.domain_name, self.stage, client.connected_at,
                                      client.source_ip)
                try:
                    await self._call("$default", event)
                except Exception:  # noqa: BLE001 - what API Gateway tells the client when the Lambda fails
                    log.exception("$default handler failed")
                    await connection.send(json.dumps({"message": "Internal server error",
                                                      "connectionId": connection_id,
                                                      "requestId": event["requestContext"]["requestId"]}))
        except ConnectionClosed:
            pass
        finally:
            self.clients.pop(connection_id, None)
            event = disconnect_event(connection_id, self.domain_name, self.stage, client.connected_at,
                                     client.source_ip, connection.close_code, connection.close_reason or "")
            try:
                await self._call("$disconnect", event)
            except Exception:  # noqa: BLE001
                log.exception("$disconnect handler failed")

    # front: management API or splice to the websocket server --------------------------------------------
    async def _front_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or (LOOPBACK, 0))[0]
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                method, target, headers = _parse_head(head)
                if headers.get("upgrade", "").lower() == "websocket":
                    await self._splice(head, peer, reader, writer)
                    return
                length = int(headers.get("content-length") or 0)
                if length > MAX_POST_BYTES:
                    await _respond(writer, 413, {"message": "Request entity too large"}, "PayloadTooLargeException")
                    return
                body = await reader.readexactly(length) if length else b""
                await self._management(method, target, body, writer)
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _splice(self, head: bytes, peer: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self._internal_port)
        up_writer.write(head[:-2] + f"X-Gateway-Client-Ip: {peer}\r\n\r\n".encode())
        frames = FrameScanner(self.limits.max_frame_bytes)  # what the client sends after the upgrade: frames

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, scan: FrameScanner | None) -> None:
            try:
                while chunk := await src.read(65536):
                    if scan is not None and scan.feed(chunk) is not None:
                        writer.write(close_frame(MESSAGE_TOO_BIG, "Frame too big"))  # to the client
                        await writer.drain()
                        writer.close()
                        break
                    dst.write(chunk)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, frames), pump(up_reader, writer, None))

    async def _management(self, method: str, target: str, body: bytes, writer: asyncio.StreamWriter) -> None:
        path = urlsplit(target).path
        if path in ("/", "/health") and method == "GET":
            await _respond(writer, 200, {"status": "ok", "connections": len(self.clients)})
            return
        if CONNECTIONS_LIST.match(path) and method == "GET":  # dev-only: API Gateway has no such listing
            await _respond(writer, 200, {"connections": sorted(self.clients)})
            return
        match = CONNECTIONS_PATH.match(path)
        if not match:
            await _respond(writer, 404, {"message": "Not Found"}, "NotFoundException")
            return
        client = self.clients.get(unquote(match.group(1)))
        if client is None:
            await _respond(writer, 410, {"message": None}, "GoneException")
            return
        if method == "POST":
            from websockets.exceptions import ConnectionClosed
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            try:
                await client.connection.send(text if text is not None else body)
            except ConnectionClosed:
                await _respond(writer, 410, {"message": None}, "GoneException")
                return
            await _respond(writer, 200, None)
        elif method == "DELETE":
            asyncio.get_running_loop().create_task(client.connection.close())
            await _respond(writer, 204, None)
        elif method == "GET":
            await _respond(writer, 200, {"ConnectedAt": _iso(client.connected_at),
                                         "Identity": {"SourceIp": client.source_ip, "UserAgent": client.user_agent},
                                         "LastActiveAt": _iso(client.last_active)})
        else:
            await _respond(writer, 405, {"message": "Method not allowed"}, "MethodNotAllowedException")

    # lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        from websockets.asyncio.server import serve

        self._ws_server = await serve(self._handle, LOOPBACK, 0, process_request=self._process_request,
                                      max_size=self.limits.max_message_bytes,
                                      compression=None)  # API Gateway negotiates no permessage-deflate
        self._reaper = asyncio.get_running_loop().create_task(self._close_expired())
        self._internal_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self._front = await asyncio.start_server(self._front_connection, self.host, self.port,
                                                 limit=MAX_HEAD_BYTES)
        self.port = self._front.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        await self.start()
        print(f"websocket gateway: ws://{self.host}:{self.port}  management API: http://{self.host}:{self.port}",
              flush=True)
        try:
            await self._front.serve_forever()
        finally:
            await self.close()

    async def _close_expired(self) -> None:
        """API Gateway's idle timeout and connection lifetime (devtools/ws_limits.py)."""
        while True:
            await asyncio.sleep(self.limits.check_interval)
            now = _now_ms()
            for client in list(self.clients.values()):
                reason = self.limits.expiry_reason(client.connected_at, client.last_active, now)
                if reason:
                    asyncio.get_running_loop().create_task(client.connection.close(GOING_AWAY, reason))

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._front is not None:
            self._front.close()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "/")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method.upper(), target, headers


async def _respond(writer: asyncio.StreamWriter, status: int, payload: Any, error_type: str | None = None) -> None:
    body = b"" if payload is None and status in (200, 204) else json.dumps(payload).encode()
    reason = {200: "OK", 204: "No Content", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone",
              413: "Payload Too Large"}.get(status, "")
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", "Content-Type: application/json",
             f"x-amzn-RequestId: {uuid.uuid4()}"]
    if error_type:
        lines.append(f"x-amzn-ErrorType: {error_type}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


def load_app(stage: str, management_url: str) -> Any:
    """Import app.py with the stage's variables applied (as chalice local does) and this gateway as the
    management endpoint, so the in-process handlers' replies come back here."""
    from devtools.environment import chalice_config, chalice_stage_env

    os.environ.update(chalice_stage_env(stage))
    os.environ["WEBSOCKET_MANAGEMENT_ENDPOINT"] = management_url
    sys.path.insert(0, str(PROJECT_DIR))
    import app as app_module

    api_stage = chalice_config()["stages"][stage].get("api_gateway_stage", "api")
    return app_module.app, api_stage


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", LOOPBACK))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    parser.add_argument("--stage", default=os.environ.get("CHALICE_STAGE", "local"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s ws_gateway %(levelname)s %(message)s")
    app, api_stage = load_app(args.stage, f"http://{args.host}:{args.port}")
    gateway = Gateway(app_invoker(app), args.host, args.port, api_stage, limits=Limits.from_env(os.environ))
    try:
        asyncio.run(gateway.serve_forever())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
