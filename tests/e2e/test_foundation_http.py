"""The local stack over real HTTP: unknown routes, catalog, tokens, parallel serving, idempotent seeding."""
from __future__ import annotations

import json
import socket
import subprocess
from urllib.parse import urlparse

import boto3
import pytest

from devtools.processes import python_module
from devtools.seed import SERVICES

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer whatever"}], ids=["anonymous", "with-token"])
@pytest.mark.parametrize("path", ["/no-such-route", "/services/cleaning/nope/deeper", "/admin/unknown"])
def test_unknown_route_is_a_json_404_in_the_error_shape(stack, http, path, headers):
    response = http.get(stack.url(path), headers=headers)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_services_returns_the_seed_and_revalidates_with_304(stack, http):
    response = http.get(stack.url("/services"))
    assert response.status_code == 200
    # The stack is shared by the session: other tests may add services, never remove the seeded ones.
    assert {s["id"] for s in response.json()["items"]} >= {s.id for s in SERVICES}
    again = http.get(stack.url("/services"), headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_demo_tokens_work_on_a_portal_route_and_the_admin_check(stack, http):
    portal = http.get(stack.url("/portal/services/plumbing/team-members"), headers=stack.auth("userA"))
    assert portal.status_code == 200 and portal.json()["items"]
    assert http.get(stack.url("/portal/services/plumbing/team-members")).status_code == 401


def test_requests_carry_a_request_id(stack, http):
    response = http.get(stack.url("/health"))
    assert response.status_code == 200 and response.headers.get("X-Request-Id")


def test_a_stalled_connection_does_not_block_other_requests(stack, http):
    """The server handles connections in parallel (the concurrency tests rely on it): while one client holds
    a half-sent request, another request still completes."""
    address = urlparse(stack.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as stalled:
        stalled.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        response = http.get(stack.url("/health"), timeout=10)
    assert response.status_code == 200


def test_reseeding_a_running_stack_does_not_duplicate_items(stack):
    client = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=stack.settings.region)

    def catalog_keys() -> list[str]:
        pages = client.get_paginator("scan").paginate(TableName=stack.settings.catalog_table)
        return sorted(item["sk"]["S"] for page in pages for item in page["Items"])

    before = catalog_keys()
    result = subprocess.run(python_module("devtools.seed"), env=stack.env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert catalog_keys() == before and len(before) >= 3 + 2 + 5


def _raw_exchange(stack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (requests would refuse a TRACE body or oversized headers) and parse the answer."""
    url = urlparse(stack.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("request_bytes,status,code", [
    (b"TRACE /services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    (b"GET /services HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\nConnection: close\r\n\r\n", 431,
     "HEADERS_TOO_LARGE"),
    (b"DELETE /services HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405,
     "METHOD_NOT_ALLOWED"),
    (b"POST /pricing/quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: 3\r\n"
     b"Connection: close\r\n\r\n<q>", 415, "UNSUPPORTED_MEDIA_TYPE"),
])
def test_errors_the_server_answers_itself_use_the_contract_format(stack, request_bytes, status, code):
    answered, headers, body = _raw_exchange(stack, request_bytes)
    assert answered == status
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == code
    assert headers.get("x-request-id")
