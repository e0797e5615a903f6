"""Every catalog-administration route is in /openapi.json with the error codes it can answer."""
from __future__ import annotations

import pytest

ROUTES = [
    ("post", "/admin/services", {"ALREADY_EXISTS", "VALIDATION_ERROR", "FORBIDDEN"}),
    ("get", "/admin/services", {"VALIDATION_ERROR"}),
    ("get", "/admin/services/{service_id}", {"NOT_FOUND"}),
    ("patch", "/admin/services/{service_id}", {"NOT_FOUND", "CONCURRENT_UPDATE", "VALIDATION_ERROR"}),
    ("post", "/admin/services/{service_id}/deactivate", {"NOT_FOUND", "CONCURRENT_UPDATE"}),
    ("post", "/admin/teams", {"ALREADY_EXISTS"}),
    ("get", "/admin/teams", set()),
    ("get", "/admin/teams/{team_id}", {"NOT_FOUND"}),
    ("patch", "/admin/teams/{team_id}", {"NOT_FOUND", "CONCURRENT_UPDATE"}),
    ("post", "/admin/teams/{team_id}/deactivate", {"BOOKED_WORK_CONFLICT", "CONCURRENT_UPDATE"}),
    ("post", "/admin/members", {"ALREADY_EXISTS"}),
    ("get", "/admin/members", set()),
    ("get", "/admin/members/{member_id}", {"NOT_FOUND"}),
    ("patch", "/admin/members/{member_id}", {"NOT_FOUND", "CONCURRENT_UPDATE"}),
    ("post", "/admin/members/{member_id}/deactivate", {"NOT_FOUND", "CONCURRENT_UPDATE"}),
    ("post", "/admin/members/{member_id}/time-off", {"BOOKED_WORK_CONFLICT", "CONCURRENT_UPDATE"}),
    ("get", "/admin/members/{member_id}/time-off", {"NOT_FOUND"}),
    ("delete", "/admin/members/{member_id}/time-off/{time_off_id}", {"NOT_FOUND", "CONCURRENT_UPDATE"}),
    ("get", "/admin/teams/{team_id}/capacity-overrides", {"NOT_FOUND"}),
    ("delete", "/admin/teams/{team_id}/capacity-overrides/{day}", {"NOT_FOUND"}),
    ("get", "/admin/reconciliation/flagged", set()),
    ("post", "/admin/service-requests/{request_id}/reassign", {"MEMBER_UNAVAILABLE", "CONCURRENT_UPDATE"}),
    ("post", "/portal/service-requests", {"SERVICE_INACTIVE"}),
    ("post", "/pricing/quote", {"SERVICE_INACTIVE"}),
    ("get", "/services/{service_id}/availability", {"SERVICE_INACTIVE"}),
]


@pytest.fixture(scope="module")
def document():
    from chalice.test import Client

    from app import app
    from devtools.processes import PROJECT_DIR

    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as client:
        return client.http.get("/openapi.json").json_body


@pytest.mark.parametrize("method, path, codes", ROUTES)
def test_route_is_documented_with_its_errors(document, method, path, codes):
    operation = document["paths"][path][method]
    documented = {c for r in operation["responses"].values() for c in r.get("description", "").split(", ")}
    assert codes <= documented, (codes - documented)
    if path.startswith("/admin/"):
        assert {"UNAUTHENTICATED", "FORBIDDEN"} <= documented
