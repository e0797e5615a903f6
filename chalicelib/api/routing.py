"""The `endpoint` decorator: registers a Chalice route AND its contract (auth, request/response models) so the
OpenAPI document is generated from the same declarations. It authenticates, parses and validates the body
and query with pydantic, and turns every failure into the contract's error body. Views stay thin.
"""
from __future__ import annotations

import codecs
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api import cors
from chalicelib.api.errors import error_response, plain_error_response
from chalicelib.domain.errors import DomainError, PayloadTooLarge, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.observability import logger

# Request bodies: the largest legitimate one (a team's week and blackouts, a promotion rule) is a few KB.
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32

# Chalice answers other content types with its own 415 body; accept the usual ones and parse JSON ourselves.
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded",
                 "application/octet-stream", "multipart/form-data"]


@dataclass(frozen=True)
class EndpointSpec:
    method: str
    path: str
    auth: str  # "public" | "user" | "admin" | "signature" (Stripe) | "link" (signed token in the URL)
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()  # required/known request headers, for documentation
    content_type: str = "application/json"
    tags: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()  # headers of the success answer (X-Request-Id is on every answer)
    not_modified: bool = False  # answers 304 (no body) to a matching If-None-Match


REGISTRY: list[EndpointSpec] = []
# Methods served at each path, for the preflight answer; one OPTIONS route per path (api.cors).
METHODS_BY_PATH: dict[str, set[str]] = {}


@functools.lru_cache(maxsize=1)
def cognito_authorizer() -> Any:
    """In AWS stages (AUTH_MODE=cognito, set per stage in .chalice/config.json and present when chalice packages
    the app) API Gateway verifies Cognito tokens. Locally there is no authorizer: chalice local would decode
    JWTs without verifying them, so the app verifies dev tokens itself (api.auth)."""
    import os

    if os.environ.get("AUTH_MODE") != "cognito":
        return None
    from chalice import CognitoUserPoolAuthorizer

    return CognitoUserPoolAuthorizer("portal-users", provider_arns=[os.environ["COGNITO_USER_POOL_ARN"]])


@dataclass
class Ctx:
    """What a view gets: the verified principal, parsed body/query, lowercased headers, raw request."""
    request: Any
    principal: Principal | None
    body: Any = None
    query: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":"), sort_keys=True, default=str), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def outcome_response(outcome: Any, success_status: int = 201) -> Response:
    """An idempotent submission's outcome: its first status and body, marked when replayed."""
    from chalicelib.api.errors import status_for_code

    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    if outcome.ok:
        return json_response(outcome.body, success_status, headers)
    return json_response({"error": outcome.body}, status_for_code(outcome.body["code"]), headers)


def validation_details(exc: ValidationError) -> dict:
    return {"fields": [{"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"],
                        "type": err["type"]} for err in exc.errors(include_url=False, include_input=False)]}


def parse_json(raw: bytes | str | None) -> Any:
    """The request body as JSON, bounded before decoding: above MAX_BODY_BYTES -> 413, nested deeper than
    MAX_JSON_DEPTH -> 400 (the decoder recurses per level, so a deep body would otherwise exhaust the stack)."""
    if raw in (None, b"", ""):
        raise ValidationFailed("A JSON request body is required.", {"fields": [{"field": "body",
                                                                            "message": "required"}]})
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if data.startswith(codecs.BOM_UTF8):  # JSON text must not start with a BOM (RFC 8259 section 8.1)
        raise ValidationFailed("The request body starts with a byte order mark.", {"reason": "utf-8 BOM"})
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(details={"maxBytes": MAX_BODY_BYTES, "bytes": len(data)})
    depth = json_nesting_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise ValidationFailed("The request body is nested too deeply.", {"maxDepth": MAX_JSON_DEPTH})
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("The request body is not valid JSON.", {"reason": str(exc)[:200]}) from exc


def json_nesting_depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects in `data`, brackets inside strings ignored (one linear pass)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(details=validation_details(exc)) from exc


def endpoint(bp: Blueprint, path: str, method: str = "GET", *, auth: str = "public", summary: str = "",
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, status: int = 200, errors: tuple[str, ...] = (),
             headers: tuple[str, ...] = (), content_type: str = "application/json",
             tags: tuple[str, ...] = (), response_headers: tuple[str, ...] = (),
             not_modified: bool = False) -> Callable:
    spec = EndpointSpec(method=method, path=path, auth=auth, summary=summary, body=body, query=query,
                        response=response, status=status, errors=errors, headers=headers,
                        content_type=content_type, tags=tags, response_headers=response_headers,
                        not_modified=not_modified)
    REGISTRY.append(spec)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**params: str) -> Response:
            request = bp.current_request
            try:
                ctx = _build_ctx(request, spec)
                result = view(ctx, **params)
                return result if isinstance(result, Response) else json_response(result, spec.status)
            except DomainError as exc:
                return error_response(exc)
            except Exception:  # noqa: BLE001 - the contract promises a JSON body even for bugs
                logger.exception("unhandled error", extra={"path": path, "method": method})
                return plain_error_response(500, "INTERNAL_ERROR", "An internal error occurred.")

        route_options: dict[str, Any] = {}
        if spec.auth in ("user", "admin") and cognito_authorizer() is not None:
            route_options["authorizer"] = cognito_authorizer()
        bp.route(path, methods=[method], content_types=CONTENT_TYPES, **route_options)(wrapper)
        if path not in METHODS_BY_PATH:
            METHODS_BY_PATH[path] = set()
            bp.route(path, methods=["OPTIONS"], content_types=CONTENT_TYPES)(_preflight_view(bp, path))
        METHODS_BY_PATH[path].add(method)
        return wrapper

    return decorate


def _preflight_view(bp: Blueprint, path: str) -> Callable[..., Response]:
    """A CORS preflight, answered by the app in every stage (API Gateway routes OPTIONS here too, with no
    authorizer: browsers never send credentials on a preflight). An origin that is not allowed gets no CORS
    headers, so the browser does not send the actual request."""
    def preflight(**params: str) -> Response:
        from chalicelib.bootstrap import container

        request = bp.current_request
        headers = cors.preflight_headers(request.headers, container().settings.cors_allowed_origins,
                                         METHODS_BY_PATH[path])
        return Response(body="", status_code=204, headers=headers)

    preflight.__name__ = "preflight_" + re.sub(r"\W+", "_", path).strip("_")
    return preflight


def _build_ctx(request: Any, spec: EndpointSpec) -> Ctx:
    from chalicelib.api.auth import authenticate
    from chalicelib.bootstrap import container

    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    principal = None
    if spec.auth in ("user", "admin"):
        principal = authenticate(headers, request.context, container().settings,
                                 require_admin=spec.auth == "admin")
    ctx = Ctx(request=request, principal=principal, headers=headers)
    if spec.query is not None:
        ctx.query = _validate(spec.query, dict(request.query_params or {}))
    if spec.body is not None:
        raw = request.raw_body
        empty_allowed = not any(f.is_required() for f in spec.body.model_fields.values())
        data = {} if empty_allowed and raw in (None, b"", "") else parse_json(raw)
        ctx.body = _validate(spec.body, data)
    return ctx
