"""Foundation contracts without AWS: the error table, authentication, request parsing, import hygiene."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client
from pydantic import Field

from chalicelib.adapters import dev_tokens
from chalicelib.api import errors as api_errors
from chalicelib.api import routing
from chalicelib.api.auth import authenticate, principal_from_claims
from chalicelib.api.schemas.common import Strict
from chalicelib.domain import errors as e
from chalicelib.settings import settings_from_env
from devtools.processes import PROJECT_DIR

# The status each public error code must have (DESIGN.md, "Status codes and error codes").
CONTRACT_STATUS = {
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "VALIDATION_ERROR": 400, "RANGE_TOO_LARGE": 400, "IDEMPOTENCY_KEY_REQUIRED": 400, "SIGNATURE_INVALID": 400,
    "UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404,
    "SLOT_FULL": 409, "TEAM_DAY_FULL": 409, "SLOT_UNAVAILABLE": 409, "INVALID_STATE": 409,
    "IDEMPOTENCY_IN_PROGRESS": 409, "PROMO_EXHAUSTED": 409,
    "IDEMPOTENCY_KEY_REUSED": 422, "PROMO_INVALID": 422,
}


# --- error table ------------------------------------------------------------------------------------------
def test_every_domain_error_subclass_has_its_own_entry_in_the_http_table():
    missing = [cls.__name__ for cls in e.all_error_classes() if cls not in api_errors.STATUS_BY_ERROR]
    assert missing == [], f"add these to chalicelib/api/errors.STATUS_BY_ERROR: {missing}"


def test_error_codes_are_unique_and_statuses_are_client_or_server_errors():
    codes = [cls.code for cls in e.all_error_classes()]
    assert len(codes) == len(set(codes)), f"duplicate codes: {sorted(c for c in codes if codes.count(c) > 1)}"
    assert all(400 <= status < 600 for status in api_errors.STATUS_BY_ERROR.values())


@pytest.mark.parametrize("code,status", sorted(CONTRACT_STATUS.items()))
def test_contract_codes_exist_with_their_documented_status(code, status):
    by_code = {cls.code: cls for cls in e.all_error_classes()}
    assert code in by_code, f"error code {code} from the HTTP contract has no DomainError"
    assert api_errors.status_for(by_code[code]()) == status


def test_error_response_has_the_contract_shape_and_retry_after():
    response = api_errors.error_response(e.Throttled(details={"table": "x"}, retry_after=3))
    body = json.loads(response.body)
    assert body == {"error": {"code": "THROTTLED", "message": e.Throttled.default_message,
                              "details": {"table": "x"}}}
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.headers["Content-Type"] == "application/json"


# --- authentication ---------------------------------------------------------------------------------------
@pytest.fixture
def dev_settings():
    return settings_from_env({"STAGE": "test", "AUTH_MODE": "dev", "DEV_TOKEN_SECRET": "s" * 40})


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [
    {},
    {"authorization": ""},
    {"authorization": "Bearer"},
    {"authorization": "Bearer not-a-jwt"},
    {"authorization": "Basic dXNlcjpwYXNz"},
], ids=["no-header", "empty", "no-token", "garbage", "basic-scheme"])
def test_missing_or_malformed_token_is_unauthenticated(dev_settings, headers):
    with pytest.raises(e.Unauthenticated):
        authenticate(headers, None, dev_settings)


def test_token_signed_with_another_secret_is_unauthenticated(dev_settings):
    forged = dev_tokens.issue("another-secret-that-is-long-enough-0123", "user-a", groups=["admin"])
    with pytest.raises(e.Unauthenticated):
        authenticate(bearer(forged), None, dev_settings, require_admin=True)


def test_expired_token_is_unauthenticated(dev_settings):
    expired = dev_tokens.issue(dev_settings.dev_token_secret, "user-a", ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(e.Unauthenticated):
        authenticate(bearer(expired), None, dev_settings)


def test_unsigned_token_is_unauthenticated(dev_settings):
    import jwt
    unsigned = jwt.encode({"sub": "admin-1", "cognito:groups": ["admin"], "aud": dev_tokens.AUDIENCE,
                           "iss": dev_tokens.ISSUER, "exp": int(time.time()) + 600}, key=None, algorithm="none")
    with pytest.raises(e.Unauthenticated):
        authenticate(bearer(unsigned), None, dev_settings)


def test_portal_user_is_forbidden_where_admin_is_required(dev_settings):
    token = dev_tokens.issue(dev_settings.dev_token_secret, "user-a")
    assert authenticate(bearer(token), None, dev_settings).user_id == "user-a"
    with pytest.raises(e.Forbidden):
        authenticate(bearer(token), None, dev_settings, require_admin=True)


def test_admin_group_passes_the_admin_check(dev_settings):
    token = dev_tokens.issue(dev_settings.dev_token_secret, "admin-1", groups=["admin"])
    principal = authenticate(bearer(token), None, dev_settings, require_admin=True)
    assert (principal.user_id, principal.is_admin) == ("admin-1", True)


def test_cognito_mode_reads_authorizer_claims_and_ignores_bearer_tokens():
    settings = settings_from_env({"STAGE": "dev", "AUTH_MODE": "cognito"})
    context = {"authorizer": {"claims": {"sub": "abc", "cognito:groups": "[admin portal]"}}}
    assert authenticate({}, context, settings, require_admin=True).groups == ("admin", "portal")
    # Without authorizer claims nothing is trusted, not even a validly signed dev token.
    token = dev_tokens.issue(settings.dev_token_secret, "abc", groups=["admin"])
    with pytest.raises(e.Unauthenticated):
        authenticate(bearer(token), {}, settings)


@pytest.mark.parametrize("claims", [{}, {"sub": ""}, {"sub": 42}])
def test_claims_without_a_subject_are_unauthenticated(claims):
    with pytest.raises(e.Unauthenticated):
        principal_from_claims(claims)


# --- request parsing --------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"{", b"{'single': 'quotes'}", b"\xff\xfe", "[1,".encode()])
def test_parse_json_rejects_malformed_bodies_as_validation_errors(raw):
    with pytest.raises(e.ValidationFailed):
        routing.parse_json(raw)


class _EchoIn(Strict):
    name: str = Field(min_length=1)
    count: int


@pytest.fixture
def echo_client(monkeypatch):
    """A throwaway app with one `endpoint` route; the global endpoint registry is restored afterwards."""
    monkeypatch.setattr(routing, "REGISTRY", list(routing.REGISTRY))
    test_app = Chalice(app_name="routing-under-test")
    bp = Blueprint(__name__)

    @routing.endpoint(bp, "/echo", "POST", body=_EchoIn)
    def echo(ctx):
        return {"name": ctx.body.name, "count": ctx.body.count}

    @routing.endpoint(bp, "/boom", "GET")
    def boom(ctx):
        raise RuntimeError("bug")

    test_app.register_blueprint(bp)
    with Client(test_app) as client:
        yield client


def _post(client, body: bytes, content_type: str = "application/json"):
    return client.http.post("/echo", headers={"Content-Type": content_type}, body=body)


def test_json_nested_past_the_limit_is_400_not_a_recursion_error(echo_client):
    deep = b'{"name": "x", "count": 1, "extra": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = _post(echo_client, deep)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "VALIDATION_ERROR"
    assert response.json_body["error"]["details"] == {"maxDepth": routing.MAX_JSON_DEPTH}


def test_body_over_the_size_limit_is_413_in_the_contract_format(echo_client):
    big = b'{"name": "' + b"x" * routing.MAX_BODY_BYTES + b'", "count": 1}'
    response = _post(echo_client, big)
    assert response.status_code == 413
    assert response.json_body["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("raw,depth", [(b"{}", 1), (b'{"a": [[1], {"b": "[[[{{{"}]}', 3), (b'"\\"', 0),
                                       (b'["\\\"[["]', 1), (b"1", 0)])
def test_nesting_depth_ignores_brackets_inside_strings(raw, depth):
    assert routing.json_nesting_depth(raw) == depth


@pytest.mark.parametrize("body", [b"{not json", b"", b"null", b"[]", b'"text"'])
def test_malformed_or_non_object_json_is_400_validation_error(echo_client, body):
    response = _post(echo_client, body)
    assert response.status_code == 400
    assert response.json_body["error"]["code"] == "VALIDATION_ERROR"


def test_validation_error_names_the_failing_fields(echo_client):
    response = _post(echo_client, json.dumps({"name": "", "extra": 1}).encode())
    assert response.status_code == 400
    fields = {f["field"] for f in response.json_body["error"]["details"]["fields"]}
    assert fields == {"name", "count", "extra"}


def test_valid_body_reaches_the_view_whatever_the_declared_content_type(echo_client):
    response = _post(echo_client, b'{"name": "a", "count": 2}', content_type="text/plain")
    assert (response.status_code, response.json_body) == (200, {"name": "a", "count": 2})


def test_a_crashing_view_answers_the_json_error_shape_not_a_stack_trace(echo_client):
    response = echo_client.http.get("/boom")
    assert response.status_code == 500
    assert response.json_body == {"error": {"code": "INTERNAL_ERROR", "message": "An internal error occurred.",
                                            "details": {}}}


# --- import hygiene ---------------------------------------------------------------------------------------
IMPORT_PROBE = """
import socket, sys
def refuse(*args, **kwargs):
    raise RuntimeError("network I/O during import: %r" % (args,))
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import app
lazy = [name for name in ("stripe", "icalendar") if name in sys.modules]
print("LAZY-VIOLATIONS=" + ",".join(lazy))
print("ROUTES=%d" % len(app.app.routes))
"""


def test_importing_the_app_does_no_network_io_and_defers_heavy_sdks():
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=PROJECT_DIR, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LAZY-VIOLATIONS=\n" in result.stdout, "stripe/icalendar must be imported inside the functions using them"
    assert int(result.stdout.split("ROUTES=")[1]) > 0
