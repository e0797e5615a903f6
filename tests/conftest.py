"""Shared test setup for every layer.

The environment is fixed BEFORE anything imports chalicelib: stage "test", dev-token auth, the test table
prefix, dummy AWS credentials and a region, and no endpoint overrides (so in-process moto intercepts every
AWS call and nothing can reach a real account, even from a shell where `make run` variables are exported).
"""
from __future__ import annotations

import os

import pytest

TEST_ENV = {
    "STAGE": "test",
    "AUTH_MODE": "dev",
    "TABLE_PREFIX": "portal-test-",
    "DEV_TOKEN_SECRET": "test-dev-token-secret-0123456789abcdef",
    "LINK_SIGNING_SECRET": "test-link-secret-0123456789abcdef",
    "STRIPE_API_KEY": "sk_test_local",
    "STRIPE_WEBHOOK_SECRET": "whsec_test",
    "POWERTOOLS_SERVICE_NAME": "service-portal",
    "POWERTOOLS_METRICS_NAMESPACE": "ServicePortal",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "CORS_ALLOWED_ORIGINS": '["http://localhost:*","http://127.0.0.1:*"]',  # as the test stage's config
}
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Never inherited from the shell: these would point the code at a running local stack or a real profile.
CLEARED = ("AWS_PROFILE", "DYNAMODB_ENDPOINT", "SES_ENDPOINT", "WEBSOCKET_MANAGEMENT_ENDPOINT", "STRIPE_API_BASE",
           "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "CATALOG_TABLE", "CAPACITY_TABLE", "REQUESTS_TABLE",
           "AUDIT_TABLE", "IDEMPOTENCY_TABLE", "OPS_TABLE", "REALTIME_TABLE", "OUTBOX_TABLE", "COGNITO_USER_POOL_ARN",
           "REALTIME_DELIVERY", "REQUESTS_STREAM_ARN", "STREAM_POLLER_CHECKPOINT")

for _key in CLEARED:
    os.environ.pop(_key, None)
for _key, _value in TEST_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.update(DUMMY_AWS)  # forced: tests never use real credentials


def _share_botocore_loader() -> None:
    """Each test rebinds the models; one botocore loader for all sessions keeps that cheap (see the function)."""
    from chalicelib.adapters.dynamodb.tables import share_botocore_loader
    share_botocore_loader()


_share_botocore_loader()


@pytest.fixture
def settings():
    """Fresh Settings from the test environment (not the cached get_settings())."""
    from chalicelib.settings import settings_from_env
    return settings_from_env()


@pytest.fixture
def issue_token(settings):
    """issue_token(sub, groups=(), **kw) -> a dev token signed with the test secret."""
    from chalicelib.adapters import dev_tokens

    def issue(sub: str, groups=(), **kwargs) -> str:
        return dev_tokens.issue(settings.dev_token_secret, sub, groups=list(groups), **kwargs)

    return issue


def _serialise_in_process_moto() -> None:
    """In-process moto applies a TransactWriteItems item by item and restores a copy of the tables on failure, so
    two transactions from two threads can interleave and undo each other's writes. Real DynamoDB transactions
    are atomic and isolated; tests that race threads against `mock_aws` get the same guarantee by handling one
    mocked request at a time (devtools/moto_atomic.py does the same for the moto server)."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    if getattr(BotocoreStubber.process_request, "_serialised", False):
        return
    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def process_request(self, request):
        with lock:
            return original(self, request)

    process_request._serialised = True
    BotocoreStubber.process_request = process_request


_serialise_in_process_moto()


def _transactions_that_copy_only_touched_items() -> None:
    """The same TransactWriteItems as the local stack's moto server (devtools/moto_transactions.py)."""
    from devtools import moto_transactions
    moto_transactions.install()


_transactions_that_copy_only_touched_items()


def _queries_that_cost_what_they_return() -> None:
    """The same table Query as the local stack's moto server (devtools/moto_query.py)."""
    from devtools import moto_query
    moto_query.install()


_queries_that_cost_what_they_return()


def _item_values_serialized_as_they_are() -> None:
    """The same DynamoDB responses as the local stack's moto server (devtools/moto_responses.py)."""
    from devtools import moto_responses
    moto_responses.install()


_item_values_serialized_as_they_are()


def _values_sized_and_compared_directly() -> None:
    """The same item sizes and comparisons as the local stack's moto server (devtools/moto_values.py)."""
    from devtools import moto_values
    moto_values.install()


_values_sized_and_compared_directly()


def _sleep_that_survives_a_shifted_wall_clock() -> None:
    """Under Debian's libfaketime with only the wall clock shifted (FAKETIME_DONT_FAKE_MONOTONIC=1, which Python's
    timed lock waits need), `time.sleep` fails with EINVAL: libfaketime shifts its absolute CLOCK_MONOTONIC
    deadline as if it were a wall-clock time. Timed waits on an Event are unaffected, so sleep on one there.
    Outside faketime nothing changes."""
    import time

    if "faketime" not in os.environ.get("LD_PRELOAD", ""):
        return
    import threading

    never_set = threading.Event()

    def sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        never_set.wait(seconds)

    time.sleep = sleep


_sleep_that_survives_a_shifted_wall_clock()
