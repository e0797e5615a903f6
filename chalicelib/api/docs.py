"""`GET /docs`: interactive API docs (Swagger UI) for /openapi.json, from a packaged distribution.

Swagger UI comes from the `swagger-ui-bundle-v2` wheel (Swagger UI 5, which renders OpenAPI 3.1; the older
`swagger-ui-bundle` ships 4.x, which does not): deployed with the app, nothing is loaded from a CDN, so the
docs work offline and no third party can change the script that runs next to a user's token. Served locally
and in dev stages (API_DOCS, per stage in .chalice/config.json); elsewhere the routes answer 404.
"""
from __future__ import annotations

from functools import lru_cache

from chalice import Blueprint, Response

from chalicelib.api.routing import Ctx, endpoint
from chalicelib.bootstrap import container
from chalicelib.domain.errors import NotFound

bp = Blueprint(__name__)

ASSETS = {"swagger-ui-bundle.js": "application/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8"}
# Relative URLs: right both at /docs locally and under API Gateway's stage prefix (/api/docs).
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Service Portal API</title>
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
</script></body></html>
"""
CACHE = "public, max-age=3600"


def _require_docs() -> None:
    if not container().settings.api_docs:
        raise NotFound("No route matches this path.")


@lru_cache(maxsize=len(ASSETS))
def _asset(name: str) -> str:
    import swagger_ui_bundle

    return (swagger_ui_bundle.swagger_ui_path / name).read_text(encoding="utf-8")


@endpoint(bp, "/docs", summary="Interactive API docs (Swagger UI) for /openapi.json", errors=("NOT_FOUND",),
          content_type="text/html", tags=("system",))
def docs(ctx: Ctx) -> Response:
    _require_docs()
    return Response(body=PAGE, status_code=200, headers={"Content-Type": "text/html; charset=utf-8",
                                                         "Cache-Control": CACHE})


@endpoint(bp, "/docs/{asset}", summary="Swagger UI's script and style sheet", errors=("NOT_FOUND",),
          content_type="text/plain", tags=("system",))
def docs_asset(ctx: Ctx, asset: str) -> Response:
    _require_docs()
    if asset not in ASSETS:
        raise NotFound("No such file.")
    return Response(body=_asset(asset), status_code=200, headers={"Content-Type": ASSETS[asset],
                                                                  "Cache-Control": CACHE})
