"""OpenAPI 3.1 document generated from the endpoint registry and the pydantic models (never hand-kept)."""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api.errors import STATUS_BY_ERROR
from chalicelib.api.routing import REGISTRY, EndpointSpec
from chalicelib.api.schemas.common import ErrorResponse

REF = "#/components/schemas/{model}"
HEADER_REF = "#/components/headers/{name}"
STATUS_BY_CODE = {cls.code: status for cls, status in STATUS_BY_ERROR.items()}

# Response headers a client may read (api.cors exposes the same ones to browsers).
HEADERS: dict[str, dict] = {
    "X-Request-Id": {"description": "This request's id (also in the logs); on every answer.",
                     "schema": {"type": "string"}},
    "ETag": {"description": "Send back as If-None-Match to get 304 while the document is unchanged.",
             "schema": {"type": "string"}},
    "Cache-Control": {"description": "How long the answer may be reused.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "Present on a replay: this is the first answer to this "
                            "Idempotency-Key, nothing new was done.", "schema": {"type": "string", "enum": ["true"]}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
    "Content-Disposition": {"description": "The file name to save the answer as.", "schema": {"type": "string"}},
    "WWW-Authenticate": {"description": "The scheme to authenticate with.", "schema": {"type": "string",
                                                                                       "enum": ["Bearer"]}},
}
HEADER_PARAMETERS: dict[str, dict] = {
    "Idempotency-Key": {"required": True, "description": "Your id for this submission: a retry with the same key "
                        "and body gets the first answer again (Idempotent-Replayed: true).",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
    "If-None-Match": {"required": False, "description": "An ETag from an earlier answer: 304 while unchanged.",
                      "schema": {"type": "string", "maxLength": 1024}},
}
OTHER_HEADER = {"required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
RETRY_STATUSES = ("429", "503")


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict:
    schema = model.model_json_schema(ref_template=REF)
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(spec: EndpointSpec, components: dict[str, Any]) -> list[dict]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
              for name in re.findall(r"{(\w+)}", spec.path)]
    if spec.query is not None:
        schema = spec.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                           **({"description": prop["description"]} if "description" in prop else {})})
    for header in spec.headers:
        params.append({"name": header, "in": "header", **HEADER_PARAMETERS.get(header, OTHER_HEADER)})
    return params


def _headers(*names: str) -> dict:
    return {name: {"$ref": HEADER_REF.format(name=name)} for name in ("X-Request-Id", *names)}


def _responses(spec: EndpointSpec, components: dict[str, Any]) -> dict[str, Any]:
    """Every status the route answers: success (and 304), each error status with its codes, 500."""
    success: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {spec.content_type: {"schema": _schema(spec.response, components)}}
    elif spec.content_type != "application/json":
        success["content"] = {spec.content_type: {"schema": {"type": "string"}}}
    replayable = "Idempotency-Key" in spec.headers
    success["headers"] = _headers(*spec.response_headers, *(("Idempotent-Replayed",) if replayable else ()))
    responses: dict[str, Any] = {str(spec.status): success}
    if spec.not_modified:
        responses["304"] = {"description": "Not modified (If-None-Match matched): no body.",
                            "headers": _headers(*spec.response_headers)}
    codes = list(spec.errors)
    if spec.body is not None or spec.query is not None:
        codes.append("VALIDATION_ERROR")
    if spec.body is not None:
        codes.append("PAYLOAD_TOO_LARGE")
    if spec.auth in ("user", "admin"):
        codes.append("UNAUTHENTICATED")
    if spec.auth == "admin":
        codes.append("FORBIDDEN")
    codes.append("INTERNAL_ERROR")
    error_content = {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}
    for code in codes:
        status = str(STATUS_BY_CODE.get(code, 500 if code == "INTERNAL_ERROR" else 400))
        extra = (("Retry-After",) if status in RETRY_STATUSES else ()) + (("WWW-Authenticate",) if status == "401"
                                                                           else ())
        if replayable and status not in ("401", "403", "500"):  # a stored error outcome is replayed too
            extra += ("Idempotent-Replayed",)
        entry = responses.setdefault(status, {"description": "", "content": error_content, "headers": _headers()})
        entry["headers"].update(_headers(*extra))
        if code not in entry["description"].split(", "):
            entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    return responses


def _operation(spec: EndpointSpec, components: dict[str, Any]) -> dict:
    op: dict[str, Any] = {"summary": spec.summary or spec.path, "operationId": _operation_id(spec),
                          "parameters": _parameters(spec, components), "responses": _responses(spec, components),
                          "tags": list(spec.tags)}
    if spec.auth in ("user", "admin"):
        op["security"] = [{"bearer": []}]
    if spec.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": _schema(spec.body, components)}}}
    return op


def _operation_id(spec: EndpointSpec) -> str:
    words = re.sub(r"[{}]", "", spec.path).replace("-", "_").replace(".", "_").strip("/").split("/")
    return spec.method.lower() + "_" + "_".join(w for w in words if w)


def build_document(version: str = "1.0.0") -> dict:
    components: dict[str, Any] = {}
    _schema(ErrorResponse, components)
    paths: dict[str, dict] = {}
    for spec in sorted(REGISTRY, key=lambda s: (s.path, s.method)):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Service Portal API", "version": version,
                 "description": "Home-services booking portal backend. Errors: {error:{code,message,details}}."},
        "paths": paths,
        "components": {"schemas": components, "headers": HEADERS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
