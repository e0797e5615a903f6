"""devtools/migrate.py against moto: a requests table from before the jobs' indexes, with requests written
without their keys, is brought to the new layout; the backfill stops after a page and resumes from its cursor,
and rerunning it changes nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bench.jobs import NOW, open_holds, paid_and_pending
from devtools import migrate

NEW_INDEXES = {"holds", "paid_by_update"}
JOB_KEYS = ("holdKey", "holdExpiresAt", "paidDay")


@pytest.fixture
def old_layout(tables, settings):
    """The requests table recreated without the new indexes, holding 30 requests written without their keys."""
    import boto3

    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    client = boto3.client("dynamodb", region_name="us-east-1")
    described = client.describe_table(TableName=settings.requests_table)["Table"]
    client.delete_table(TableName=settings.requests_table)
    kept = [i for i in described["GlobalSecondaryIndexes"] if i["IndexName"] not in NEW_INDEXES]
    used = {k["AttributeName"] for i in kept for k in i["KeySchema"]} | {"id"}
    client.create_table(
        TableName=settings.requests_table, BillingMode="PAY_PER_REQUEST", KeySchema=described["KeySchema"],
        AttributeDefinitions=[a for a in described["AttributeDefinitions"] if a["AttributeName"] in used],
        GlobalSecondaryIndexes=[{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"],
                                 "Projection": i["Projection"]} for i in kept],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    requests = list(open_holds(20, 5)) + list(paid_and_pending(paid=5, pending=0, recent=5, first=100))
    for request in requests:
        item = to_item(request, 1)
        for name in JOB_KEYS:
            setattr(item, name, None)
        item.save()
    return requests


def stored_keys() -> dict[str, tuple]:
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    return {i.id: tuple(getattr(i, k) for k in JOB_KEYS) for i in ServiceRequestItem.scan(consistent_read=True)}


def test_the_backfill_brings_old_requests_into_the_job_indexes_resumably_and_idempotently(
        old_layout, settings, app_container, monkeypatch):
    from chalicelib.adapters.dynamodb.job_keys import job_index_attributes
    monkeypatch.setattr(migrate, "PAGE_SIZE", 8)
    assert all(keys == (None, None, None) for keys in stored_keys().values())

    first = migrate.migrate(settings, max_pages=2)
    assert first["indexes_from_models"]["done"] and len(first["indexes_from_models"]["created"]) == 2
    partial = first["requests_job_index_keys"]
    assert not partial["done"] and partial["scanned"] == 16 and partial["cursor"]

    done = migrate.migrate(settings)["requests_job_index_keys"]
    assert done["done"] and done["scanned"] == len(old_layout)  # resumed: nothing scanned twice
    expected = {r.id: tuple(job_index_attributes(r)[k] for k in JOB_KEYS) for r in old_layout}
    assert stored_keys() == expected
    assert done["updated"] == sum(1 for keys in expected.values() if keys != (None, None, None))

    store = app_container.payment_store
    assert {r.id for r in store.due_holds(NOW)} == {r.id for r in old_layout[:5]}
    since = NOW - timedelta(days=2)
    assert len(list(store.recently_paid(since, since))) == 5

    assert migrate.migrate(settings)["requests_job_index_keys"] == done  # done steps are skipped
    rerun = migrate.migrate(settings, only="requests_job_index_keys")["requests_job_index_keys"]
    assert rerun["done"] and rerun["updated"] == 0 and rerun["scanned"] == len(old_layout)
    again = migrate.migrate(settings, only="indexes_from_models")["indexes_from_models"]
    assert again == {"created": [], "done": True}


def test_a_request_rewritten_meanwhile_is_left_to_its_writer(old_layout, settings, app_container, monkeypatch):
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    monkeypatch.setattr(migrate, "PAGE_SIZE", 100)
    original = ServiceRequestItem.update

    def concurrent_write_first(item, *args, **kwargs):
        if item.id == old_layout[0].id:  # a writer bumps the revision between the scan and the backfill
            original(ServiceRequestItem(item.id), actions=[ServiceRequestItem.rev.add(1)])
        return original(item, *args, **kwargs)

    monkeypatch.setattr(ServiceRequestItem, "update", concurrent_write_first)
    state = migrate.migrate(settings)["requests_job_index_keys"]
    assert state["done"] and state["changedMeanwhile"] == 1
    assert ServiceRequestItem.get(old_layout[0].id).holdKey is None  # not overwritten with what was read
