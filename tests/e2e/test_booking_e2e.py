"""Booking invariants over real HTTP (local API + moto server), under real concurrency."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time as wall, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e

SERVICE_ID = "e2e-capacity"
TEAM_ID = "team-e2e"
NY = ZoneInfo("America/New_York")


class Http:
    """Plain requests with a timeout; a fresh connection per call is safe across threads."""

    @staticmethod
    def get(url, **kw):
        return requests.get(url, timeout=120, **kw)

    @staticmethod
    def post(url, **kw):
        return requests.post(url, timeout=120, **kw)


@pytest.fixture(scope="module")
def web():
    return Http()


@pytest.fixture(scope="module")
def capacity_service(stack):
    """A service whose team takes 5 bookings per slot (6 members, generous day limit)."""
    return stack.add_service(SERVICE_ID, TEAM_ID, members=6, slot_capacity=5)


def start_at(days_ahead: int, hour: int) -> str:
    day = date.today() + timedelta(days=days_ahead)
    return datetime.combine(day, wall(hour), tzinfo=NY).isoformat()


def post_booking(stack, web, who: str, key: str, start: str):
    return web.post(stack.url("/portal/service-requests"), json={
        "serviceId": SERVICE_ID, "start": start, "paymentMethod": "COD", "postalCode": "10001"},
        headers={**stack.auth(who), "Idempotency-Key": key})


def counter(stack, sk_suffix: str, local_day: str) -> int:
    from tests.capacity_view import day_view
    stack.bind_models()
    return int(day_view(TEAM_ID, local_day).get(sk_suffix, 0))


def test_fifty_concurrent_bookings_on_a_slot_of_five(stack, web, capacity_service):
    start = start_at(10, 10)
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(lambda i: post_booking(stack, web, ("userA", "userB")[i % 2], f"c50-{i}-{uuid.uuid4()}",
                                                         start), range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 5, sorted({r.text[:160] for r in responses if r.status_code != 201})
    assert statuses.count(409) == 45
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"SLOT_FULL"}
    booked = [r.json() for r in responses if r.status_code == 201]
    assert len({b["memberId"] for b in booked}) == 5  # nobody double-booked
    local_day = start[:10]
    cell = datetime.fromisoformat(start).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ")
    assert counter(stack, f"S#{cell}", local_day) == 5
    assert counter(stack, "DAY", local_day) == 5


def test_twenty_concurrent_submissions_with_one_key_make_one_booking(stack, web, capacity_service):
    start = start_at(11, 9)
    key = f"same-{uuid.uuid4()}"

    def submit(_):
        # A well-behaved client: on IDEMPOTENCY_IN_PROGRESS it waits Retry-After and replays.
        for _attempt in range(20):
            r = post_booking(stack, web, "userA", key, start)
            if r.status_code == 409 and r.json()["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS":
                time.sleep(float(r.headers["Retry-After"]))
                continue
            return r
        raise AssertionError("still in progress after 20 attempts")

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(submit, range(20)))
    assert {r.status_code for r in responses} == {201}
    bodies = {r.text for r in responses}
    assert len(bodies) == 1
    assert counter(stack, "DAY", start[:10]) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 19


def test_user_b_cannot_read_reschedule_or_cancel_user_a_request(stack, web, capacity_service):
    created = post_booking(stack, web, "userA", f"iso-{uuid.uuid4()}", start_at(12, 9))
    assert created.status_code == 201
    path = stack.url(f"/portal/service-requests/{created.json()['id']}")
    b = stack.auth("userB")
    for r in (web.get(path, headers=b),
              web.post(path + "/reschedule", json={"start": start_at(12, 11)}, headers=b),
              web.post(path + "/cancel", json={}, headers=b)):
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    mine = web.get(path, headers=stack.auth("userA")).json()
    assert mine["status"] == "CONFIRMED" and mine["start"] == created.json()["start"]
