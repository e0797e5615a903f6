"""End-to-end fixtures: the real local stack as subprocesses on free loopback ports, once per session.

`stack` (session) is devtools.stack.LocalStack: moto server, tables and demo seed, the optional stand-ins
(Stripe stub, websocket dev gateway) and the local API, exactly what `make run` starts (see devtools/stack.py),
stopped at the end of the session. Child output goes to log files (`stack.log_tail(name)`).

    def test_x(stack, http):
        r = http.get(stack.url("/services"))
        r = http.get(stack.url("/portal/..."), headers=stack.auth("userA"))

Talking to moto directly (e.g. to check a counter item): `stack.bind_models()` points the pynamodb models at
the stack's moto server with the stack's table names (integration tests rebind them for themselves), or use
`stack.env` / `stack.settings` with boto3 (`endpoint_url=stack.moto_url`).

A test that needs its own instance of an optional component (e.g. one that fails on purpose) uses
`stack.start_component(component, **env_overrides)`; it is stopped at the end of the session.
"""
from __future__ import annotations

import pytest
import requests

from devtools.stack import LocalStack, running_stack

STAGE = "local"


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> LocalStack:
    with running_stack(tmp_path_factory.mktemp("e2e-logs"), stage=STAGE) as local:
        yield local


@pytest.fixture
def http():
    """A requests session with a timeout, so a hung server fails the test instead of blocking it."""
    session = requests.Session()
    original = session.request

    def request(method, url, **kwargs):
        kwargs.setdefault("timeout", 30)
        return original(method, url, **kwargs)

    session.request = request  # type: ignore[method-assign]
    yield session
    session.close()
