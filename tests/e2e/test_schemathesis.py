"""Property-based run of the published OpenAPI document against the local API over HTTP: no input, valid or
invalid, may produce a 5xx. Operations come from the same endpoint registry that generates /openapi.json,
so every later route is covered automatically. Admin routes are called with the admin token, the other
authenticated routes with a portal user's token.

Uses schemathesis' library API (operation strategies + Hypothesis): its lazy pytest loader
(`schemathesis.pytest.from_fixture`) reads a pytest-internal attribute that pytest 9 no longer has.
Bounded: MAX_EXAMPLES per operation and generation mode keeps the whole e2e run around a minute or two.
"""
from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from devtools.stack import running_stack
from tests.e2e.conftest import STAGE

# Its own stack, and one xdist worker for all of it (`make test` runs --dist loadgroup): the admin's random writes
# (promotions of up to 100 %, deactivated services, changed hours) must not reach the stack other tests book on.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("schemathesis")]

MAX_EXAMPLES = 10


def _documented_cases() -> list[tuple[str, str, GenerationMode]]:
    """(METHOD, path, mode) for every documented operation, from the in-process document (no server needed).
    Invalid-input generation only where the operation takes a body, query or header input (otherwise there
    is nothing invalid that can be sent)."""
    import app  # noqa: F401 - registers every blueprint's endpoints
    from chalicelib.api.openapi import build_document

    cases = []
    for path, ops in build_document()["paths"].items():
        for method, op in ops.items():
            cases.append((method.upper(), path, GenerationMode.POSITIVE))
            # Path parameters alone cannot be made invalid on the wire (an empty segment is another route).
            if op.get("requestBody") or any(p["in"] != "path" for p in op.get("parameters", [])):
                cases.append((method.upper(), path, GenerationMode.NEGATIVE))
    return sorted(cases, key=lambda c: (c[1], c[0], c[2].value))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """This module's own stack (shadows the shared session one)."""
    with running_stack(tmp_path_factory.mktemp("e2e-schemathesis-logs"), stage=STAGE) as local:
        yield local


@pytest.fixture(scope="module")
def api_schema(stack):
    return schemathesis.openapi.from_url(stack.url("/openapi.json"), timeout=30)


@pytest.fixture(scope="module")
def api_session():
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("method,path,mode", _documented_cases(),
                         ids=lambda v: v.value if isinstance(v, GenerationMode) else v)
def test_no_input_makes_the_api_fail_with_a_5xx(api_schema, api_session, stack, method, path, mode):
    operation = api_schema[path][method]
    secured = bool(operation.definition.raw.get("security"))
    headers = stack.auth("admin" if path.startswith("/admin") else "userA") if secured else {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def no_server_error(case):
        response = case.call(base_url=stack.base_url, session=api_session, headers=headers, timeout=30)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}\n"
            f"reproduce: {case.as_curl_command(headers=headers)}")

    no_server_error()
