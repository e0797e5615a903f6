"""Realtime edge: the websocket handlers' bodies ($connect, messages, $disconnect) and the polling change feed.

Websocket auth uses the same code as HTTP (api.auth.authenticate). Browsers cannot set headers on a websocket,
so the token travels as `?token=` on the connect URL (an Authorization header is accepted too). In `cognito`
mode there is no Cognito authorizer for websocket APIs: api.auth then verifies the Cognito token itself against
the user pool's keys (adapters/cognito_tokens.py); anything it cannot verify is refused (fail closed).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

from chalice import Blueprint, Response
from pydantic import ValidationError

from chalicelib.api.errors import error_body, status_for
from chalicelib.api.routing import Ctx, endpoint, json_response, validation_details
from chalicelib.api.schemas.realtime import (AvailabilityChangesOut, AvailabilityChangesQuery, PingMessage,
                                             SubscribeMessage, UnsubscribeMessage)
from chalicelib.bootstrap import container
from chalicelib.domain.errors import DomainError, ValidationFailed
from chalicelib.observability import logger
from chalicelib.services import realtime as realtime_service

bp = Blueprint(__name__)

MAX_FRAME_BYTES = 4096  # subscribe/unsubscribe frames are tiny; anything bigger is not ours
PONG = {"type": "pong"}
Message = SubscribeMessage | UnsubscribeMessage | PingMessage


# --- polling fallback -----------------------------------------------------------------------------------
@endpoint(bp, "/services/{service_id}/availability/changes", query=AvailabilityChangesQuery,
          summary="Availability changes after a cursor (polling fallback for websockets; 304 when nothing "
                  "changed, ETag/If-None-Match)",
          response=AvailabilityChangesOut, errors=("NOT_FOUND", "VALIDATION_ERROR"),
          headers=("If-None-Match",), response_headers=("ETag", "Cache-Control"), not_modified=True,
          tags=("availability",))
def availability_changes(ctx: Ctx, service_id: str) -> Response:
    feed = realtime_service.changes_since(container().realtime_store, container().catalog.get(), service_id,
                                          ctx.query.since, ctx.query.limit, container().clock())
    etag = '"%s"' % hashlib.sha256(f"{service_id}|{ctx.query.since}|{feed['cursor']}|{ctx.query.limit}"
                                   .encode()).hexdigest()[:32]
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    unchanged = ctx.query.since is not None and not feed["changes"] and not feed["reset"]
    if unchanged or etag in [t.strip() for t in ctx.headers.get("if-none-match", "").split(",")]:
        return Response(body="", status_code=304, headers=headers)
    return json_response(feed, headers=headers)


# --- websocket handlers (app.py wires these to $connect / $default / $disconnect) -----------------------
def _event_dict(event: Any) -> dict:
    return event.to_dict() if hasattr(event, "to_dict") else dict(event)


def _reject(error: DomainError) -> Response:
    """A non-2xx answer to $connect makes API Gateway refuse the websocket handshake with that status."""
    return Response(body=json.dumps(error_body(error.code, error.message, error.details)),
                    status_code=status_for(error), headers={"Content-Type": "application/json"})


def _connect_credentials(raw: Mapping[str, Any]) -> tuple[dict[str, str], dict]:
    """Headers and request context in the shape api.auth expects, from a $connect event."""
    headers = {k.lower(): v for k, v in (raw.get("headers") or {}).items()}
    token = (raw.get("queryStringParameters") or {}).get("token")
    if token:
        headers["authorization"] = f"Bearer {token}"
    request_context = dict(raw.get("requestContext") or {})
    authorizer = request_context.get("authorizer") or {}
    # A Lambda authorizer's context arrives flat (no nested objects allowed); api.auth reads `claims`.
    if authorizer and "claims" not in authorizer:
        request_context["authorizer"] = {"claims": authorizer}
    return headers, request_context


def on_connect(event: Any) -> Response | None:
    from chalicelib.api.auth import authenticate

    raw = _event_dict(event)
    context = raw.get("requestContext") or {}
    deps = container()
    try:
        headers, request_context = _connect_credentials(raw)
        principal = authenticate(headers, request_context, deps.settings)
        endpoint_url = deps.realtime_pusher.endpoint_for(context.get("domainName"), context.get("stage"))
        realtime_service.connect(deps.realtime_store, principal, context["connectionId"], endpoint_url,
                                 deps.clock())
    except DomainError as exc:
        logger.info("websocket connect refused", extra={"code": exc.code})
        return _reject(exc)
    except Exception:  # noqa: BLE001 - refuse with the contract's body rather than a Lambda error
        logger.exception("websocket connect failed")
        return Response(body=json.dumps(error_body("INTERNAL_ERROR", "An internal error occurred.")),
                        status_code=500, headers={"Content-Type": "application/json"})
    return None  # 200: accepted


def _parse_message(body: Any) -> Message:
    if body is None or len(str(body).encode()) > MAX_FRAME_BYTES:
        raise ValidationFailed("Frames must be JSON objects of at most %d bytes." % MAX_FRAME_BYTES)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValidationFailed("The frame is not valid JSON.") from exc
    action = data.get("action") if isinstance(data, dict) else None
    model = {"subscribe": SubscribeMessage, "unsubscribe": UnsubscribeMessage, "ping": PingMessage}.get(action)
    if model is None:
        raise ValidationFailed("Unknown action; expected subscribe, unsubscribe or ping.",
                               {"fields": [{"field": "action", "message": "unknown"}]})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details=validation_details(exc)) from exc


def on_message(event: Any) -> None:
    """Handle one client frame and answer on the same connection; never raises (an error becomes a frame)."""
    raw = _event_dict(event)
    context = raw.get("requestContext") or {}
    connection_id = context.get("connectionId")
    deps = container()
    store = deps.realtime_store
    endpoint_url = deps.realtime_pusher.endpoint_for(context.get("domainName"), context.get("stage"))
    try:
        message = _parse_message(raw.get("body"))
        now = deps.clock()
        if isinstance(message, PingMessage):  # the heartbeat: answered without touching the store
            reply = PONG
        elif isinstance(message, SubscribeMessage):
            reply = realtime_service.subscribe(store, deps.catalog.get(), connection_id, message.serviceId,
                                               message.from_, message.to, now)
        else:
            reply = realtime_service.unsubscribe(store, connection_id, message.serviceId, message.from_,
                                                 message.to)
    except DomainError as exc:
        reply = realtime_service.error_frame(exc.code, exc.message, exc.details)
    except Exception:  # noqa: BLE001 - a bad frame or a bug must not kill the handler
        logger.exception("websocket message failed")
        reply = realtime_service.error_frame("INTERNAL_ERROR", "An internal error occurred.")
    realtime_service.reply_to(deps.realtime_pusher, store, connection_id, endpoint_url, reply)


def on_disconnect(event: Any) -> None:
    connection_id = (_event_dict(event).get("requestContext") or {}).get("connectionId")
    try:
        realtime_service.disconnect(container().realtime_store, connection_id)
    except Exception:  # noqa: BLE001 - leftovers expire by TTL or are removed on the next push (410)
        logger.warning("websocket disconnect cleanup failed", exc_info=True, extra={"connectionId": connection_id})
