"""Promotion usage limits under real concurrency over HTTP (local API + moto server)."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time as wall, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e

SERVICE_ID = "e2e-promo"
TEAM_ID = "team-e2e-promo"
NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def promo_service(stack):
    """A service with room for 20 bookings in one slot (20 members), so only the promotion limit binds."""
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    from chalicelib.domain.catalog import Money, Service, Team, TeamMember, TimeWindow

    stack.bind_models()
    repo = DynamoCatalogRepository()
    repo.put_team(Team(id=TEAM_ID, name="E2E promo crew", timezone="America/New_York",
                       weekly_hours={d: (TimeWindow(wall(8), wall(18)),) for d in range(7)}, daily_limit=200,
                       slot_capacity=20))
    for i in range(20):
        repo.put_member(TeamMember(id=f"e2e-p{i}", team_id=TEAM_ID, display_name=f"P{i}", service_ids=(SERVICE_ID,)))
    repo.put_service(Service(id=SERVICE_ID, name="E2E promo", category="cleaning", description="",
                             duration_minutes=60, buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0,
                             base_price=Money(10000), team_ids=(TEAM_ID,)))
    deadline = time.monotonic() + 45  # the API caches the catalog for up to 30 s
    while requests.get(stack.url(f"/services/{SERVICE_ID}"), timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the local API never saw the new service"
        time.sleep(1)
    return SERVICE_ID


def create_rule(stack, **doc) -> dict:
    r = requests.post(stack.url("/admin/promo-rules"), json={"kind": "percent", "value": 1000,
                                                              "serviceIds": [SERVICE_ID], **doc},
                      headers=stack.auth("admin"), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def start_at(days_ahead: int, hour: int) -> str:
    return datetime.combine(date.today() + timedelta(days=days_ahead), wall(hour), tzinfo=NY).isoformat()


def book_concurrently(stack, start: str, codes: list[str]) -> list[requests.Response]:
    def one(i):
        return requests.post(stack.url("/portal/service-requests"), json={
            "serviceId": SERVICE_ID, "start": start, "paymentMethod": "COD", "promoCodes": codes},
            headers={**stack.auth(("userA", "userB")[i % 2]), "Idempotency-Key": f"promo-{uuid.uuid4()}"},
            timeout=120)
    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(one, range(20)))


def uses(stack, rule_id: str) -> int:
    from chalicelib.adapters.dynamodb.models import CatalogItem
    from chalicelib.adapters.dynamodb.promo_repository import usage_key
    stack.bind_models()
    try:
        return int(CatalogItem.get(*usage_key(rule_id), consistent_read=True).uses or 0)
    except CatalogItem.DoesNotExist:
        return 0


def test_a_code_limited_to_three_uses_discounts_exactly_three_of_twenty_concurrent_bookings(stack, promo_service):
    code = f"E2E{uuid.uuid4().hex[:8].upper()}"
    promo = create_rule(stack, code=code, globalLimit=3)
    responses = book_concurrently(stack, start_at(12, 10), [code])
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 3, sorted({r.text[:200] for r in responses})
    assert statuses.count(409) == 17
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"PROMO_EXHAUSTED"}
    booked = [r.json()["price"] for r in responses if r.status_code == 201]
    assert all(p["discount"] == (p["subtotal"] * 1000 + 5000) // 10000 > 0 for p in booked)  # 10 %, half up
    assert uses(stack, promo["id"]) == 3


def test_an_automatic_rule_limited_to_three_uses_discounts_three_and_books_all_twenty(stack, promo_service):
    promo = create_rule(stack, id=f"e2e-auto-{uuid.uuid4().hex[:8]}", globalLimit=3)
    responses = book_concurrently(stack, start_at(13, 11), [])
    assert [r.status_code for r in responses].count(201) == 20, sorted({r.text[:200] for r in responses})
    discounted = [r for r in responses if r.json()["price"]["discount"] > 0]
    assert len(discounted) == 3
    assert all(r.json()["price"]["appliedRules"] == [promo["id"]] for r in discounted)
    assert uses(stack, promo["id"]) == 3
    # the rule is spent: deactivate it so other tests' bookings of this service are not affected
    requests.delete(stack.url(f"/admin/promo-rules/{promo['id']}"), headers=stack.auth("admin"), timeout=30)
