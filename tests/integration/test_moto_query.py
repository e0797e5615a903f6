"""Table Query as the local stack and the tests run it (devtools/moto_query.py, installed by tests/conftest.py):
DynamoDB's answers (sort key conditions, order, pagination, filters, projections, numeric and hash-only keys,
index queries), at a cost that depends on the queried partition, not on the table's size."""
from __future__ import annotations

import boto3
import pytest

TABLE = "query-contract"


def create(client, name: str, sort_type: str | None = "S", index: bool = False) -> None:
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if sort_type:
        attributes.append({"AttributeName": "sk", "AttributeType": sort_type})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    extra = {}
    if index:
        attributes.append({"AttributeName": "owner", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [{"IndexName": "by_owner",
                                            "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                                            "Projection": {"ProjectionType": "ALL"}}]
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=attributes,
                        KeySchema=schema, **extra)


@pytest.fixture
def ddb(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    create(client, TABLE, index=True)
    for pk in ("CAP#2026-12", "CAP#2027-01", "OTHER"):
        for day in ("2026-12-01", "2026-12-02", "2026-12-03"):
            for suffix in ("DAY", "S#10:00", "S#11:00"):
                client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": f"{day}#{suffix}"},
                                                        "n": {"N": "1"}, "owner": {"S": f"{pk}-{suffix}"}})
    return client


def sort_keys(response) -> list[str]:
    return [item["sk"]["S"] for item in response["Items"]]


def query(ddb, condition: str, values: dict, **kwargs) -> list[str]:
    return sort_keys(ddb.query(TableName=TABLE, KeyConditionExpression=condition,
                               ExpressionAttributeValues={":pk": {"S": "CAP#2026-12"}, **values}, **kwargs))


def test_between_reads_one_partition_in_sort_key_order(ddb):
    found = query(ddb, "pk = :pk AND sk BETWEEN :a AND :b", {":a": {"S": "2026-12-02"}, ":b": {"S": "2026-12-02~"}})
    assert found == ["2026-12-02#DAY", "2026-12-02#S#10:00", "2026-12-02#S#11:00"]


@pytest.mark.parametrize("condition, value, expected", [
    ("begins_with(sk, :v)", "2026-12-03#S", ["2026-12-03#S#10:00", "2026-12-03#S#11:00"]),
    ("sk < :v", "2026-12-01#S", ["2026-12-01#DAY"]),
    ("sk <= :v", "2026-12-01#S#10:00", ["2026-12-01#DAY", "2026-12-01#S#10:00"]),
    ("sk > :v", "2026-12-03#S#10:00", ["2026-12-03#S#11:00"]),
    ("sk >= :v", "2026-12-03#S#10:00", ["2026-12-03#S#10:00", "2026-12-03#S#11:00"]),
    ("sk = :v", "2026-12-02#DAY", ["2026-12-02#DAY"]),
])
def test_every_sort_key_condition(ddb, condition, value, expected):
    assert query(ddb, f"pk = :pk AND {condition}", {":v": {"S": value}}) == expected


def test_whole_partition_descending_with_pages(ddb):
    pages, start = [], None
    while True:
        kwargs = {"ExclusiveStartKey": start} if start else {}
        response = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk", ScanIndexForward=False, Limit=4,
                             ExpressionAttributeValues={":pk": {"S": "CAP#2026-12"}}, **kwargs)
        pages.append(sort_keys(response))
        start = response.get("LastEvaluatedKey")
        if start is None:
            break
    found = [sk for page in pages for sk in page]
    assert len(found) == 9 and found == sorted(found, reverse=True)
    assert [len(page) for page in pages][:2] == [4, 4]


def test_filter_and_projection_still_apply(ddb):
    response = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
                         FilterExpression="contains(sk, :slot)", ProjectionExpression="sk",
                         ExpressionAttributeValues={":pk": {"S": "CAP#2026-12"}, ":d": {"S": "2026-12-01"},
                                                    ":slot": {"S": "S#1"}})
    assert response["Items"] == [{"sk": {"S": "2026-12-01#S#10:00"}}, {"sk": {"S": "2026-12-01#S#11:00"}}]
    assert response["ScannedCount"] == 3


def test_unknown_partition_is_empty(ddb):
    assert ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": "CAP#1999-01"}})["Items"] == []


def test_numeric_sort_keys_compare_as_numbers(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    create(client, "numeric", sort_type="N")
    for n in (2, 10, 33, 100):
        client.put_item(TableName="numeric", Item={"pk": {"S": "p"}, "sk": {"N": str(n)}})
    response = client.query(TableName="numeric", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                            ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "3"}, ":b": {"N": "100"}})
    assert [item["sk"]["N"] for item in response["Items"]] == ["10", "33", "100"]


