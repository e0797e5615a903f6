"""Settings read from the environment: names, defaults and the values derived from other variables."""
from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from chalicelib.settings import get_settings, settings_from_env

POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Pool"
TABLES = {"catalog_table": "catalog", "capacity_table": "capacity", "requests_table": "service-requests",
          "audit_table": "audit", "idempotency_table": "idempotency", "ops_table": "ops", "realtime_table": "realtime",
          "outbox_table": "outbox"}


def test_defaults_are_the_local_stack():
    s = settings_from_env({})
    assert (s.stage, s.region, s.auth_mode, s.is_local) == ("local", "us-east-1", "dev", True)
    assert {name: getattr(s, name) for name in TABLES} == {name: f"portal-local-{suffix}"
                                                           for name, suffix in TABLES.items()}
    assert (s.dynamodb_endpoint, s.ses_endpoint, s.websocket_management_endpoint, s.stripe_api_base) == (None,) * 4
    assert (s.hold_minutes, s.idempotency_ttl_seconds, s.catalog_cache_seconds, s.emergency_window_minutes) == (
        30, 48 * 3600, 30, 240)
    assert (s.realtime_delivery, s.cognito_issuer, s.cognito_jwks_url, s.cognito_client_id) == ("inline", None, None,
                                                                                                  None)


def test_table_names_come_from_the_prefix_unless_named():
    s = settings_from_env({"TABLE_PREFIX": "service-portal-dev-", "CATALOG_TABLE": "from-stack", "OPS_TABLE": ""})
    assert s.catalog_table == "from-stack"
    assert s.ops_table == "service-portal-dev-ops"  # blank counts as unset
    assert s.requests_table == "service-portal-dev-service-requests"
    assert settings_from_env({"TABLE_PREFIX": ""}).audit_table == "audit"  # a blank prefix is no prefix


def test_checkout_urls_are_on_the_portal_unless_given():
    s = settings_from_env({"PORTAL_BASE_URL": "https://portal.example"})
    assert s.checkout_success_url == ("https://portal.example/requests/{request_id}?checkout=success"
                                      "&session_id={CHECKOUT_SESSION_ID}")
    assert s.checkout_cancel_url == "https://portal.example/requests/{request_id}?checkout=cancelled"
    given = settings_from_env({"PORTAL_BASE_URL": "https://p", "CHECKOUT_SUCCESS_URL": "https://s",
                               "CHECKOUT_CANCEL_URL": ""})
    assert (given.checkout_success_url, given.checkout_cancel_url) == (
        "https://s", "https://p/requests/{request_id}?checkout=cancelled")
    assert settings_from_env({}).checkout_cancel_url.startswith("http://127.0.0.1:3000/requests/")


def test_cognito_issuer_and_key_set_come_from_the_pool_arn():
    s = settings_from_env({"COGNITO_USER_POOL_ARN": POOL_ARN})
    assert s.cognito_issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"
    assert s.cognito_jwks_url == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/.well-known/jwks.json"
    assert settings_from_env({"COGNITO_USER_POOL_ARN": POOL_ARN,
                              "COGNITO_JWKS_URL": "http://127.0.0.1:9/jwks.json"}).cognito_jwks_url == (
        "http://127.0.0.1:9/jwks.json")
    for arn in ("", "not-an-arn"):
        s = settings_from_env({"COGNITO_USER_POOL_ARN": arn})
        assert (s.cognito_issuer, s.cognito_jwks_url) == (None, None)
    assert settings_from_env({"COGNITO_JWKS_URL": "http://only"}).cognito_jwks_url == "http://only"


@pytest.mark.parametrize("raw, minutes", [("10", 30), ("30", 30), ("45", 45), ("", 30)])
def test_a_card_hold_lasts_at_least_stripes_minimum_of_30_minutes(raw, minutes):
    assert settings_from_env({"HOLD_MINUTES": raw}).hold_minutes == minutes


def test_numbers_that_are_not_numbers_are_refused():
    with pytest.raises(ValidationError):
        settings_from_env({"HOLD_MINUTES": "half an hour"})


@pytest.mark.parametrize("stage, mode", [("local", "dev"), ("test", "dev"), ("dev", "cognito"), ("prod", "cognito")])
def test_auth_mode_follows_the_stage_unless_set(stage, mode):
    assert settings_from_env({"STAGE": stage}).auth_mode == mode
    assert settings_from_env({"STAGE": stage, "AUTH_MODE": "dev"}).auth_mode == "dev"


def test_region_is_aws_region_then_the_default_region():
    assert settings_from_env({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}).region == "eu-west-1"
    assert settings_from_env({"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-west-2"}).region == "us-west-2"
    assert settings_from_env({"AWS_DEFAULT_REGION": ""}).region == "us-east-1"


def test_blank_endpoints_mean_the_real_services():
    s = settings_from_env({"DYNAMODB_ENDPOINT": "", "SES_ENDPOINT": "http://127.0.0.1:5000", "STRIPE_API_BASE": "",
                           "COGNITO_APP_CLIENT_ID": ""})
    assert (s.dynamodb_endpoint, s.ses_endpoint, s.stripe_api_base, s.cognito_client_id) == (
        None, "http://127.0.0.1:5000", None, None)


def test_powertools_names_are_read_from_their_variables():
    s = settings_from_env({"POWERTOOLS_METRICS_NAMESPACE": "NS", "POWERTOOLS_SERVICE_NAME": "svc"})
    assert (s.metrics_namespace, s.service_name) == ("NS", "svc")


def test_a_given_mapping_is_read_alone_and_as_the_environment_would_be(monkeypatch):
    env = {"STAGE": "dev", "TABLE_PREFIX": "service-portal-dev-", "HOLD_MINUTES": "45", "AWS_REGION": "eu-west-1",
           "COGNITO_USER_POOL_ARN": POOL_ARN, "PORTAL_BASE_URL": "https://portal.example"}
    from_mapping = settings_from_env(env)
    # The process environment (the tests' own) plays no part in a mapping's settings...
    assert from_mapping.hold_minutes == 45 and from_mapping.catalog_table == "service-portal-dev-catalog"
    # ...and the same variables in the environment give the same settings.
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert settings_from_env() == from_mapping


def test_variable_names_are_case_sensitive():
    assert settings_from_env({"stage": "prod", "Table_Prefix": "x-"}).stage == "local"


def test_settings_are_frozen_and_read_once(monkeypatch):
    s = settings_from_env({})
    with pytest.raises(ValidationError):
        s.stage = "prod"
    get_settings.cache_clear()
    try:
        first = get_settings()
        monkeypatch.setenv("STAGE", "prod")
        assert get_settings() is first
    finally:
        get_settings.cache_clear()
