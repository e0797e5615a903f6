"""OpenAPI 3.1 document generated from the endpoint registry and the pydantic models (never hand-kept)."""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api.errors import STATUS_BY_ERROR
from chalicelib.api.routing import REGISTRY, EndpointSpec
from chalicelib.api.schemas.common import ErrorResponse

REF = "#/components/schemas/{model}"
STATUS_BY_CODE = {cls.code: status for cls, status in STATUS_BY_ERROR.items()}


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
        params.append({"name": header, "in": "header", "required": header == "Idempotency-Key",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
    return params


def _operation(spec: EndpointSpec, components: dict[str, Any]) -> dict:
    error_ref = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}}}
    success: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {spec.content_type: {"schema": _schema(spec.response, components)}}
    elif spec.content_type != "application/json":
        success["content"] = {spec.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(spec.status): success}
    codes = list(spec.errors)
    if spec.body is not None or spec.query is not None:
        codes.append("VALIDATION_ERROR")
    if spec.auth in ("user", "admin"):
        codes.append("UNAUTHENTICATED")
    if spec.auth == "admin":
        codes.append("FORBIDDEN")
    for code in codes:
        status = str(STATUS_BY_CODE.get(code, 400))
        entry = responses.setdefault(status, {"description": "", **error_ref})
        entry["description"] = ", ".join(filter(None, [entry["description"], code]))
    op: dict[str, Any] = {"summary": spec.summary or spec.path, "operationId": _operation_id(spec),
                          "parameters": _parameters(spec, components), "responses": responses,
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
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
