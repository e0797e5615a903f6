"""api.cors: which origins get CORS headers, and the customer view's payment fields (api.bookings.portal_view)."""
from __future__ import annotations

import pytest

from chalicelib.api import cors

LOCAL = ("http://localhost:*", "http://127.0.0.1:*")


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:5173", "http://localhost",
                                    "http://127.0.0.1:65535"])
def test_the_local_stage_allows_any_loopback_port(origin):
    assert cors.origin_allowed(origin, LOCAL)


@pytest.mark.parametrize("origin", [
    None, "", "null", "https://localhost:3000",  # another scheme is another origin
    "http://localhost.evil.test:3000", "http://127.0.0.1.evil.test", "http://evil.test/?http://localhost:3000",
    "http://localhost:3000/", "http://localhost:3000.evil.test", "http://localhost:abc", "http://[::1]:3000",
    "http://127.0.0.2:3000"])
def test_look_alike_origins_are_refused(origin):
    assert not cors.origin_allowed(origin, LOCAL)


def test_exact_origins_match_exactly():
    allowed = ("https://portal.example.com",)
    assert cors.origin_allowed("https://portal.example.com", allowed)
    for other in ("https://portal.example.com:443", "http://portal.example.com", "https://portal.example.co",
                  "https://x.portal.example.com", "https://portal.example.com.evil.test"):
        assert not cors.origin_allowed(other, allowed)


def test_a_disallowed_origin_gets_no_cors_header_at_all():
    assert cors.response_headers({"Origin": "https://evil.test"}, LOCAL) == {}
    assert cors.preflight_headers({"origin": "https://evil.test"}, LOCAL, ["GET"]) == {}
    assert cors.response_headers({}, LOCAL) == {}


def test_an_allowed_origin_is_echoed_with_the_exposed_headers_and_no_credentials():
    headers = cors.response_headers({"origin": "http://localhost:3000"}, LOCAL)
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Idempotent-Replayed", "Retry-After", "X-Request-Id", "Content-Disposition"} <= exposed
    assert "Access-Control-Allow-Credentials" not in headers
    preflight = cors.preflight_headers({"Origin": "http://localhost:3000"}, LOCAL, ["POST", "GET"])
    assert preflight["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST"
    allowed = {h.strip() for h in preflight["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"}


def test_vary_origin_is_added_once_and_keeps_other_vary_values():
    assert cors.with_vary_origin({})["Vary"] == "Origin"
    assert cors.with_vary_origin({"Vary": "Accept-Encoding"})["Vary"] == "Accept-Encoding, Origin"
    assert cors.with_vary_origin({"Vary": "origin"})["Vary"] == "origin"


def _request(status: str, payment_status: str):
    from chalicelib.domain import codec

    return codec.request_from_doc({
        "id": "r1", "userId": "u", "serviceId": "cleaning", "teamId": "team-nyc", "memberId": "m1",
        "start": "2030-01-02T15:00:00Z", "end": "2030-01-02T17:00:00Z", "localDate": "2030-01-02",
        "timezone": "America/New_York", "status": status, "paymentStatus": payment_status, "paymentMethod": "CARD",
        "price": {"currency": "USD", "lines": [], "subtotal": 100, "discount": 0, "total": 100, "appliedRules": [],
                  "notApplied": [], "usageClaims": [{"ruleId": "r", "code": "X"}]},
        "createdAt": "2030-01-01T00:00:00Z", "updatedAt": "2030-01-01T00:00:00Z",
        "holdExpiresAt": "2030-01-01T00:30:00Z",
        "payment": {"sessionId": "cs_1", "checkoutUrl": "https://checkout.test/cs_1"}})


def test_a_paid_booking_returns_no_checkout_url_or_hold_expiry():
    from chalicelib.api.bookings import portal_view

    for status, payment in (("CONFIRMED", "PAID"), ("CANCELLED", "REFUNDED"), ("EXPIRED", "EXPIRED")):
        view = portal_view(_request(status, payment))
        assert view["checkoutUrl"] is None and view["holdExpiresAt"] is None and view["paymentError"] is None


def test_a_booking_awaiting_payment_keeps_its_checkout_url_and_hold_and_no_price_internals():
    from chalicelib.api.bookings import portal_view

    view = portal_view(_request("PENDING_PAYMENT", "PENDING"))
    assert view["checkoutUrl"] == "https://checkout.test/cs_1"
    assert view["holdExpiresAt"] == "2030-01-01T00:30:00Z"
    assert "usageClaims" not in view["price"] and view["price"]["total"] == 100


def test_a_stage_without_a_list_allows_exactly_its_portals_origin():
    from chalicelib.settings import settings_from_env

    portal = settings_from_env({"STAGE": "prod", "PORTAL_BASE_URL": "https://portal.acme.test/app"})
    assert portal.cors_allowed_origins == ("https://portal.acme.test",)
    assert cors.origin_allowed("https://portal.acme.test", portal.cors_allowed_origins)
    assert not cors.origin_allowed("http://localhost:3000", portal.cors_allowed_origins)
    assert settings_from_env({"CORS_ALLOWED_ORIGINS": ""}).cors_allowed_origins == ()


def test_the_local_and_test_stages_allow_loopback_and_deployed_stages_take_the_portal_origin():
    from devtools.environment import chalice_config

    stages = chalice_config()["stages"]
    loopback = '["http://localhost:*","http://127.0.0.1:*"]'
    for stage in ("local", "test"):
        assert stages[stage]["environment_variables"]["CORS_ALLOWED_ORIGINS"] == loopback
    for stage in ("dev", "prod"):
        assert "CORS_ALLOWED_ORIGINS" not in stages[stage]["environment_variables"]
