"""The HTTP contract a browser and a generated client rely on: CORS on every route (preflight and answers,
errors included), the error format for chalice's own answers, 401's challenge, the OpenAPI document's
headers/304s/parameters/enums/formats, and GET /docs."""
from __future__ import annotations

import json

import pytest

from tests.integration.conftest import auth

ALLOWED = "http://localhost:5173"
DISALLOWED = "http://evil.test"


def _cors(headers) -> dict:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


def test_every_route_has_a_preflight_without_authorizer(client):
    from app import app

    for path, views in app.routes.items():
        assert "OPTIONS" in views, path
        assert views["OPTIONS"].authorizer is None, path


@pytest.mark.parametrize("path,methods", [("/portal/service-requests", {"GET", "POST", "OPTIONS"}),
                                          ("/services", {"GET", "OPTIONS"}),
                                          ("/portal/service-requests/r1/cancel", {"POST", "OPTIONS"})])
def test_a_preflight_from_an_allowed_origin_lists_the_paths_methods_and_the_allowed_headers(client, path, methods):
    r = client.http.request("OPTIONS", path, headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                                      "Access-Control-Request-Headers": "authorization,idempotency-key"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")} == methods
    assert "Idempotency-Key" in r.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_a_preflight_from_a_disallowed_origin_gets_no_cors_headers(client):
    r = client.http.request("OPTIONS", "/portal/service-requests",
                            headers={"Origin": DISALLOWED, "Access-Control-Request-Method": "POST"})
    assert _cors(r.headers) == {}
    assert r.headers["Vary"] == "Origin"


@pytest.mark.parametrize("method,path,status", [("GET", "/services", 200), ("PUT", "/services", 405),
                                                ("GET", "/portal/service-requests", 401),
                                                ("POST", "/portal/service-requests", 401)])
def test_answers_and_errors_carry_cors_for_allowed_origins_only(client, method, path, status):
    allowed = client.http.request(method, path, headers={"Origin": ALLOWED})
    assert allowed.status_code == status
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Request-Id" in allowed.headers["Access-Control-Expose-Headers"]
    refused = client.http.request(method, path, headers={"Origin": DISALLOWED})
    assert refused.status_code == status and _cors(refused.headers) == {}


def test_method_not_allowed_is_in_the_contract_format(client):
    r = client.http.put("/services", body=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 405
    assert json.loads(r.body)["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in r.headers["Allow"]


def test_401_names_the_bearer_scheme(client, tokens):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        r = client.http.get("/portal/service-requests", headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert json.loads(r.body)["error"]["code"] == "UNAUTHENTICATED"
    assert "WWW-Authenticate" not in client.http.get("/portal/service-requests", headers=auth(tokens["userA"])).headers


@pytest.fixture
def document(client):
    from openapi_spec_validator import validate

    doc = json.loads(client.http.get("/openapi.json").body)
    validate(doc)
    return doc


def test_every_operation_documents_its_request_id_500_and_the_401_challenge(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                assert "X-Request-Id" in response["headers"], (path, method, status)
            assert "500" in op["responses"], (path, method)
            if "security" in op:
                assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
            for status in ("429", "503"):
                if status in op["responses"]:
                    assert "Retry-After" in op["responses"][status]["headers"], (path, method)


@pytest.mark.parametrize("path", ["/services", "/services/{service_id}", "/services/{service_id}/availability/changes"])
def test_cached_routes_document_304_etag_and_if_none_match(document, path):
    op = document["paths"][path]["get"]
    assert {"ETag", "Cache-Control"} <= set(op["responses"]["304"]["headers"])
    assert {"ETag", "Cache-Control"} <= set(op["responses"]["200"]["headers"])
    assert any(p["name"] == "If-None-Match" and p["in"] == "header" for p in op["parameters"])


def test_booking_documents_idempotency_and_a_typed_price(document):
    op = document["paths"]["/portal/service-requests"]["post"]
    key = next(p for p in op["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] and key["in"] == "header"
    assert "Idempotent-Replayed" in op["responses"]["201"]["headers"]
    schemas = document["components"]["schemas"]
    out = schemas["ServiceRequestOut"]["properties"]
    assert out["price"] == {"$ref": "#/components/schemas/PriceQuoteOut"}
    assert "usageClaims" not in json.dumps(schemas)
    assert out["createdAt"]["format"] == "date-time"
    for field, enum in (("status", "Status"), ("paymentStatus", "PaymentStatus"), ("paymentMethod", "PaymentMethod")):
        assert out[field] == {"$ref": f"#/components/schemas/{enum}"}
        assert "PAID" in schemas["PaymentStatus"]["enum"] and schemas[enum]["type"] == "string"


def test_ics_documents_its_content_disposition(document):
    op = document["paths"]["/portal/service-requests/{request_id}/calendar.ics"]["get"]
    assert "Content-Disposition" in op["responses"]["200"]["headers"]


def test_docs_serve_swagger_ui_from_the_package_and_not_from_a_cdn(client):
    page = client.http.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    assert "openapi.json" in html and "http:" not in html and "https:" not in html and "src=\"//" not in html
    script = client.http.get("/docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.body.decode()[:100000]
    assert client.http.get("/docs/..%2F__init__.py").status_code == 404
    assert client.http.get("/docs/index.html").status_code == 404


def test_docs_can_be_switched_off_for_a_stage(client, app_container):
    from chalicelib.bootstrap import Container, use_container

    use_container(Container(app_container.settings.model_copy(update={"api_docs": False})))
    assert client.http.get("/docs").status_code == 404
    assert client.http.get("/docs/swagger-ui.css").status_code == 404
