"""One frozen Settings object, read from the environment once (no I/O beyond os.environ).

Each field names its environment variable (`validation_alias`). A blank override (CATALOG_TABLE=,
DYNAMODB_ENDPOINT=, HOLD_MINUTES=, ...) counts as unset, and the value is derived from the fields declared above
it (table names from TABLE_PREFIX, checkout URLs from PORTAL_BASE_URL, the JWKS URL from the user pool) or takes
its default. Other variables keep a blank value as given: TABLE_PREFIX= means "no prefix".
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Mapping
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, computed_field, field_validator
from pydantic_settings import (BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource,
                               SettingsConfigDict)
from pydantic_settings.sources.utils import parse_env_vars

# Stripe refuses a Checkout Session that expires sooner than 30 minutes; a card hold lasts as long.
MIN_HOLD_MINUTES = 30
TABLE_SUFFIXES = {
    "catalog_table": "catalog",
    "capacity_table": "capacity",
    "requests_table": "service-requests",
    "audit_table": "audit",
    "idempotency_table": "idempotency",
    "ops_table": "ops",
    "realtime_table": "realtime",
    "outbox_table": "outbox",
}
DEFAULT_PORTAL_BASE_URL = "http://127.0.0.1:3000"
# Only for the local and test stages (never a deployed one): obviously not secret.
LOCAL_SECRET_DEFAULTS = {
    "link_signing_secret": "local-link-secret-change-me-0123456789",
    "stripe_api_key": "sk_test_local",
    "stripe_webhook_secret": "whsec_local",
}


class Settings(BaseSettings):
    # Names match exactly (as os.environ.get did). validate_default: unset fields go through their validators
    # too, which is where derived values come from.
    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, validate_default=True, extra="ignore")

    stage: str = Field("local", validation_alias="STAGE")
    # AWS_REGION (set by Lambda), else AWS_DEFAULT_REGION, else us-east-1; blank counts as unset.
    aws_default_region: str | None = Field(None, validation_alias="AWS_DEFAULT_REGION")
    region: str = Field(None, validation_alias="AWS_REGION")
    # DynamoDB tables (names come from the environment: CloudFormation outputs in AWS, prefixes locally).
    table_prefix: str = Field("portal-local-", validation_alias="TABLE_PREFIX")
    catalog_table: str = Field(None, validation_alias="CATALOG_TABLE")
    capacity_table: str = Field(None, validation_alias="CAPACITY_TABLE")
    requests_table: str = Field(None, validation_alias="REQUESTS_TABLE")
    audit_table: str = Field(None, validation_alias="AUDIT_TABLE")
    idempotency_table: str = Field(None, validation_alias="IDEMPOTENCY_TABLE")
    ops_table: str = Field(None, validation_alias="OPS_TABLE")
    realtime_table: str = Field(None, validation_alias="REALTIME_TABLE")
    outbox_table: str = Field(None, validation_alias="OUTBOX_TABLE")
    # Endpoints: None means "the real AWS service"; set locally to the moto server / dev gateway.
    dynamodb_endpoint: str | None = Field(None, validation_alias="DYNAMODB_ENDPOINT")
    ses_endpoint: str | None = Field(None, validation_alias="SES_ENDPOINT")
    websocket_management_endpoint: str | None = Field(None, validation_alias="WEBSOCKET_MANAGEMENT_ENDPOINT")
    # Auth: "cognito" trusts API Gateway's Cognito authorizer claims; "dev" verifies HS256 dev tokens itself.
    # Unset, it is "dev" in the local and test stages and "cognito" elsewhere.
    auth_mode: str = Field(None, validation_alias="AUTH_MODE")
    dev_token_secret: str = Field("local-dev-token-secret-change-me-0123456789", validation_alias="DEV_TOKEN_SECRET")
    # Secrets (adapters/secrets.py): a value in the environment (local and test stages, whose defaults are below),
    # else the SSM parameter / Secrets Manager ARN named by the *_PARAMETER variable. Other stages have no default.
    link_signing_secret: str | None = Field(None, validation_alias="LINK_SIGNING_SECRET")
    link_signing_secret_parameter: str | None = Field(None, validation_alias="LINK_SIGNING_SECRET_PARAMETER")
    link_signing_secret_previous_parameter: str | None = Field(
        None, validation_alias="LINK_SIGNING_SECRET_PREVIOUS_PARAMETER")
    # Stripe
    stripe_api_key: str | None = Field(None, validation_alias="STRIPE_API_KEY")
    stripe_api_key_parameter: str | None = Field(None, validation_alias="STRIPE_API_KEY_PARAMETER")
    stripe_api_base: str | None = Field(None, validation_alias="STRIPE_API_BASE")
    stripe_webhook_secret: str | None = Field(None, validation_alias="STRIPE_WEBHOOK_SECRET")
    stripe_webhook_secret_parameter: str | None = Field(None, validation_alias="STRIPE_WEBHOOK_SECRET_PARAMETER")
    # Portal
    portal_base_url: str = Field(DEFAULT_PORTAL_BASE_URL, validation_alias="PORTAL_BASE_URL")
    # Checkout redirect targets; `{request_id}` is ours to fill, `{CHECKOUT_SESSION_ID}` is Stripe's.
    checkout_success_url: str = Field(None, validation_alias="CHECKOUT_SUCCESS_URL")
    checkout_cancel_url: str = Field(None, validation_alias="CHECKOUT_CANCEL_URL")
    mail_from: str = Field("bookings@example.com", validation_alias="MAIL_FROM")
    metrics_namespace: str = Field("ServicePortal", validation_alias="POWERTOOLS_METRICS_NAMESPACE")
    service_name: str = Field("service-portal", validation_alias="POWERTOOLS_SERVICE_NAME")
    hold_minutes: int = Field(MIN_HOLD_MINUTES, validation_alias="HOLD_MINUTES")
    idempotency_ttl_seconds: int = Field(48 * 3600, validation_alias="IDEMPOTENCY_TTL_SECONDS")
    catalog_cache_seconds: int = Field(30, validation_alias="CATALOG_CACHE_SECONDS")
    emergency_window_minutes: int = Field(240, validation_alias="EMERGENCY_WINDOW_MINUTES")
    # "inline": bookings push realtime updates themselves (local, tests); "stream": a DynamoDB-stream consumer
    # does (AWS stages), keeping the booking request at 3 DynamoDB requests.
    realtime_delivery: str = Field("inline", validation_alias="REALTIME_DELIVERY")
    # Cognito (AWS stages): used where no API Gateway authorizer ran (websocket $connect).
    cognito_user_pool_arn: str | None = Field(None, validation_alias="COGNITO_USER_POOL_ARN")
    cognito_jwks_url: str | None = Field(None, validation_alias="COGNITO_JWKS_URL")
    cognito_client_id: str | None = Field(None, validation_alias="COGNITO_APP_CLIENT_ID")
    # GET /docs (Swagger UI): locally and in dev stages, not in prod.
    api_docs: bool = Field(True, validation_alias="API_DOCS")
    # Browser origins allowed to call the API (api.cors): a JSON list of exact origins; "scheme://host:*" allows
    # any port. Unset: the portal's own origin (PORTAL_BASE_URL, a deploy parameter in AWS stages); blank: none.
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(None, validation_alias="CORS_ALLOWED_ORIGINS")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables only: no .env file, no secrets directory, no constructor values.
        return (env_settings,)

    @field_validator("aws_default_region", "dynamodb_endpoint", "ses_endpoint", "websocket_management_endpoint",
                     "stripe_api_base", "cognito_user_pool_arn", "cognito_client_id", "link_signing_secret_parameter",
                     "link_signing_secret_previous_parameter", "stripe_api_key_parameter",
                     "stripe_webhook_secret_parameter", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value or None

    @field_validator("link_signing_secret", "stripe_api_key", "stripe_webhook_secret", mode="before")
    @classmethod
    def _local_stages_only_have_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        """Local and test stages fall back to well-known local values; deployed stages never do."""
        if value:
            return value
        return LOCAL_SECRET_DEFAULTS[info.field_name] if info.data["stage"] in ("local", "test") else None

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins_from_json(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            parts = urlsplit(info.data.get("portal_base_url") or "")
            return (f"{parts.scheme}://{parts.netloc}",) if parts.scheme and parts.netloc else ()
        if value == "":
            return ()
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("hold_minutes", "idempotency_ttl_seconds", "catalog_cache_seconds", "emergency_window_minutes",
                     mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        return cls.model_fields[info.field_name].default if value in (None, "") else value

    @field_validator("hold_minutes")
    @classmethod
    def _hold_at_least_stripes_minimum(cls, value: int) -> int:
        return max(MIN_HOLD_MINUTES, value)

    @field_validator("region", mode="before")
    @classmethod
    def _region_with_fallbacks(cls, value: Any, info: ValidationInfo) -> Any:
        return value or info.data["aws_default_region"] or "us-east-1"

    @field_validator(*TABLE_SUFFIXES, mode="before")
    @classmethod
    def _table_from_prefix(cls, value: Any, info: ValidationInfo) -> Any:
        return value or f"{info.data['table_prefix']}{TABLE_SUFFIXES[info.field_name]}"

    @field_validator("auth_mode", mode="before")
    @classmethod
    def _auth_mode_by_stage(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:  # set, even blank, as os.environ.get(name, default) read it
            return value
        return "dev" if info.data["stage"] in ("local", "test") else "cognito"

    @field_validator("checkout_success_url", mode="before")
    @classmethod
    def _success_url_on_the_portal(cls, value: Any, info: ValidationInfo) -> Any:
        return value or (info.data["portal_base_url"]
                         + "/requests/{request_id}?checkout=success&session_id={CHECKOUT_SESSION_ID}")

    @field_validator("checkout_cancel_url", mode="before")
    @classmethod
    def _cancel_url_on_the_portal(cls, value: Any, info: ValidationInfo) -> Any:
        return value or info.data["portal_base_url"] + "/requests/{request_id}?checkout=cancelled"

    @field_validator("cognito_jwks_url", mode="before")
    @classmethod
    def _jwks_of_the_pool(cls, value: Any, info: ValidationInfo) -> Any:
        if value:
            return value
        issuer = cognito_issuer_of(info.data["cognito_user_pool_arn"])
        return f"{issuer}/.well-known/jwks.json" if issuer else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cognito_issuer(self) -> str | None:
        return cognito_issuer_of(self.cognito_user_pool_arn)

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")


def cognito_issuer_of(pool_arn: str | None) -> str | None:
    """arn:aws:cognito-idp:<region>:<account>:userpool/<pool id> -> the pool's token issuer URL."""
    if not pool_arn or ":userpool/" not in pool_arn:
        return None
    region = pool_arn.split(":")[3]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_arn.rsplit('/', 1)[1]}"


class _GivenEnvironment(EnvSettingsSource):
    """The environment-variable source reading a given mapping instead of os.environ: same names, aliases and
    parsing, so settings_from_env(env) and Settings() agree on every variable."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:  # the source's one read of os.environ
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the process environment, or from `env` alone (tests, devtools: a stage's variables)."""
    if env is None:
        return Settings()
    return Settings(_build_sources=((_GivenEnvironment(Settings, dict(env)),), {}))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()
