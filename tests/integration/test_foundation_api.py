"""Foundation routes on the real app against in-process moto: catalog caching, portal-safe members, auth,
the error contract on every route with a body, the generated OpenAPI document, correlation ids in logs."""
from __future__ import annotations

import io
import json
import re
import time

import pytest

from chalicelib.adapters import dev_tokens
from chalicelib.api.routing import REGISTRY
from devtools.seed import MEMBERS, SERVICES
from tests.integration.conftest import auth


def fill_path(path: str) -> str:
    """A concrete path for a route template (ids that exist in the demo seed where it matters)."""
    return re.sub(r"{service_id}", SERVICES[0].id, re.sub(r"{team_id}", "team-nyc", path)).replace(
        "{", "").replace("}", "")


def error_code(response) -> str:
    body = response.json_body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"]


# --- catalog --------------------------------------------------------------------------------------------
def test_services_lists_the_seeded_catalog_with_etag_and_swr_cache_control(client):
    response = client.http.get("/services")
    assert response.status_code == 200
    assert [s["id"] for s in response.json_body["items"]] == sorted(s.id for s in SERVICES)
    cache_control = response.headers["Cache-Control"]
    assert re.search(r"max-age=\d+", cache_control) and re.search(r"stale-while-revalidate=\d+", cache_control)
    assert re.fullmatch(r'"[^"]+"', response.headers["ETag"])


