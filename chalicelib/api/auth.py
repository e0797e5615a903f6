"""Principal extraction: one code path for Cognito authorizer claims (AWS) and dev tokens (local, tests)."""
from __future__ import annotations

from typing import Any, Mapping

from chalicelib.bootstrap import verify_token
from chalicelib.domain.errors import Forbidden, Unauthenticated
from chalicelib.domain.principal import Principal
from chalicelib.settings import Settings


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    sub = claims.get("sub")
    if not sub or not isinstance(sub, str):
        raise Unauthenticated()
    groups = claims.get("cognito:groups") or []
    if isinstance(groups, str):  # API Gateway passes Cognito groups as "a,b" or "[a b]"
        groups = [g for g in groups.strip("[]").replace(",", " ").split() if g]
    return Principal(user_id=sub, groups=tuple(groups), email=claims.get("email"))


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def claims_for(headers: Mapping[str, str], context: Mapping[str, Any] | None, settings: Settings) -> dict:
    """Verified claims, or Unauthenticated. In `cognito` mode API Gateway already verified the token."""
    if settings.auth_mode == "cognito":
        claims = ((context or {}).get("authorizer") or {}).get("claims")
        if claims:
            return dict(claims)
    # No authorizer ran (dev tokens locally; websocket $connect in AWS stages): verify the bearer token here.
    token = bearer_token(headers)
    claims = verify_token(token, settings) if token else None
    if claims is None:
        raise Unauthenticated()
    return claims


def authenticate(headers: Mapping[str, str], context: Mapping[str, Any] | None, settings: Settings,
                 require_admin: bool = False) -> Principal:
    principal = principal_from_claims(claims_for(headers, context, settings))
    if require_admin and not principal.is_admin:
        raise Forbidden()
    return principal
