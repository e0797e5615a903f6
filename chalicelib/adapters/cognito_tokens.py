"""Cognito user-pool tokens verified by the app (RS256 against the pool's JWKS, PyJWT).

Only where API Gateway ran no authorizer: websocket `$connect` (websocket APIs have no Cognito authorizer). HTTP
routes in AWS stages are verified by API Gateway's Cognito authorizer before the app runs.
"""
from __future__ import annotations

import threading

import jwt

_clients: dict[str, "jwt.PyJWKClient"] = {}
_lock = threading.Lock()


def _client(jwks_url: str) -> "jwt.PyJWKClient":
    # One client per URL per container: it caches the key set (an hour) so a connect rarely fetches it.
    with _lock:
        if jwks_url not in _clients:
            _clients[jwks_url] = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=3)
        return _clients[jwks_url]


def verify(token: str, issuer: str, jwks_url: str, client_id: str | None = None) -> dict | None:
    """Claims of a valid ID or access token of this pool (and app client, when given), else None — including
    when the key set cannot be fetched (fail closed)."""
    try:
        key = _client(jwks_url).get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=issuer,
                            options={"require": ["sub", "exp", "iss", "token_use"], "verify_aud": False})
    except jwt.PyJWTError:
        return None
    use = claims.get("token_use")
    if use == "id":
        audience_ok = client_id is None or claims.get("aud") == client_id
    elif use == "access":
        audience_ok = client_id is None or claims.get("client_id") == client_id
    else:
        return None
    return claims if audience_ok else None
