"""The data migrations (devtools/migrations) bring items of the old layout into the indexes the admin lists read:
resumable from their checkpoint, idempotent, and never overwriting what a concurrent write stored."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from devtools import migrations
from devtools.migrations import admin_list_keys
from devtools.migrations.step import CHANGED_MEANWHILE, UNCHANGED, UNREADABLE, UPDATED
from tests.integration.test_admin_lists import SMALL, STATES, T0, make_request, page_through, write_requests


def old_requests(count: int):
    return [make_request(i, SMALL, *STATES[i % len(STATES)], T0 + timedelta(hours=i)) for i in range(count)]


def write_old_promo_rules(count: int) -> None:
    """Rules as they were stored before the promo_rules index: no priorityKey (and the oldest, no kind)."""
    from chalicelib.adapters.dynamodb.models import CatalogItem
    from chalicelib.adapters.dynamodb.promo_repository import rule_key
    from chalicelib.domain.promotions import rule_from_doc, rule_to_doc

    for i in range(count):
        rule = rule_from_doc({"id": f"old{i}", "kind": "fixed", "value": 100, "priority": 50 - i})
        CatalogItem(*rule_key(rule.id), kind="promo" if i % 2 else None, doc=rule_to_doc(rule), version=1).save()
    CatalogItem(*rule_key("broken"), kind="promo", doc={"id": "broken", "kind": "nonsense"}).save()


def list_ids(client, token, path: str, query: dict) -> list[str]:
    ids, _ = page_through(client, token, path, query, 4)
    return ids


@pytest.fixture
def old_layout(client):
    requests = old_requests(30)
    write_requests(requests, old_layout=True)
    write_old_promo_rules(5)
    return requests


def test_backfill_resumes_from_its_checkpoint_and_the_lists_then_serve_old_items(client, tokens, old_layout):
    admin = tokens["admin"]
    pending = sorted(r.id for r in old_layout if r.status.value == "PENDING_PAYMENT")
    query = {"teamId": SMALL, "status": "PENDING_PAYMENT"}
    assert list_ids(client, admin, "/admin/service-requests", query) == []  # not in the new index yet
    assert list_ids(client, admin, "/admin/promo-rules", {}) == []

    first = migrations.run(["admin-list-keys"], page_size=8, max_pages=2)
    assert first[0].done is False and first[0].outcomes == {UPDATED: 16}
    assert migrations.checkpoint("admin-list-keys")["startKey"] is not None
    rest = migrations.run(page_size=8)  # every step; the first continues where it stopped
    assert [(r.name, r.done, r.skipped) for r in rest] == [("admin-list-keys", True, False),
                                                           ("promo-priority-keys", True, False)]
    assert rest[0].outcomes == {UPDATED: 30}  # 16 before + 14 now: nothing read twice
    assert rest[1].outcomes == {UPDATED: 5, UNREADABLE: 1}

    assert list_ids(client, admin, "/admin/service-requests", query) == pending
    for status, payment in STATES:
        expected = sorted(r.id for r in old_layout if (r.status.value, r.payment_status.value) == (status, payment))
        assert list_ids(client, admin, "/admin/service-requests",
                        {"teamId": SMALL, "status": status, "paymentStatus": payment}) == expected
        assert list_ids(client, admin, "/admin/service-requests", {"status": status, "paymentStatus": payment}) == \
            expected
    assert list_ids(client, admin, "/admin/promo-rules", {}) == [f"old{i}" for i in reversed(range(5))]

    again = migrations.run()
    assert all(r.skipped for r in again)  # finished steps are not run again
    restarted = migrations.run(restart=True)
    assert restarted[0].outcomes == {UNCHANGED: 30} and restarted[1].outcomes == {UNCHANGED: 5, UNREADABLE: 1}


def test_backfill_leaves_an_item_written_since_it_was_read(client, old_layout):
    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.domain.booking import PaymentStatus, Status

    items, _ = admin_list_keys.read_page(None, 100)
    stale = next(i for i in items if i.status == "PENDING_PAYMENT")
    current = make_request(int(stale.id[3:]), SMALL, "PENDING_PAYMENT", "UNPAID", T0)
    to_item(current.with_changes(status=Status.EXPIRED, payment_status=PaymentStatus.EXPIRED), 2).save()

    assert admin_list_keys.apply(stale) == CHANGED_MEANWHILE
    stored = ServiceRequestItem.get(stale.id)
    assert (stored.teamStatus, stored.teamStatusPayment) == (f"{SMALL}#EXPIRED", f"{SMALL}#EXPIRED#EXPIRED")
    assert admin_list_keys.apply(stored) == UNCHANGED


def test_the_command_line_runs_and_reports_every_step(client, old_layout, capsys):
    from devtools import migrate

    migrations_page = migrations.run(["admin-list-keys"], page_size=10, max_pages=1)
    assert not migrations_page[0].done  # stopped early: the command line continues it
    assert migrate.main([]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["name"], r["done"]) for r in listed[-2:]] == [("admin-list-keys", True), ("promo-priority-keys", True)]
    migrate.main(["--list"])
    states = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(s["step"], s["done"]) for s in states][-2:] == [("admin-list-keys", True), ("promo-priority-keys", True)]
    with pytest.raises(KeyError):
        migrations.run(["no-such-step"])


def test_creating_tables_again_adds_the_indexes_a_table_lacks(aws, settings):
    """A table created before the admin-list indexes gets them (what the local stack's create_tables does)."""
    import boto3

    from chalicelib.adapters.dynamodb.models import ServiceRequestItem
    from chalicelib.adapters.dynamodb.tables import configure_models, create_tables

    configure_models(settings)
    schema = ServiceRequestItem._get_schema()
    old = [i for i in schema["global_secondary_indexes"] if i["index_name"] in ("by_user", "by_status")]
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=settings.requests_table, BillingMode="PAY_PER_REQUEST", KeySchema=schema["key_schema"],
        AttributeDefinitions=[a for a in schema["attribute_definitions"]
                              if a["AttributeName"] in ("id", "userId", "createdKey", "status", "startKey")],
        GlobalSecondaryIndexes=[{"IndexName": i["index_name"], "KeySchema": i["key_schema"],
                                 "Projection": i["projection"]} for i in old])
    created = create_tables(settings)
    table = client.describe_table(TableName=settings.requests_table)["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        i["index_name"] for i in schema["global_secondary_indexes"]}
    assert f"{settings.requests_table}/by_team_status" in created
    assert create_tables(settings) == []  # nothing left to add
