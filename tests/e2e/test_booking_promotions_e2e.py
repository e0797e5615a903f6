"""Promotion usage limits under real concurrency over HTTP (local API + moto server)."""
from __future__ import annotations

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
    """Room for 20 bookings in one slot (20 members), so only the promotion limit binds."""
    return stack.add_service(SERVICE_ID, TEAM_ID, members=20, slot_capacity=20, price=10000)


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
            "serviceId": SERVICE_ID, "start": start, "paymentMethod": "COD", "promoCodes": codes,
            "postalCode": "10001"},
            headers={**stack.auth(("userA", "userB")[i % 2]), "Idempotency-Key": f"promo-{uuid.uuid4()}"},
            timeout=120)
    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(one, range(20)))


def uses(stack, rule_id: str) -> int:
    """Uses by everyone, as the admin sees them: the sum of the rule's usage shards."""
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository
    stack.bind_models()
    return DynamoPromoRepository(stack.settings.dynamodb_endpoint, stack.settings.region).usage(rule_id)


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
