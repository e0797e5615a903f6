"""Admin reports over chalice.test.Client + in-process moto: the utilisation report counts what bookings, cancels
and overrides wrote to the capacity items; the SVG heatmap shows the same numbers; bounds, 403/401, contract."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, time, timezone

import pytest

from chalicelib.domain.catalog import Blackout, Money, Service, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
DAY = "2026-12-01"  # a Tuesday; 09:00 New York = 14:00Z
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def catalog(tables):
    """One New York team working 08:00-18:00 every day: 2 crews, 3 bookings a day, 3 members; a blackout over all
    of 2026-12-02's hours."""
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                             buffer_minutes=30, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",)))
    hours = {d: (TimeWindow(time(8), time(18)),) for d in range(7)}
    repo.put_team(Team(id="t1", name="NY", timezone="America/New_York", weekly_hours=hours, daily_limit=3,
                       slot_capacity=2, service_areas=TEST_AREAS,
                       blackouts=(Blackout("b1", datetime(2026, 12, 2, 13, tzinfo=timezone.utc),
                                           datetime(2026, 12, 2, 23, tzinfo=timezone.utc), "training", "t1"),)))
    for i in range(3):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",)))
    return repo


@pytest.fixture
def api(catalog, app_container):
    from chalice.test import Client

    from app import app
    app_container.override(clock=lambda: NOW)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        yield c


@pytest.fixture
def users(issue_token):
    return {"a": issue_token("user-a"), "admin": issue_token("boss", groups=["admin"])}


def book(api, token, key: str, hour: int) -> dict:
    body = {"serviceId": "svc", "start": f"{DAY}T{hour:02d}:00:00-05:00", "paymentMethod": "COD", **AT_HOME}
    response = api.http.post("/portal/service-requests", body=json.dumps(body),
                             headers={**auth(token), "Content-Type": "application/json", "Idempotency-Key": key})
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def report(api, token, path: str = "/admin/reports/utilisation", **query):
    params = {"teamId": "t1", "from": DAY, "to": "2026-12-03", **query}
    return api.http.get(f"{path}?" + "&".join(f"{k}={v}" for k, v in params.items()), headers=auth(token))


def tally(team_day: str, **adds: int) -> None:
    """What the cancel and no-show transactions add to the team-day item (ADD cancelled 1 / ADD noShows 1)."""
    from pynamodb.attributes import NumberAttribute

    from chalicelib.adapters.dynamodb.models import CapacityCounter
    CapacityCounter("CAP#t1#2026-12", f"{team_day}#DAY").update(
        actions=[NumberAttribute(attr_name=name).add(n) for name, n in adds.items()])


def test_the_report_counts_bookings_cells_members_cancellations_and_overrides(api, users):
    made = [book(api, users["a"], "k1", 9), book(api, users["a"], "k2", 9), book(api, users["a"], "k3", 11)]
    gone = api.http.post(f"/portal/service-requests/{made[2]['id']}/cancel", headers=auth(users["a"]), body="")
    assert gone.status_code == 200
    tally(DAY, noShows=2)  # the cancel above counts itself; no-shows need a start that has passed
    override = api.http.post("/admin/capacity-overrides", headers={**auth(users["admin"]),
                             "Content-Type": "application/json"},
                             body=json.dumps({"teamId": "t1", "date": DAY, "limit": 5, "reason": "extra crew"}))
    assert override.status_code == 201

    response = report(api, users["admin"])
    assert response.status_code == 200, response.body
    body = json.loads(response.body)
    first, blackout, third = body["days"]
    assert [d["date"] for d in body["days"]] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert (first["booked"], first["limit"], first["limitOverridden"]) == (2, 5, True)
    # the two 09:00 jobs overlap for their hour and half-hour buffer; the cancelled 11:00 left nothing behind
    assert (first["peak"], first["crews"], first["peakAt"]) == (2, 2, "2026-12-01T09:00:00-05:00")
    assert first["hours"][9] == 2 and first["hours"][10] == 2 and sum(first["hours"]) == 4
    held = {m["memberId"]: m["bookedMinutes"] for m in first["members"]}
    assert held == {m: (90 if m in {r["memberId"] for r in made[:2]} else 0) for m in ("m0", "m1", "m2")}
    assert all(m["workingMinutes"] == 600 for m in first["members"])
    assert (first["cancelled"], first["noShows"]) == (1, 2)
    assert blackout["workingMinutes"] == 0 and blackout["booked"] == 0 and blackout["limit"] == 3
    assert third == {**third, "booked": 0, "peak": 0, "peakAt": None, "hours": [0] * 24, "cancelled": 0,
                     "noShows": 0, "workingMinutes": 600, "limitOverridden": False}
    assert body["totals"] == {"booked": 2, "limit": 11, "cancelled": 1, "noShows": 2, "workingMinutes": 1200,
                              "bookedMinutes": 180}


def test_the_heatmap_shows_the_numbers_of_the_json_report(api, users):
    from chalicelib.domain.heatmap import colour
    from chalicelib.domain.utilisation import ratio

    book(api, users["a"], "k1", 9)
    book(api, users["a"], "k2", 9)
    book(api, users["a"], "k3", 15)
    data = json.loads(report(api, users["admin"]).body)
    picture = report(api, users["admin"], "/admin/reports/utilisation.svg")
    assert picture.status_code == 200
    assert picture.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(picture.body)
    assert root.tag == f"{SVG}svg"
    cells = {(r.get("data-date"), int(r.get("data-hour"))): r for r in root.iter(f"{SVG}rect")
             if r.get("class") == "cell"}
    assert len(cells) == 3 * 24
    for day in data["days"]:
        for hour, peak in enumerate(day["hours"]):
            cell = cells[(day["date"], hour)]
            assert int(cell.get("data-peak")) == peak and int(cell.get("data-crews")) == day["crews"]
            assert cell.get("fill") == colour(ratio(peak, day["crews"]))
    # the full 09:00 hour is the darkest cell, the 15:00 one half as dark, an empty hour the lightest
    assert cells[(DAY, 9)].get("fill") == colour(1.0) != cells[(DAY, 15)].get("fill") == colour(0.5)
    assert cells[(DAY, 3)].get("fill") == colour(0.0)


