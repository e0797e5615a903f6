"""Admin lists against in-process moto: DynamoDB requests and items read by one page of
GET /admin/service-requests (the repository call behind it) with a company of 1,000 and of 10,000 requests.

Figures (`*_growth`: the 10,000 figure over the 1,000 one; 1.0 when both are equal):
- admin_list_items_read_team_status_no_match: teamId + status matching nothing in the busiest team
  (before the combination indexes: every request of the team, 50 per Query);
- admin_list_items_read_team_status_page: a full page (50) of teamId + status + start range;
- admin_list_items_read_status_payment_page: a full page of status + paymentStatus;
- admin_list_ddb_requests_team_status_no_match.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bench import ddb_counter

SIZES = (1_000, 10_000)
TEAMS = 10
PAGE = 50
T0 = datetime(2027, 1, 4, 8, 0, tzinfo=timezone.utc)
# most requests are confirmed cash bookings; a few of every other state
STATES = [("CONFIRMED", "COD_DUE")] * 7 + [("COMPLETED", "COD_COLLECTED"), ("CANCELLED", "REFUNDED"),
                                          ("CONFIRMED", "PAID")]


def _request(number: int):
    from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status

    status, payment = STATES[number % len(STATES)]
    start = T0 + timedelta(minutes=30 * (number // TEAMS))
    return ServiceRequest(
        id=f"sr_bench_{number:06d}", user_id=f"user-{number % 300}", service_id="cleaning",
        placement=Placement(team_id=f"team-{number % TEAMS}", member_id="m1", start=start,
                            end=start + timedelta(hours=1), local_date=start.date().isoformat(), timezone="UTC"),
        status=Status(status), payment_status=PaymentStatus(payment), payment_method=PaymentMethod.COD,
        price={"currency": "USD", "lines": [], "subtotal": 100, "discount": 0, "total": 100},
        created_at=T0 - timedelta(days=7), updated_at=T0 - timedelta(days=7))


def _measure(size: int) -> dict[str, int]:
    import os

    from moto import mock_aws

    from chalicelib.adapters.dynamodb.booking_repository import DynamoServiceRequestRepository, to_item
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.adapters.dynamodb.tables import create_tables
    from chalicelib.settings import settings_from_env

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for key in ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(key, None)
    with mock_aws():
        settings = settings_from_env({**os.environ, "TABLE_PREFIX": "bench-admin-", "STAGE": "test"})
        create_tables(settings)
        with ServiceRequestItem.batch_write() as batch:
            for number in range(size):
                batch.save(to_item(_request(number), 1))
        repo = DynamoServiceRequestRepository(None, settings.region)
        span = {"start_from": T0.isoformat(), "start_to": (T0 + timedelta(days=400)).isoformat()}
        queries = {
            "team_status_no_match": dict(team_id="team-0", status="PENDING_PAYMENT", payment_status=None,
                                         start_from=None, start_to=None),
            "team_status_page": dict(team_id="team-0", status="CONFIRMED", payment_status=None, **span),
            "status_payment_page": dict(team_id=None, status="CONFIRMED", payment_status="COD_DUE", start_from=None,
                                        start_to=None),
        }
        figures = {}
        for name, query in queries.items():
            ddb_counter.reset()
            items, _ = repo.admin_list(cursor=None, limit=PAGE, **query)
            figures[f"admin_list_items_read_{name}"] = ddb_counter.items_read()
            if name == "team_status_no_match":
                assert items == []
                figures[f"admin_list_ddb_requests_{name}"] = ddb_counter.total()
            else:
                assert len(items) == PAGE
        return figures


def figures() -> dict:
    ddb_counter.install()
    small, large = (_measure(size) for size in SIZES)
    out = dict(large)
    for name, value in large.items():
        out[f"{name}_growth"] = 1.0 if value == small[name] else round(value / small[name], 2) if small[name] else None
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(figures(), sort_keys=True))
