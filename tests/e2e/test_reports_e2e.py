"""Reports over real HTTP (local API + moto server): bookings show in the utilisation report, its heatmap opens as
SVG with the same numbers, and the revenue report counts the bookings' prices on the day they were made."""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime, time as wall, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

pytestmark = pytest.mark.e2e

SERVICE_ID, TEAM_ID, PRICE = "e2e-reports", "team-e2e-reports", 4000
NY = ZoneInfo("America/New_York")


def test_bookings_show_in_utilisation_heatmap_and_revenue(stack):
    stack.add_service(SERVICE_ID, TEAM_ID, members=3, slot_capacity=2, price=PRICE)
    day = date.today() + timedelta(days=5)  # the stack runs on the machine's clock
    today = datetime.now(timezone.utc).date()
    around = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}&currency=USD"  # midnight-proof

    def revenue_today() -> dict:
        response = requests.get(stack.url(f"/admin/reports/revenue?{around}"), headers=stack.auth("admin"),
                                timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["totals"][0]

    before = revenue_today()
    made = []
    for who in ("userA", "userB"):
        response = requests.post(stack.url("/portal/service-requests"), timeout=60, json={
            "serviceId": SERVICE_ID, "start": datetime.combine(day, wall(10), tzinfo=NY).isoformat(),
            "paymentMethod": "COD", "postalCode": "10001"},
            headers={**stack.auth(who), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.text
        made.append(response.json())

    query = f"teamId={TEAM_ID}&from={day.isoformat()}&to={(day + timedelta(days=1)).isoformat()}"
    report = requests.get(stack.url(f"/admin/reports/utilisation?{query}"), headers=stack.auth("admin"), timeout=60)
    assert report.status_code == 200, report.text
    first = report.json()["days"][0]
    assert (first["booked"], first["peak"], first["crews"], first["hours"][10]) == (2, 2, 2, 2)
    assert sum(m["bookedMinutes"] for m in first["members"]) == 120

    picture = requests.get(stack.url(f"/admin/reports/utilisation.svg?{query}"), headers=stack.auth("admin"),
                           timeout=60)
    assert picture.status_code == 200 and picture.headers["Content-Type"].startswith("image/svg+xml")
    cells = {(r.get("data-date"), r.get("data-hour")): r.get("data-peak")
             for r in ET.fromstring(picture.content).iter("{http://www.w3.org/2000/svg}rect") if r.get("class")}
    assert cells[(day.isoformat(), "10")] == "2" and cells[(day.isoformat(), "9")] == "0"

    after = revenue_today()
    total = sum(m["price"]["total"] for m in made)
    assert after["booked"] - before["booked"] == total and after["codDue"] - before["codDue"] == total
    assert requests.get(stack.url(f"/admin/reports/utilisation?{query}"), headers=stack.auth("userA"),
                        timeout=60).status_code == 403
