"""Catalog administration over real HTTP: an admin creates a service with an area price, a team and two members;
the service is offered (in /services and its availability) at once, or within the catalog cache's TTL for another
process; one member's time off removes exactly that member's slots."""
from __future__ import annotations

import time
import uuid
from datetime import date, datetime, time as wall, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from devtools.stack import CATALOG_CACHE_WAIT_SECONDS

pytestmark = pytest.mark.e2e
NY = ZoneInfo("America/New_York")


def weekday_ahead(days: int) -> date:
    """The first Monday-to-Friday date at least `days` after today in New York: the area price is asserted below,
    and a weekend day would add the weekend surcharge."""
    day = datetime.now(NY).date() + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def admin_post(stack, path, body):
    r = requests.post(stack.url(path), json=body, headers=stack.auth("admin"), timeout=60)
    assert r.status_code == 201, (path, r.status_code, r.text)
    return r.json()


def member_slots(stack, service_id, day, member_id):
    r = requests.get(stack.url(f"/services/{service_id}/availability"), timeout=60,
                     params={"from": day, "to": day, "tz": "America/New_York", "teamMemberId": member_id,
                             "postalCode": "97001"})
    assert r.status_code == 200, r.text
    return {s["start"] for d in r.json()["days"] for s in d["slots"] if s["remaining"] > 0}


def test_admin_builds_a_service_and_crew_and_time_off_removes_slots(stack):
    tag = uuid.uuid4().hex[:6]
    team, service = f"team-{tag}", f"svc-{tag}"
    admin_post(stack, "/admin/teams", {"id": team, "name": "Portland", "timezone": "America/New_York",
                                       "weeklyHours": {d: [["08:00", "18:00"]] for d in
                                                       ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                                       "dailyLimit": 10, "slotCapacity": 2,
                                       "serviceAreas": [{"country": "US", "prefixes": ["970"]}]})
    admin_post(stack, "/admin/services", {"id": service, "name": "Gutters", "category": "outdoor",
                                          "durationMinutes": 60, "slotStepMinutes": 60,
                                          "basePrice": {"amount": 9000}, "teamIds": [team],
                                          "areaPrices": [{"teamId": team, "basePrice": {"amount": 9900}}]})
    for m in ("a", "b"):
        admin_post(stack, "/admin/members", {"id": f"{team}-{m}", "teamId": team, "displayName": m.upper(),
                                             "serviceIds": [service], "email": f"{m}@example.test"})
    deadline = time.monotonic() + CATALOG_CACHE_WAIT_SECONDS  # another API process may hold a copy up to its TTL
    while service not in [s["id"] for s in requests.get(stack.url("/services"), timeout=60).json()["items"]]:
        assert time.monotonic() < deadline, "the new service was not offered within the catalog cache TTL"
        time.sleep(1)
    day = weekday_ahead(7).isoformat()
    slots_a, slots_b = (member_slots(stack, service, day, f"{team}-{m}") for m in ("a", "b"))
    assert slots_a and slots_a == slots_b
    off_start = datetime.combine(date.fromisoformat(day), wall(8), tzinfo=NY)
    admin_post(stack, f"/admin/members/{team}-a/time-off",
               {"start": off_start.isoformat(), "end": (off_start + timedelta(hours=4)).isoformat(),
                "reason": "appointment"})
    after_a = member_slots(stack, service, day, f"{team}-a")
    assert after_a < slots_a and all(datetime.fromisoformat(s) >= off_start + timedelta(hours=4) for s in after_a)
    assert member_slots(stack, service, day, f"{team}-b") == slots_b
    quote = requests.post(stack.url("/pricing/quote"), timeout=60, json={
        "serviceId": service, "start": sorted(slots_b)[0], "tz": "America/New_York", "postalCode": "97001"})
    assert quote.status_code == 200 and quote.json()["quote"]["total"] == 9900, quote.text  # the area price
