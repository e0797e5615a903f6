"""Stage secrets: a deployed stage reads its secrets from SSM (Powertools Parameters, moto here) and, lacking one,
refuses the work that needs it with 503 CONFIGURATION_ERROR and a metric — never a committed local default."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from chalicelib.adapters.secrets import StageSecrets
from chalicelib.domain import links
from chalicelib.domain.errors import ConfigurationError
from chalicelib.settings import LOCAL_SECRET_DEFAULTS, settings_from_env

DEPLOYED = {"STAGE": "dev", "AUTH_MODE": "dev", "TABLE_PREFIX": "portal-test-", "AWS_REGION": "us-east-1",
            "DEV_TOKEN_SECRET": "test-dev-token-secret-0123456789abcdef"}
PARAMETERS = {"STRIPE_API_KEY_PARAMETER": "/service-portal/dev/stripe-api-key",
              "STRIPE_WEBHOOK_SECRET_PARAMETER": "/service-portal/dev/stripe-webhook-secret",
              "LINK_SIGNING_SECRET_PARAMETER": "/service-portal/dev/link-signing-secret"}


def test_a_deployed_stage_has_no_secret_defaults():
    settings = settings_from_env(DEPLOYED)
    assert (settings.stripe_api_key, settings.stripe_webhook_secret, settings.link_signing_secret) == (
        None, None, None)
    local = settings_from_env({"STAGE": "local"})
    assert local.link_signing_secret == LOCAL_SECRET_DEFAULTS["link_signing_secret"]


@pytest.mark.parametrize("read", ["stripe_api_key", "stripe_webhook_secret", "link_signing_secrets"])
def test_a_missing_secret_fails_loudly_and_is_counted(read, capsys):
    secrets = StageSecrets(settings_from_env(DEPLOYED))
    with pytest.raises(ConfigurationError) as refused:
        getattr(secrets, read)()
    assert refused.value.details["secret"] in ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "LINK_SIGNING_SECRET")
    from chalicelib.observability import flush
    flush()
    assert '"ConfigurationError"' in capsys.readouterr().out


def test_secrets_come_from_ssm_and_the_retired_link_secret_is_still_accepted(aws):
    ssm = boto3.client("ssm", region_name="us-east-1")
    values = {"/service-portal/dev/stripe-api-key": "sk_live_from_ssm",
              "/service-portal/dev/stripe-webhook-secret": "whsec_from_ssm",
              "/service-portal/dev/link-signing-secret": "new-link-secret-0123456789abcdef",
              "/service-portal/dev/link-signing-secret-previous": "old-link-secret-0123456789abcdef"}
    for name, value in values.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    settings = settings_from_env({**DEPLOYED, **PARAMETERS,
                                  "LINK_SIGNING_SECRET_PREVIOUS_PARAMETER": "/service-portal/dev/link-signing-secret-previous"})
    secrets = StageSecrets(settings)
    assert secrets.stripe_api_key() == "sk_live_from_ssm"
    assert secrets.stripe_webhook_secret() == "whsec_from_ssm"
    assert secrets.link_signing_secrets() == ("new-link-secret-0123456789abcdef", "old-link-secret-0123456789abcdef")

    start = datetime.now(timezone.utc) + timedelta(days=3)
    old_link = links.sign("old-link-secret-0123456789abcdef", "sr_1", links.ICS, start)
    now = start - timedelta(days=1)
    assert any(links.verify(s, old_link, links.ICS, now) == "sr_1" for s in secrets.link_signing_secrets())
    assert links.verify(LOCAL_SECRET_DEFAULTS["link_signing_secret"],
                        links.sign(LOCAL_SECRET_DEFAULTS["link_signing_secret"], "sr_1", links.ICS, start),
                        links.ICS, now) == "sr_1"
    forged = links.sign(LOCAL_SECRET_DEFAULTS["link_signing_secret"], "sr_1", links.ICS, start)
    assert not any(links.verify(s, forged, links.ICS, now) for s in secrets.link_signing_secrets())


@pytest.fixture
def deployed_api(tables, app_container):
    """The app answering as a deployed stage with no secret configured (tables as in the test stage)."""
    from chalice.test import Client

    from app import app
    from devtools.processes import PROJECT_DIR
    app_container.override(settings=settings_from_env({**DEPLOYED}), secrets=StageSecrets(settings_from_env(DEPLOYED)))
    app_container.__dict__.pop("stripe", None)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as client:
        yield client


def test_a_deployed_stage_without_secrets_refuses_webhooks_and_links_with_503(deployed_api):
    webhook = deployed_api.http.post("/payments/stripe/webhook", body=json.dumps({"id": "evt_1"}),
                                     headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=x"})
    assert webhook.status_code == 503, webhook.body
    assert json.loads(webhook.body)["error"]["code"] == "CONFIGURATION_ERROR"
    token = links.sign(LOCAL_SECRET_DEFAULTS["link_signing_secret"], "sr_1", links.ICS,
                       datetime.now(timezone.utc) + timedelta(days=3))
    link = deployed_api.http.get(f"/links/{token}/calendar.ics")
    assert link.status_code == 503, link.body
    assert json.loads(link.body)["error"]["code"] == "CONFIGURATION_ERROR"
