"""Over real HTTP (local API + moto server): an admin books for user-a by phone, the booking appears in user-a's
list, the admin starts and completes it; a no-show is recorded on a booking whose appointment has passed and
counted once on its team-day; the utilisation report counts both."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, time as wall, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.e2e

SERVICE_ID = "e2e-jobs"
TEAM_ID = "team-e2e-jobs"
NY = ZoneInfo("America/New_York")
UTC = timezone.utc


@pytest.fixture(scope="module")
def jobs_service(stack):
    return stack.add_service(SERVICE_ID, TEAM_ID, members=2, slot_capacity=2)


def start_at(days_ahead: int, hour: int) -> str:
    return datetime.combine(date.today() + timedelta(days=days_ahead), wall(hour), tzinfo=NY).isoformat()


def book_for_user_a(stack, http, start: str) -> dict:
    response = http.post(stack.url("/admin/service-requests"), json={
        "customerId": "user-a", "serviceId": SERVICE_ID, "start": start, "paymentMethod": "COD",
        "customerEmail": "user-a@example.com", "address": "1 Phone St", "postalCode": "10001"},
        headers={**stack.auth("admin"), "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    return response.json()


def utilisation_day(stack, http, local_date: str) -> dict:
    response = http.get(stack.url(f"/admin/reports/utilisation?teamId={TEAM_ID}&from={local_date}&to={local_date}"),
                        headers=stack.auth("admin"))
    assert response.status_code == 200, response.text
    [day] = response.json()["days"]
    return day


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_admin_books_for_user_a_then_starts_and_completes(stack, http, jobs_service):
    booked = book_for_user_a(stack, http, start_at(3, 10))
    assert (booked["userId"], booked["createdBy"]) == ("user-a", "admin:admin-1")
    mine = http.get(stack.url("/portal/service-requests?limit=100"), headers=stack.auth("userA")).json()["items"]  # newest first
    assert booked["id"] in [r["id"] for r in mine]
    base = stack.url(f"/admin/service-requests/{booked['id']}")
    started = http.post(f"{base}/start", json={}, headers=stack.auth("admin"))
    assert started.status_code == 200 and started.json()["status"] == "IN_PROGRESS", started.text
    now = datetime.now(UTC)
    done = http.post(f"{base}/complete", headers=stack.auth("admin"), json={
        "actualStart": iso(now - timedelta(hours=1)), "actualEnd": iso(now - timedelta(minutes=1)),
        "cashCollected": True, "notes": "fixed"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["paymentStatus"]) == ("COMPLETED", "COD_COLLECTED")
    mine = http.get(stack.url(f"/portal/service-requests/{booked['id']}"), headers=stack.auth("userA")).json()
    assert mine["status"] == "COMPLETED"
    day = utilisation_day(stack, http, (date.today() + timedelta(days=3)).isoformat())
    assert (day["booked"], day["cancelled"], day["noShows"]) == (1, 0, 0)  # the completed job used its crew's time


def test_a_no_show_is_recorded_and_counted_once(stack, http, jobs_service):
    from chalicelib.adapters.dynamodb import capacity_store, keys
    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository

    booked = book_for_user_a(stack, http, start_at(4, 11))
    base = stack.url(f"/admin/service-requests/{booked['id']}")
    early = http.post(f"{base}/no-show", json={}, headers=stack.auth("admin"))
    assert early.status_code == 409 and early.json()["error"]["code"] == "BOOKING_NOT_STARTED"
    # Time passes: the appointment is moved into the past in the store, as the clock would (its day stays put).
    stack.bind_models()
    repo = DynamoServiceRequestRepository(stack.moto_url, stack.settings.region)
    current = repo.get(booked["id"])
    begun = datetime.now(UTC) - timedelta(hours=2)
    repo.save(current, current.with_changes(placement=replace(current.placement, start=begun,
                                                              end=begun + timedelta(hours=1))))
    for _ in range(2):  # the second is a client's retry
        missed = http.post(f"{base}/no-show", json={"reason": "nobody home"}, headers=stack.auth("admin"))
        assert missed.status_code == 200 and missed.json()["status"] == "NO_SHOW", missed.text
    late_cancel = http.post(stack.url(f"/portal/service-requests/{booked['id']}/cancel"), json={},
                            headers=stack.auth("userA"))
    assert late_cancel.status_code == 409
    raw = capacity_store.C._get_connection().get_item(*keys.team_day_key(TEAM_ID, current.placement.local_date),
                                                      consistent_read=True)["Item"]
    assert capacity_store.plain(raw)["noShows"] == 1
    day = utilisation_day(stack, http, current.placement.local_date)
    assert (day["booked"], day["cancelled"], day["noShows"]) == (1, 0, 1)