@pytest.mark.parametrize("path", ["/admin/reports/utilisation", "/admin/reports/utilisation.svg"])
def test_bounds_and_errors_use_the_contract_body(api, users, path):
    def error(response) -> tuple[int, str]:
        return response.status_code, json.loads(response.body)["error"]["code"]

    assert report(api, users["admin"], path, to="2027-03-02").status_code == 200  # 92 days
    assert error(report(api, users["admin"], path, to="2027-03-03")) == (400, "RANGE_TOO_LARGE")  # 93
    assert error(report(api, users["admin"], path, to="2026-11-30")) == (400, "VALIDATION_ERROR")
    assert error(report(api, users["admin"], path, teamId="nope")) == (404, "NOT_FOUND")
    assert error(report(api, users["admin"], path, **{"from": "12/01/2026"})) == (400, "VALIDATION_ERROR")
    assert error(api.http.get(f"{path}?from={DAY}&to={DAY}", headers=auth(users["admin"]))) == (
        400, "VALIDATION_ERROR")  # no teamId
    assert error(report(api, users["a"], path)) == (403, "FORBIDDEN")  # a portal user
    assert error(api.http.get(f"{path}?teamId=t1&from={DAY}&to={DAY}")) == (401, "UNAUTHENTICATED")


def test_every_report_route_is_in_the_contract_with_its_errors(api):
    document = json.loads(api.http.get("/openapi.json").body)
    for path, media in (("/admin/reports/utilisation", "application/json"),
                        ("/admin/reports/utilisation.svg", "image/svg+xml")):
        operation = document["paths"][path]["get"]
        responses = operation["responses"]
        assert media in responses["200"]["content"]
        assert {"RANGE_TOO_LARGE", "VALIDATION_ERROR"} <= set(responses["400"]["description"].split(", "))
        assert "NOT_FOUND" in responses["404"]["description"] and "FORBIDDEN" in responses["403"]["description"]
        assert "401" in responses and operation["security"] == [{"bearer": []}]
        assert {p["name"] for p in operation["parameters"]} == {"teamId", "from", "to"}


def test_revenue_per_day_counts_bookings_and_cash_on_the_days_they_happened(api, users, app_container):
    made = book(api, users["a"], "k1", 9)
    total = made["price"]["total"]
    app_container.override(clock=lambda: datetime(2026, 12, 1, 20, tzinfo=timezone.utc))
    collected = api.http.post(f"/admin/service-requests/{made['id']}/cod-collected", body="{}",
                              headers={**auth(users["admin"]), "Content-Type": "application/json"})
    assert collected.status_code == 200, collected.body
    response = api.http.get("/admin/reports/revenue?from=2026-11-24&to=2026-12-01&currency=usd",
                            headers=auth(users["admin"]))
    assert response.status_code == 200, response.body
    body = json.loads(response.body)
    assert len(body["days"]) == 8 and {d["currency"] for d in body["days"]} == {"USD"}
    by_day = {d["date"]: d for d in body["days"]}
    assert by_day["2026-11-24"] == {"date": "2026-11-24", "currency": "USD", "booked": total, "paid": 0,
                                    "refunded": 0, "codDue": total, "codCollected": 0}
    assert by_day["2026-12-01"]["codCollected"] == total
    assert body["totals"] == [{"currency": "USD", "booked": total, "paid": 0, "refunded": 0, "codDue": total,
                               "codCollected": total}]
    other = json.loads(api.http.get("/admin/reports/revenue?from=2026-11-24&to=2026-11-24&currency=EUR",
                                    headers=auth(users["admin"])).body)
    assert other["days"] == [{"date": "2026-11-24", "currency": "EUR", "booked": 0, "paid": 0, "refunded": 0,
                              "codDue": 0, "codCollected": 0}]


def test_revenue_bounds_access_and_contract(api, users):
    def get(query: str, token=users["admin"]):
        response = api.http.get(f"/admin/reports/revenue?{query}", headers=auth(token) if token else {})
        return response.status_code, json.loads(response.body).get("error", {}).get("code")

    assert get("from=2026-01-01&to=2026-04-02") == (200, None)  # 92 days
    assert get("from=2026-01-01&to=2026-04-03") == (400, "RANGE_TOO_LARGE")
    assert get("from=2026-01-02&to=2026-01-01") == (400, "VALIDATION_ERROR")
    assert get("from=2026-01-01&to=2026-01-02&currency=dollars") == (400, "VALIDATION_ERROR")
    assert get("from=2026-01-01&to=2026-01-02", users["a"]) == (403, "FORBIDDEN")
    assert get("from=2026-01-01&to=2026-01-02", None) == (401, "UNAUTHENTICATED")
    operation = json.loads(api.http.get("/openapi.json").body)["paths"]["/admin/reports/revenue"]["get"]
    assert {"RANGE_TOO_LARGE", "VALIDATION_ERROR"} <= set(operation["responses"]["400"]["description"].split(", "))
    assert {"401", "403", "500"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"from", "to", "currency"}
