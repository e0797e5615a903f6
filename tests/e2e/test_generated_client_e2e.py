"""/openapi.json is the contract: a client generated from it by `openapi-python-client` runs the whole booking
flow against the local stack with strict status checking (an undocumented status raises UnexpectedStatus), and
every body is validated against the document's schema for that status (jsonschema). A route whose real answer
differs from the document fails here."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta

import jsonschema
import pytest
import requests
from openapi_spec_validator import validate

pytestmark = pytest.mark.e2e

PACKAGE = "portal_api_client"
SERVICE = "cleaning"
TEAM = "team-nyc"
TZ = "America/New_York"


@pytest.fixture(scope="module")
def document(stack):
    doc = requests.get(stack.url("/openapi.json"), timeout=30).json()
    validate(doc)  # openapi-spec-validator: a valid OpenAPI 3.1 document
    return doc


@pytest.fixture(scope="module")
def generated(document, tmp_path_factory):
    """The client package, generated into a temp dir and imported (post hooks off: no formatter needed)."""
    work = tmp_path_factory.mktemp("client")
    (work / "openapi.json").write_text(json.dumps(document))
    (work / "config.yml").write_text("post_hooks: []\n")
    generator = [sys.executable, "-c", "from openapi_python_client.cli import app; app()"]
    run = subprocess.run([*generator, "generate", "--path", str(work / "openapi.json"), "--meta", "none",
                          "--output-path", str(work / PACKAGE), "--config", str(work / "config.yml")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and (work / PACKAGE / "client.py").exists(), run.stdout + run.stderr
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class Contract:
    """Checks a raw answer against the document: documented status, body valid for that status, X-Request-Id."""

    def __init__(self, document: dict) -> None:
        self.document = document

    def check(self, response, path: str, method: str) -> None:
        operation = self.document["paths"][path][method]
        status = str(int(response.status_code))
        assert status in operation["responses"], f"{method.upper()} {path}: undocumented {status}"
        documented = operation["responses"][status]
        assert response.headers.get("X-Request-Id"), f"{method.upper()} {path} {status}: no X-Request-Id"
        content = documented.get("content", {})
        if "application/json" in content:
            schema = {**content["application/json"]["schema"], "components": self.document["components"]}
            jsonschema.validate(json.loads(response.content), schema,
                                cls=jsonschema.Draft202012Validator,
                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        else:
            assert not content or response.content, f"{method.upper()} {path} {status}: empty body"
        for header in documented.get("headers", {}):
            if header in ("ETag", "Cache-Control", "Content-Disposition"):
                assert response.headers.get(header), f"{method.upper()} {path} {status}: no {header}"


def test_the_booking_flow_through_a_generated_client(stack, document, generated):
    from importlib import import_module

    api = lambda name: import_module(f"{PACKAGE}.api.{name}")  # noqa: E731
    models = import_module(f"{PACKAGE}.models")
    contract = Contract(document)
    public = generated.Client(base_url=stack.base_url, raise_on_unexpected_status=True, timeout=60)
    user = generated.AuthenticatedClient(base_url=stack.base_url, token=stack.tokens["userA"],
                                         raise_on_unexpected_status=True, timeout=60)

    services = api("catalog.get_services").sync_detailed(client=public)
    contract.check(services, "/services", "get")
    assert SERVICE in [s.id for s in services.parsed.items]
    cached = api("catalog.get_services").sync_detailed(client=public, if_none_match=services.headers["ETag"])
    contract.check(cached, "/services", "get")
    assert cached.status_code == 304

    first = date.today() + timedelta(days=6)
    availability = api("availability.get_services_service_id_availability").sync_detailed(
        SERVICE, client=public, from_=first, to=first + timedelta(days=20), tz=TZ, postal_code="10001")
    contract.check(availability, "/services/{service_id}/availability", "get")
    open_slots = [s.start for d in availability.parsed.days for s in d.slots
                  if s.remaining > 0 and s.team_id == TEAM and datetime.fromisoformat(str(s.start)).hour >= 13]
    assert len(open_slots) >= 2, "the demo data has no two open NYC afternoon slots"
    start, later = datetime.fromisoformat(str(open_slots[-1])), datetime.fromisoformat(str(open_slots[-2]))

    body = models.CreateServiceRequestIn.from_dict({"serviceId": SERVICE, "teamId": TEAM, "start": start.isoformat(),
                                                    "paymentMethod": "COD", "postalCode": "10001"})
    validated = api("portal.post_portal_service_requests_validate").sync_detailed(client=user, body=body)
    contract.check(validated, "/portal/service-requests/validate", "post")
    quote = api("pricing.post_pricing_quote").sync_detailed(client=public, body=models.QuoteIn.from_dict(
        {"serviceId": SERVICE, "start": start.isoformat(), "tz": TZ, "teamId": TEAM, "postalCode": "10001"}))
    contract.check(quote, "/pricing/quote", "post")
    assert quote.parsed.quote.total == validated.parsed.price.total

    key = str(uuid.uuid4())
    booked = api("portal.post_portal_service_requests").sync_detailed(client=user, body=body, idempotency_key=key)
    contract.check(booked, "/portal/service-requests", "post")
    assert booked.status_code == 201 and "Idempotent-Replayed" not in booked.headers
    request_id = booked.parsed.id
    assert booked.parsed.price.total == validated.parsed.price.total
    replay = api("portal.post_portal_service_requests").sync_detailed(client=user, body=body, idempotency_key=key)
    contract.check(replay, "/portal/service-requests", "post")
    assert replay.parsed.id == request_id and replay.headers["Idempotent-Replayed"] == "true"

    got = api("portal.get_portal_service_requests_request_id").sync_detailed(request_id, client=user)
    contract.check(got, "/portal/service-requests/{request_id}", "get")
    assert got.parsed.status.value == "CONFIRMED" and got.parsed.checkout_url is None

    moved = api("portal.post_portal_service_requests_request_id_reschedule").sync_detailed(
        request_id, client=user, body=models.RescheduleIn.from_dict({"start": later.isoformat()}))
    contract.check(moved, "/portal/service-requests/{request_id}/reschedule", "post")
    assert datetime.fromisoformat(str(moved.parsed.start)) == later

    ics = api("portal.get_portal_service_requests_request_id_calendar_ics").sync_detailed(request_id, client=user)
    contract.check(ics, "/portal/service-requests/{request_id}/calendar.ics", "get")
    assert ics.parsed.startswith("BEGIN:VCALENDAR")

    cancelled = api("portal.post_portal_service_requests_request_id_cancel").sync_detailed(
        request_id, client=user, body=models.CancelIn.from_dict({"reason": "contract test"}))
    contract.check(cancelled, "/portal/service-requests/{request_id}/cancel", "post")
    assert cancelled.parsed.status.value == "CANCELLED"

    changes = api("availability.get_services_service_id_availability_changes")
    feed = changes.sync_detailed(SERVICE, client=public)
    contract.check(feed, "/services/{service_id}/availability/changes", "get")
    cursor = feed.parsed.cursor
    for _ in range(5):  # catch up with anything another request logged meanwhile, then nothing is new
        unchanged = changes.sync_detailed(SERVICE, client=public, since=cursor)
        contract.check(unchanged, "/services/{service_id}/availability/changes", "get")
        if unchanged.status_code == 304:
            break
        cursor = unchanged.parsed.cursor
    assert unchanged.status_code == 304


def test_an_undocumented_answer_fails_the_contract_check(document):
    """The checker itself can fail: a body that breaks the schema, a status the route does not document."""
    contract = Contract(document)

    class Fake:
        def __init__(self, status, content):
            self.status_code, self.content, self.headers = status, content, {"X-Request-Id": "r"}

    with pytest.raises(jsonschema.ValidationError):
        contract.check(Fake(200, b'{"items": [{"id": 1}]}'), "/services", "get")
    with pytest.raises(AssertionError, match="undocumented 418"):
        contract.check(Fake(418, b"{}"), "/services", "get")
