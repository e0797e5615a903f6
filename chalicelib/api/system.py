"""Health and the generated OpenAPI document."""
from __future__ import annotations

from functools import lru_cache

from chalice import Blueprint

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.api.schemas.system import HealthOut
from chalicelib.bootstrap import container

bp = Blueprint(__name__)


@endpoint(bp, "/health", summary="Liveness (no dependencies touched)", response=HealthOut,
          tags=("system",))
def health(ctx: Ctx) -> dict:
    return {"status": "ok", "stage": container().settings.stage}


@lru_cache(maxsize=1)
def _document() -> dict:
    from chalicelib.api.openapi import build_document
    return build_document()


@endpoint(bp, "/openapi.json", summary="This API's OpenAPI 3.1 document", tags=("system",))
def openapi(ctx: Ctx) -> dict:
    return _document()
