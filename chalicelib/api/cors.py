"""CORS, in one place for every route: which browser origins may call the API and what they may read.

Allowed origins come from the stage (`CORS_ALLOWED_ORIGINS` in .chalice/config.json, a JSON list of exact
origins; unset, the origin of PORTAL_BASE_URL, which deployed stages take from their deploy parameters). An entry
ending in `:*` allows that scheme and host on any port (the local and test stages allow `http://localhost:*` and
`http://127.0.0.1:*`: portal dev servers run on many ports). Chalice's CORSConfig
takes one static origin per route and would send it to every caller, so the app answers CORS itself: it
echoes an allowed `Origin` (with `Vary: Origin`) and sends nothing at all to any other origin, which the browser
then blocks. Credentials are not allowed: the portal sends bearer tokens, not cookies.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-None-Match")
EXPOSE_HEADERS = ("ETag", "Idempotent-Replayed", "Retry-After", "X-Request-Id", "Content-Disposition",
                  "Cache-Control", "WWW-Authenticate")
MAX_AGE_SECONDS = 600  # browsers cap it anyway (Chromium: 2 h); short enough that a config change applies soon
ANY_PORT = ":*"


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    if not origin:
        return False
    for entry in allowed:
        if entry == origin:
            return True
        if entry.endswith(ANY_PORT) and re.fullmatch(re.escape(entry[:-len(ANY_PORT)]) + r"(:[0-9]{1,5})?", origin):
            return True
    return False


def _origin_of(headers: Mapping[str, str] | None) -> str | None:
    return next((v for k, v in (headers or {}).items() if k.lower() == "origin"), None)


def response_headers(request_headers: Mapping[str, str] | None, allowed: Iterable[str]) -> dict[str, str]:
    """Headers every response to an allowed origin carries; {} for anyone else (no Origin, or not allowed)."""
    origin = _origin_of(request_headers)
    if not origin_allowed(origin, allowed):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": ", ".join(EXPOSE_HEADERS)}


def preflight_headers(request_headers: Mapping[str, str] | None, allowed: Iterable[str],
                      methods: Iterable[str]) -> dict[str, str]:
    """The answer to a preflight (`OPTIONS` with Access-Control-Request-Method) from an allowed origin."""
    if not origin_allowed(_origin_of(request_headers), allowed):
        return {}
    return {"Access-Control-Allow-Methods": ", ".join(sorted({*methods, "OPTIONS"})),
            "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS)}


def with_vary_origin(headers: dict[str, str]) -> dict[str, str]:
    """Answers differ by Origin, so caches (browsers, CDNs) must key on it, allowed or not."""
    vary = [v.strip() for v in headers.get("Vary", "").split(",") if v.strip()]
    if "origin" not in (v.lower() for v in vary):
        vary.append("Origin")
    return {**headers, "Vary": ", ".join(vary)}
