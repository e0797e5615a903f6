"""Dev tokens for the local and test stages: HS256 JWTs carrying Cognito-shaped claims (verified with PyJWT).

Tokens are issued and their expiry checked against the wall clock (PyJWT reads it), not the app's business
clock: a test that fixes the business clock in the past still authenticates, and a shifted machine clock
(faketime) shifts issue and check alike.

In AWS stages API Gateway's Cognito authorizer verifies tokens and this module is not used.
"""
from __future__ import annotations

import jwt

from chalicelib.clock import epoch_seconds

AUDIENCE = "service-portal"
ISSUER = "service-portal-dev"


def issue(secret: str, sub: str, groups: list[str] | None = None, email: str | None = None,
          ttl_seconds: int = 30 * 24 * 3600, now: float | None = None) -> str:
    issued = int(now) if now is not None else epoch_seconds()
    claims = {"sub": sub, "cognito:groups": list(groups or []), "aud": AUDIENCE, "iss": ISSUER,
              "iat": issued, "exp": issued + ttl_seconds, "token_use": "id"}
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(secret: str, token: str) -> dict | None:
    """Claims of a valid token, or None (bad signature, expired, malformed, wrong audience)."""
    try:
        return jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                          options={"require": ["sub", "exp", "aud", "iss"]})
    except jwt.PyJWTError:
        return None
