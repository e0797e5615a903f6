"""The scale bench seeds bookings by recording the repository's own transactions and writing the items they
leave in bulk (bench/capture.py). Seeding that way must leave exactly the items that sending the same
transactions leaves: creates with promotion usage, a reschedule, a cancellation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3

from bench.capture import CapturedWrites, recording
from chalicelib.domain import availability as av
from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status
from chalicelib.domain.promotions import UsageClaim, claims_to_doc

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
CLAIMS = claims_to_doc([UsageClaim("promo-a", 100, 2)])


def _request(catalog, number: int, member: str, start: datetime) -> tuple[ServiceRequest, av.CapacityPlan]:
    service, team = catalog.services["cleaning"], catalog.teams["team-nyc"]
    plan = av.plan_for(service, team, member, start)
    placement = Placement(team_id=team.id, member_id=member, start=start,
                          end=start + timedelta(minutes=service.duration_minutes), local_date=plan.local_date,
                          timezone=plan.timezone, cells=plan.cells)
    price = {"currency": "USD", "subtotal": 1, "discount": 0, "total": 1, "lines": [], "usageClaims": CLAIMS}
    request = ServiceRequest(id=f"sr_cap{number}", user_id=f"user-{number % 2}", service_id=service.id,
                             placement=placement, status=Status.CONFIRMED, payment_status=PaymentStatus.COD_DUE,
                             payment_method=PaymentMethod.COD, price=price, created_at=NOW, updated_at=NOW)
    return request, plan


def _write_bookings(deps) -> None:
    """Three bookings on two days, one moved to another member and time, one cancelled."""
    catalog = deps.catalog.get()
    day = datetime(2026, 12, 2, 14, tzinfo=UTC)  # 09:00 in New York
    made = [_request(catalog, 1, "member-ava", day), _request(catalog, 2, "member-chloe", day),
            _request(catalog, 3, "member-ava", day + timedelta(days=1))]
    stored = {}
    for request, plan in made:
        uses = deps.promo_usage.actions(CLAIMS, request.user_id, consume=True)
        stored[request.id] = (deps.requests.create(request, plan, uses), plan)
    moved, old_plan = stored["sr_cap1"]
    new_request, new_plan = _request(catalog, 1, "member-chloe", day + timedelta(hours=4))
    deps.requests.move(moved, new_request.with_changes(revision=moved.revision, sequence=1), old_plan, new_plan)
    cancelled, plan = stored["sr_cap2"]
    give_back = deps.promo_usage.actions(CLAIMS, cancelled.user_id, consume=False)
    deps.requests.release(cancelled, cancelled.with_changes(status=Status.CANCELLED), plan, give_back)


def _items(client) -> dict:
    out = {}
    for table in client.list_tables()["TableNames"]:
        rows = client.scan(TableName=table)["Items"]
        out[table] = sorted(rows, key=lambda row: sorted((k, str(v)) for k, v in row.items()))
    return out


def _fresh_tables(settings) -> None:
    from chalicelib.adapters.dynamodb.tables import create_tables
    from devtools.seed import seed_demo

    client = boto3.client("dynamodb", region_name=settings.region)
    for table in client.list_tables()["TableNames"]:
        client.delete_table(TableName=table)
    create_tables(settings)
    seed_demo(settings)


def test_recorded_then_bulk_written_bookings_leave_the_items_sent_transactions_leave(seeded, settings):
    from chalicelib.bootstrap import Container

    client = boto3.client("dynamodb", region_name=settings.region)
    _write_bookings(Container(settings))
    sent = _items(client)
    assert any(row["sk"]["S"].endswith("#DAY") for row in sent[settings.capacity_table])

    _fresh_tables(settings)
    deps = Container(settings)
    captured = CapturedWrites({t: tuple(k["AttributeName"] for k in sorted(
        client.describe_table(TableName=t)["Table"]["KeySchema"], key=lambda k: k["KeyType"]))
        for t in client.list_tables()["TableNames"]})
    with recording(captured):
        _write_bookings(deps)
    assert _items(client) != sent  # nothing was sent while recording
    captured.write(client)
    assert _items(client) == sent


def test_an_update_expression_it_does_not_know_fails_loudly():
    import pytest

    captured = CapturedWrites({"t": ("pk",)})
    with pytest.raises(NotImplementedError):
        captured.apply({"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}},
                                   "UpdateExpression": "SET #l = list_append(#l, :v)",
                                   "ExpressionAttributeNames": {"#l": "l"},
                                   "ExpressionAttributeValues": {":v": {"L": []}}}})
