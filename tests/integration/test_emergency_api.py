"""Emergency requests over chalice.test.Client + in-process moto with a fixed clock."""
from __future__ import annotations

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.catalog import Blackout, Money, Service, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

NY = ZoneInfo("America/New_York")
TEN_PM = datetime(2026, 12, 1, 22, 0, tzinfo=NY)  # Tuesday 22:00 New York; the team opens 07:00


class RecordingPublisher:
    def __init__(self):
        self.emergencies = []

    def availability_changed(self, *args):
        return None

    def emergency_created(self, request_doc):
        self.emergencies.append(request_doc)


@pytest.fixture
def api(tables, app_container, issue_token):
    """Team open 07:00-20:00; on-call: oc1, oc2; m3 is not on call. oc2 is booked tomorrow 07:00."""
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="plumb", name="Plumbing", category="plumbing", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=24 * 60,
                             base_price=Money(10000), team_ids=("t1",)))
    repo.put_team(Team(id="t1", name="NY", timezone="America/New_York",
                       weekly_hours={d: (TimeWindow(time(7), time(20)),) for d in range(7)}, daily_limit=10,
                       slot_capacity=3, service_areas=TEST_AREAS))
    repo.put_member(TeamMember(id="oc1", team_id="t1", display_name="On call 1", service_ids=("plumb",),
                               on_call_service_ids=("plumb",)))
    repo.put_member(TeamMember(id="oc2", team_id="t1", display_name="On call 2", service_ids=("plumb",),
                               on_call_service_ids=("plumb",)))
    repo.put_member(TeamMember(id="m3", team_id="t1", display_name="Day shift", service_ids=("plumb",)))
    publisher = RecordingPublisher()
    app_container.override(clock=lambda: datetime(2026, 11, 20, 12, tzinfo=NY), publisher=publisher)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        c.tokens = {"a": issue_token("user-a"), "b": issue_token("user-b")}
        busy = c.http.post("/portal/service-requests", headers={
            **auth(c.tokens["b"]), "Content-Type": "application/json", "Idempotency-Key": "busy"},
            body=json.dumps({"serviceId": "plumb", "start": "2026-12-02T07:00:00-05:00", "paymentMethod": "COD",
                             "teamMemberId": "oc2", **AT_HOME}))
        assert busy.status_code == 201, busy.body
        app_container.override(clock=lambda: TEN_PM)
        c.publisher = publisher
        yield c


def emergency(api, key, who="a", service="plumb"):
    return api.http.post("/portal/emergency-requests", headers={
        **auth(api.tokens[who]), "Content-Type": "application/json", "Idempotency-Key": key},
        body=json.dumps({"serviceId": service, "address": "1 Main St", "description": "Burst pipe",
                         "paymentMethod": "COD", **AT_HOME}))


def test_at_ten_pm_the_only_free_on_call_member_tomorrow_at_seven_gets_it(api):
    r = emergency(api, "e1")
    assert r.status_code == 201, r.body
    booked = json.loads(r.body)
    assert booked["start"] == "2026-12-02T12:00:00Z"  # 07:00 New York: lead time ignored, hours respected
    assert booked["memberId"] == "oc1"  # oc2 is busy, m3 is not on call
    assert booked["priority"] == "EMERGENCY"
    assert "EMERGENCY" in [line["code"] for line in booked["price"]["lines"] if line["kind"] == "SURCHARGE"]
    assert [doc["id"] for doc in api.publisher.emergencies] == [booked["id"]]
    replay = emergency(api, "e1")
    assert replay.status_code == 201 and json.loads(replay.body) == booked
    assert replay.headers.get("Idempotent-Replayed") == "true" and len(api.publisher.emergencies) == 1


def test_the_next_emergency_takes_the_next_on_call_capacity(api):
    assert json.loads(emergency(api, "e1").body)["start"] == "2026-12-02T12:00:00Z"
    second = json.loads(emergency(api, "e2", who="b").body)
    assert second["start"] == "2026-12-02T13:00:00Z" and second["memberId"] in {"oc1", "oc2"}


def test_no_on_call_capacity_in_the_window_is_409_with_the_next_available_time(api, app_container):
    app_container.override(settings=app_container.settings.model_copy(update={"emergency_window_minutes": 30}))
    assert emergency(api, "e1").status_code == 201  # 07:00 is inside 30 opening minutes (07:00-07:30)
    full = emergency(api, "e2", who="b")  # both on-call members now busy at 07:00; 08:00 is outside
    assert full.status_code == 409, full.body
    error = json.loads(full.body)["error"]
    assert error["code"] == "SLOT_UNAVAILABLE"
    assert error["details"]["nextAvailableAt"] == "2026-12-02T13:00:00Z" and error["details"]["windowMinutes"] == 30


def test_blackouts_are_respected(api, app_container):
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    DynamoCatalogRepository().put_global_blackout(Blackout("storm", datetime(2026, 12, 2, 7, tzinfo=NY),
                                                           datetime(2026, 12, 2, 9, tzinfo=NY), "storm", None))
    app_container.catalog.invalidate()
    r = emergency(api, "e1")
    assert r.status_code == 201, r.body
    assert json.loads(r.body)["start"] == "2026-12-02T14:00:00Z"  # 09:00, first slot after the blackout


def test_a_service_without_on_call_members_is_409(api):
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="paint", name="Painting", category="painting", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=0, base_price=Money(5000),
                             team_ids=("t1",)))
    repo.put_member(TeamMember(id="p1", team_id="t1", display_name="Painter", service_ids=("paint",)))
    from chalicelib.bootstrap import container
    container().catalog.invalidate()
    r = emergency(api, "e1", service="paint")
    assert r.status_code == 409 and json.loads(r.body)["error"]["details"]["nextAvailableAt"] is None
