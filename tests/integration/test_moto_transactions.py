"""TransactWriteItems as the local stack and the tests run it (devtools/moto_transactions.py, installed by
tests/conftest.py): DynamoDB's all-or-nothing semantics, at a cost that does not depend on the table's size."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import pk_sk_table

TABLE = "tx-contract"


@pytest.fixture
def ddb(aws):
    return pk_sk_table(TABLE)


def key(pk: str, sk: str = "x") -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def counter(ddb, pk: str) -> int | None:
    item = ddb.get_item(TableName=TABLE, Key=key(pk), ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item else None


def increment(pk: str, limit: int) -> dict:
    return {"Update": {"TableName": TABLE, "Key": key(pk), "UpdateExpression": "ADD n :one",
                       "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                       "ExpressionAttributeValues": {":one": {"N": "1"}, ":limit": {"N": str(limit)}}}}


def cancellation(error: ClientError) -> list[str]:
    return [reason["Code"] for reason in error.response["CancellationReasons"]]


def test_all_items_are_written_when_every_condition_holds(ddb):
    ddb.transact_write_items(TransactItems=[increment("a", 5), increment("b", 5),
                                            {"Put": {"TableName": TABLE, "Item": {**key("c"), "v": {"S": "new"}},
                                                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    assert (counter(ddb, "a"), counter(ddb, "b")) == (1, 1)
    assert ddb.get_item(TableName=TABLE, Key=key("c"))["Item"]["v"] == {"S": "new"}


def test_one_failed_condition_writes_nothing_and_names_the_item_in_order(ddb):
    ddb.put_item(TableName=TABLE, Item={**key("full"), "n": {"N": "3"}})
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[increment("a", 5), increment("full", 3), increment("b", 5)])
    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert cancellation(caught.value) == ["None", "ConditionalCheckFailed", "None"]
    assert (counter(ddb, "a"), counter(ddb, "full"), counter(ddb, "b")) == (None, 3, None)


def test_condition_check_failure_can_return_the_item(ddb):
    ddb.put_item(TableName=TABLE, Item={**key("v"), "version": {"N": "7"}})
    check = {"ConditionCheck": {"TableName": TABLE, "Key": key("v"), "ConditionExpression": "version = :v",
                                "ExpressionAttributeValues": {":v": {"N": "6"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[increment("a", 5), check])
    reason = caught.value.response["CancellationReasons"][1]
    assert reason["Code"] == "ConditionalCheckFailed" and reason["Item"]["version"] == {"N": "7"}
    assert counter(ddb, "a") is None


def test_two_operations_on_one_item_are_refused(ddb):
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[increment("a", 5), increment("a", 5)])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert counter(ddb, "a") is None


def test_a_write_that_fails_after_the_checks_restores_the_items_already_written(ddb):
    ddb.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
    ddb.put_item(TableName=TABLE, Item={**key("s"), "n": {"S": "not a number"}})
    bad_add = {"Update": {"TableName": TABLE, "Key": key("s"), "UpdateExpression": "ADD n :one",
                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[increment("a", 5), increment("fresh", 5), bad_add])
    assert caught.value.response["Error"]["Code"] in ("TransactionCanceledException", "ValidationException")
    assert counter(ddb, "a") == 1 and counter(ddb, "fresh") is None


def test_a_transaction_copies_no_table(ddb, monkeypatch):
    """The cost of a transaction is the items it touches: no table is copied, however large."""
    import copy

    from moto.dynamodb.models.table import Table

    for i in range(200):
        ddb.put_item(TableName=TABLE, Item=key(f"filler-{i}"))
    real_deepcopy = copy.deepcopy

    def deepcopy(value, *args, **kwargs):
        assert not isinstance(value, Table), "a whole table was copied"
        return real_deepcopy(value, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", deepcopy)
    ddb.transact_write_items(TransactItems=[increment("a", 5), increment("b", 5)])
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[increment("a", 1), increment("c", 5)])
    assert (counter(ddb, "a"), counter(ddb, "b"), counter(ddb, "c")) == (1, 1, None)
