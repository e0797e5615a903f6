"""Shared setup for the payment integration tests: a roomy catalog, the Stripe stub in a thread (no webhook
delivery: tests deliver events themselves), the app's gateway pointed at it without SDK retries (so injected
faults reach the code under test), and signed-delivery helpers."""
from __future__ import annotations

import json
import time as _time
from datetime import datetime, time, timedelta, timezone

import pytest

from chalicelib.clock import system_clock
from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from devtools.stripe_stub import sign_payload, start_in_thread
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

MEMBERS = 10


def booking_day() -> datetime:
    """Midnight UTC of the first weekday at least a week ahead of the machine's clock (the Stripe stub judges
    session expiry by that clock). A weekday, so no weekend surcharge moves the amounts the tests expect."""
    day = (system_clock() + timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def pay_catalog(tables):
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",)))
    hours = {d: (TimeWindow(time(0), time(23, 59)),) for d in range(7)}
    repo.put_team(Team(id="t1", name="UTC crew", timezone="UTC", weekly_hours=hours, daily_limit=500,
                       slot_capacity=MEMBERS, service_areas=TEST_AREAS))
    for i in range(MEMBERS):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",)))
    return repo


@pytest.fixture
def stub():
    server, base = start_in_thread(webhook_url=None)
    yield server.stub
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(stub, settings):
    from chalicelib.adapters.stripe_gateway import StripeGateway
    return StripeGateway(settings.stripe_api_key, settings.stripe_webhook_secret, api_base=stub.public_base_url,
                         max_network_retries=0, connect_timeout=2, read_timeout=5,
                         success_url_template=settings.checkout_success_url,
                         cancel_url_template=settings.checkout_cancel_url)


@pytest.fixture
def pay_api(pay_catalog, app_container, gateway):
    from chalice.test import Client

    from app import app
    app_container.override(stripe=gateway)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        yield c


@pytest.fixture
def users(issue_token):
    return {"a": issue_token("user-a"), "b": issue_token("user-b"), "admin": issue_token("boss", groups=["admin"])}


def book(api, token, key: str, hour: int, method: str = "CARD", day: datetime | None = None):
    start = (day or booking_day()) + timedelta(hours=hour)
    body = {"serviceId": "svc", "start": start.isoformat(), "paymentMethod": method, **AT_HOME}
    headers = {**auth(token), "Content-Type": "application/json", "Idempotency-Key": key}
    return api.http.post("/portal/service-requests", headers=headers, body=json.dumps(body))


def body_of(response) -> dict:
    return json.loads(response.body)


def deliver(api, event: dict, secret: str, timestamp: int | None = None, payload: str | None = None):
    """POST an event to the webhook route exactly as Stripe does (raw JSON + Stripe-Signature)."""
    payload = payload if payload is not None else json.dumps(event)
    header = sign_payload(payload, secret, int(_time.time()) if timestamp is None else timestamp)
    return api.http.post("/payments/stripe/webhook", body=payload,
                         headers={"Content-Type": "application/json", "Stripe-Signature": header})


def stored(request_id: str):
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository
    return DynamoServiceRequestRepository(None, "us-east-1").get(request_id)


def day_count(day: datetime) -> int:
    from tests.capacity_view import flat_counters
    return flat_counters().get(f"{day.date().isoformat()}#T#t1#DAY", 0)