def test_table_without_sort_key(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    create(client, "hash-only", sort_type=None)
    client.put_item(TableName="hash-only", Item={"pk": {"S": "a"}, "v": {"S": "x"}})
    client.put_item(TableName="hash-only", Item={"pk": {"S": "b"}, "v": {"S": "y"}})
    response = client.query(TableName="hash-only", KeyConditionExpression="pk = :p",
                            ExpressionAttributeValues={":p": {"S": "b"}})
    assert response["Items"] == [{"pk": {"S": "b"}, "v": {"S": "y"}}]


def test_index_queries_are_moto_s_own(ddb):
    response = ddb.query(TableName=TABLE, IndexName="by_owner", KeyConditionExpression="#o = :o",
                         ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":o": {"S": "OTHER-DAY"}})
    assert sorted(item["sk"]["S"] for item in response["Items"]) == ["2026-12-01#DAY", "2026-12-02#DAY",
                                                                      "2026-12-03#DAY"]


def put(ddb, sk: str, **attributes) -> None:
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": "CAP#2026-12"}, "sk": {"S": sk}, **attributes})


def day(ddb, date: str) -> list[str]:
    return query(ddb, "pk = :pk AND sk BETWEEN :a AND :b", {":a": {"S": date}, ":b": {"S": f"{date}~"}})


def test_writes_after_a_query_are_seen_in_order(ddb):
    assert day(ddb, "2026-12-02") == ["2026-12-02#DAY", "2026-12-02#S#10:00", "2026-12-02#S#11:00"]
    put(ddb, "2026-12-02#S#10:30")
    ddb.update_item(TableName=TABLE, Key={"pk": {"S": "CAP#2026-12"}, "sk": {"S": "2026-12-02#M#a"}},
                    UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})
    ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": {
        "pk": {"S": "CAP#2026-12"}, "sk": {"S": "2026-12-02#A"}}}}]})
    assert day(ddb, "2026-12-02") == ["2026-12-02#A", "2026-12-02#DAY", "2026-12-02#M#a", "2026-12-02#S#10:00",
                                      "2026-12-02#S#10:30", "2026-12-02#S#11:00"]


def test_deleted_and_replaced_items_after_a_query(ddb):
    assert len(day(ddb, "2026-12-01")) == 3
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "CAP#2026-12"}, "sk": {"S": "2026-12-01#S#10:00"}})
    put(ddb, "2026-12-01#DAY", n={"N": "5"})
    put(ddb, "2026-12-01#S#09:00")
    response = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
                         ExpressionAttributeValues={":pk": {"S": "CAP#2026-12"}, ":d": {"S": "2026-12-01"}})
    assert sort_keys(response) == ["2026-12-01#DAY", "2026-12-01#S#09:00", "2026-12-01#S#11:00"]
    assert response["Items"][0]["n"] == {"N": "5"}


def test_a_cancelled_transaction_leaves_no_key_behind(ddb):
    from botocore.exceptions import ClientError

    assert len(day(ddb, "2026-12-03")) == 3
    new_lock = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "CAP#2026-12"}, "sk": {"S": "2026-12-03#M#b"}},
                        "ConditionExpression": "attribute_not_exists(pk)"}}
    taken = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "CAP#2026-12"}, "sk": {"S": "2026-12-03#DAY"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[new_lock, taken])
    assert day(ddb, "2026-12-03") == ["2026-12-03#DAY", "2026-12-03#S#10:00", "2026-12-03#S#11:00"]


def test_a_projection_never_changes_the_stored_items(ddb):
    projected = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk", ProjectionExpression="sk",
                          ExpressionAttributeValues={":pk": {"S": "CAP#2026-12"}})["Items"]
    assert all(set(item) == {"sk"} for item in projected)
    full = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": "CAP#2026-12"}})["Items"]
    assert all(set(item) == {"pk", "sk", "n", "owner"} for item in full)


def test_a_query_never_walks_the_table(ddb, monkeypatch):
    """The cost of a table query is its partition: the list of every item of the table is never built."""
    from devtools import moto_query

    for i in range(200):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"filler-{i}"}, "sk": {"S": "x"}})
    walked = []
    real_walk = moto_query._walk_table
    monkeypatch.setattr(moto_query, "_walk_table", lambda table: walked.append(table.name) or real_walk(table))
    assert query(ddb, "pk = :pk AND begins_with(sk, :d)", {":d": {"S": "2026-12-01#DAY"}}) == ["2026-12-01#DAY"]
    assert walked == []
    ddb.scan(TableName=TABLE, Limit=1)  # a scan does walk it: the hook sees table walks
    assert walked == [TABLE]
