"""Integration fixtures: in-process moto (`mock_aws`), tables from the models, the demo seed, and
`chalice.test.Client` on the real app.

Typical use:

    def test_something(client, tokens):
        response = client.http.get("/portal/...", headers=auth(tokens["userA"]))

`client` implies a fresh mocked AWS account with every table created and the demo catalog seeded
(devtools/seed.py); the app's container is rebuilt from the test settings for each test, so nothing leaks
between tests. Use `aws` + `tables` alone for adapter tests that need empty tables. Swap a dependency with
`app_container.override(name=fake)`.
"""
from __future__ import annotations

import pytest
from moto import mock_aws

from devtools.processes import PROJECT_DIR


def auth(token: str) -> dict[str, str]:
    """Authorization header for a dev token."""
    return {"Authorization": f"Bearer {token}"}


def pk_sk_table(name: str):
    """A plain on-demand table keyed (pk, sk), both strings, in the mocked account; returns a boto3 client.
    For tests of the local DynamoDB itself (devtools/moto_*.py), which need no model."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    return client


@pytest.fixture
def aws():
    """A fresh in-process mocked AWS account for the duration of one test."""
    with mock_aws():
        yield


@pytest.fixture
def tables(aws, settings):
    """Every table of chalicelib.adapters.dynamodb.models created (same code path as `make run`)."""
    from chalicelib.adapters.dynamodb.tables import create_tables
    return create_tables(settings)


@pytest.fixture
def seeded(tables, settings):
    """The demo catalog (devtools.seed): 3 services, 2 teams, 5 members, blackouts. Returns counts."""
    from devtools.seed import seed_demo
    return seed_demo(settings)


@pytest.fixture
def app_container(settings):
    """The app's composition root for this test, built from the test settings (reset afterwards)."""
    from chalicelib.bootstrap import Container, use_container
    from chalicelib.settings import get_settings

    get_settings.cache_clear()
    container = Container(settings)
    use_container(container)
    yield container
    use_container(None)
    get_settings.cache_clear()


@pytest.fixture
def client(seeded, app_container):
    """chalice.test.Client on app.app, stage "test" (its env vars are applied during each request)."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as test_client:
        yield test_client


@pytest.fixture
def tokens(settings):
    """Dev tokens for the demo principals: keys userA, userB (portal users), admin (group "admin")."""
    from devtools.seed import demo_tokens
    return demo_tokens(settings)
