"""One frozen Settings object, read from the environment once (no I/O beyond os.environ)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    # DynamoDB tables (names come from the environment: CloudFormation outputs in AWS, prefixes locally).
    catalog_table: str
    capacity_table: str
    requests_table: str
    audit_table: str
    idempotency_table: str
    ops_table: str
    realtime_table: str
    # Endpoints: None means "the real AWS service"; set locally to the moto server / dev gateway.
    dynamodb_endpoint: str | None
    ses_endpoint: str | None
    websocket_management_endpoint: str | None
    # Auth: "cognito" trusts API Gateway's Cognito authorizer claims; "dev" verifies HS256 dev tokens itself.
    auth_mode: str
    dev_token_secret: str
    link_signing_secret: str
    # Stripe
    stripe_api_key: str
    stripe_api_base: str | None
    stripe_webhook_secret: str
    # Checkout redirect targets; `{request_id}` is ours to fill, `{CHECKOUT_SESSION_ID}` is Stripe's.
    checkout_success_url: str
    checkout_cancel_url: str
    # Portal
    portal_base_url: str
    mail_from: str
    metrics_namespace: str
    service_name: str
    hold_minutes: int
    idempotency_ttl_seconds: int
    catalog_cache_seconds: int
    emergency_window_minutes: int
    # "inline": bookings push realtime updates themselves (local, tests); "stream": a DynamoDB-stream consumer
    # does (AWS stages), keeping the booking request at 3 DynamoDB requests.
    realtime_delivery: str = "inline"
    # Cognito (AWS stages): used where no API Gateway authorizer ran (websocket $connect).
    cognito_issuer: str | None = None
    cognito_jwks_url: str | None = None
    cognito_client_id: str | None = None

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    prefix = env.get("TABLE_PREFIX", "portal-local-")

    def table(key: str, suffix: str) -> str:
        return env.get(key) or f"{prefix}{suffix}"

    def optional(key: str) -> str | None:
        return env.get(key) or None

    stage = env.get("STAGE", "local")
    return Settings(
        stage=stage,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        catalog_table=table("CATALOG_TABLE", "catalog"),
        capacity_table=table("CAPACITY_TABLE", "capacity"),
        requests_table=table("REQUESTS_TABLE", "service-requests"),
        audit_table=table("AUDIT_TABLE", "audit"),
        idempotency_table=table("IDEMPOTENCY_TABLE", "idempotency"),
        ops_table=table("OPS_TABLE", "ops"),
        realtime_table=table("REALTIME_TABLE", "realtime"),
        dynamodb_endpoint=optional("DYNAMODB_ENDPOINT"),
        ses_endpoint=optional("SES_ENDPOINT"),
        websocket_management_endpoint=optional("WEBSOCKET_MANAGEMENT_ENDPOINT"),
        auth_mode=env.get("AUTH_MODE", "dev" if stage in ("local", "test") else "cognito"),
        dev_token_secret=env.get("DEV_TOKEN_SECRET", "local-dev-token-secret-change-me-0123456789"),
        link_signing_secret=env.get("LINK_SIGNING_SECRET", "local-link-secret-change-me-0123456789"),
        stripe_api_key=env.get("STRIPE_API_KEY", "sk_test_local"),
        stripe_api_base=optional("STRIPE_API_BASE"),
        stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", "whsec_local"),
        portal_base_url=env.get("PORTAL_BASE_URL", "http://127.0.0.1:3000"),
        checkout_success_url=env.get("CHECKOUT_SUCCESS_URL") or (
            env.get("PORTAL_BASE_URL", "http://127.0.0.1:3000")
            + "/requests/{request_id}?checkout=success&session_id={CHECKOUT_SESSION_ID}"),
        checkout_cancel_url=env.get("CHECKOUT_CANCEL_URL") or (
            env.get("PORTAL_BASE_URL", "http://127.0.0.1:3000") + "/requests/{request_id}?checkout=cancelled"),
        mail_from=env.get("MAIL_FROM", "bookings@example.com"),
        metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", "ServicePortal"),
        service_name=env.get("POWERTOOLS_SERVICE_NAME", "service-portal"),
        hold_minutes=max(30, _int("HOLD_MINUTES", 30)),  # Stripe's minimum expires_at is 30 minutes
        idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL_SECONDS", 48 * 3600),
        catalog_cache_seconds=_int("CATALOG_CACHE_SECONDS", 30),
        emergency_window_minutes=_int("EMERGENCY_WINDOW_MINUTES", 240),
        realtime_delivery=env.get("REALTIME_DELIVERY", "inline"),
        cognito_issuer=_cognito_issuer(env.get("COGNITO_USER_POOL_ARN")),
        cognito_jwks_url=env.get("COGNITO_JWKS_URL") or (
            f"{_cognito_issuer(env.get('COGNITO_USER_POOL_ARN'))}/.well-known/jwks.json"
            if _cognito_issuer(env.get("COGNITO_USER_POOL_ARN")) else None),
        cognito_client_id=optional("COGNITO_APP_CLIENT_ID"),
    )


def _cognito_issuer(pool_arn: str | None) -> str | None:
    """arn:aws:cognito-idp:<region>:<account>:userpool/<pool id> -> the pool's token issuer URL."""
    if not pool_arn or ":userpool/" not in pool_arn:
        return None
    region = pool_arn.split(":")[3]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_arn.rsplit('/', 1)[1]}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()