@pytest.mark.parametrize("path", ["/services", "/services/plumbing"])
def test_matching_if_none_match_gets_304_without_a_body(client, path):
    first = client.http.get(path)
    etag = first.headers["ETag"]
    again = client.http.get(path, headers={"If-None-Match": etag})
    assert (again.status_code, again.body) == (304, b"")
    assert again.headers["ETag"] == etag and "stale-while-revalidate" in again.headers["Cache-Control"]
    listed = client.http.get(path, headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    stale = client.http.get(path, headers={"If-None-Match": '"not-the-current-etag"'})
    assert stale.status_code == 200 and stale.json_body == first.json_body


def test_unknown_service_is_a_json_404(client):
    response = client.http.get("/services/no-such-service")
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


# --- portal-safe team members ---------------------------------------------------------------------------
@pytest.mark.parametrize("service", [s.id for s in SERVICES])
def test_team_members_never_expose_email_phone_or_internal_notes(client, tokens, service):
    response = client.http.get(f"/portal/services/{service}/team-members", headers=auth(tokens["userA"]))
    assert response.status_code == 200
    raw = response.body.decode()
    expected = {m.id for m in MEMBERS if service in m.service_ids}
    assert {m["id"] for m in response.json_body["items"]} == expected
    for member in MEMBERS:
        for secret in (member.email, member.phone, member.internal_notes):
            assert secret and secret not in raw
    for key in ("email", "phone", "internalNotes"):
        assert f'"{key}"' not in raw


def test_team_members_require_a_token(client):
    response = client.http.get("/portal/services/cleaning/team-members")
    assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"


# --- authentication and authorisation -------------------------------------------------------------------
def _bad_tokens(settings) -> dict[str, str]:
    return {
        "garbage": "not.a.jwt",
        "wrong-secret": dev_tokens.issue("some-other-secret-0123456789abcdefgh", "user-a"),
        "expired": dev_tokens.issue(settings.dev_token_secret, "user-a", ttl_seconds=60, now=time.time() - 7200),
    }


@pytest.mark.parametrize("kind", ["missing", "garbage", "wrong-secret", "expired"])
def test_portal_route_rejects_missing_and_bad_tokens_with_401(client, settings, kind):
    headers = {} if kind == "missing" else auth(_bad_tokens(settings)[kind])
    response = client.http.get("/portal/services/cleaning/team-members", headers=headers)
    assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"


def _first_admin_get_route() -> str:
    admin_gets = sorted(spec.path for spec in REGISTRY if spec.auth == "admin" and spec.method == "GET")
    assert admin_gets, "no admin GET route is registered; the /admin/* authorisation contract is untested"
    return fill_path(admin_gets[0])


def test_portal_user_on_an_admin_route_is_403_and_admin_is_let_through(client, tokens):
    path = _first_admin_get_route()
    assert client.http.get(path).status_code == 401
    forbidden = client.http.get(path, headers=auth(tokens["userA"]))
    assert forbidden.status_code == 403 and error_code(forbidden) == "FORBIDDEN"
    allowed = client.http.get(path, headers=auth(tokens["admin"]))
    assert allowed.status_code not in (401, 403), allowed.body


def test_every_admin_route_refuses_portal_users(client, tokens):
    admin_specs = [spec for spec in REGISTRY if spec.auth == "admin"]
    outcomes = {f"{s.method} {s.path}": client.http.request(s.method, fill_path(s.path),
                                                             headers=auth(tokens["userB"]), body=b"{}").status_code
                for s in admin_specs}
    assert outcomes and set(outcomes.values()) == {403}, outcomes


# --- error contract on every route with a body ------------------------------------------------------------
def test_malformed_json_is_400_validation_error_on_every_route_with_a_body(client, tokens):
    specs = [spec for spec in REGISTRY if spec.body is not None]
    assert specs, "no route declares a request body"
    outcomes = {}
    for spec in specs:
        headers = {"Content-Type": "application/json", "Idempotency-Key": "malformed-json-probe"}
        if spec.auth in ("user", "admin"):
            headers.update(auth(tokens["admin" if spec.auth == "admin" else "userA"]))
        response = client.http.request(spec.method, fill_path(spec.path), headers=headers, body=b'{"oops": ')
        outcomes[f"{spec.method} {spec.path}"] = (response.status_code, (response.json_body or {}).get(
            "error", {}).get("code"))
    assert set(outcomes.values()) == {(400, "VALIDATION_ERROR")}, outcomes


# --- generated OpenAPI ------------------------------------------------------------------------------------
def test_openapi_document_is_valid_and_lists_exactly_the_app_routes(client):
    from openapi_spec_validator import validate

    from app import app

    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json_body
    validate(document)
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    # OPTIONS is the CORS preflight every path has (api.cors, tested in test_http_contract), not an operation.
    served = {(method, path) for path, methods in app.routes.items() for method in methods if method != "OPTIONS"}
    assert documented == served


# --- demo seed --------------------------------------------------------------------------------------------
def test_seeding_twice_overwrites_instead_of_duplicating(seeded, settings):
    from chalicelib.adapters.dynamodb.models import CatalogItem
    from devtools.seed import seed_demo

    before = sorted(item.sk for item in CatalogItem.query("CATALOG"))
    seed_demo(settings)
    after = sorted(item.sk for item in CatalogItem.query("CATALOG"))
    assert after == before
    assert len([sk for sk in after if sk.startswith("MEMBER#")]) == len(MEMBERS) >= 5


# --- observability ----------------------------------------------------------------------------------------
def _api_gateway_event(path: str, request_id: str) -> dict:
    """The REST API proxy event API Gateway sends to the Lambda (the fields chalice reads)."""
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {"accept": "application/json"},
            "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": path, "httpMethod": "GET", "path": f"/api{path}",
                               "requestId": request_id, "stage": "api", "identity": {"sourceIp": "203.0.113.9"}}}


def test_logs_carry_the_api_gateway_request_id_as_correlation_id(app_container):
    from app import app
    from chalicelib.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        response = app(_api_gateway_event("/health", "req-7f3c-correlation"), None)
    finally:
        handler.setStream(previous)
        logger.set_correlation_id(None)
    assert response["statusCode"] == 200
    assert response["headers"]["X-Request-Id"] == "req-7f3c-correlation"
    records = [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    request_logs = [r for r in records if r.get("message") == "request"]
    assert request_logs and all(r.get("correlation_id") == "req-7f3c-correlation" for r in request_logs)
    assert request_logs[0]["path"] == "/health" and request_logs[0]["status"] == 200


def test_unsupported_content_type_is_415_in_the_contract_format(client):
    response = client.http.post("/pricing/quote", headers={"Content-Type": "application/xml"}, body=b"<quote/>")
    assert response.status_code == 415
    assert set(response.json_body) == {"error"}
    assert response.json_body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_method_not_allowed_on_a_known_path_is_405_in_the_contract_format(client):
    response = client.http.put("/services", headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 405
    assert response.json_body["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]
