"""DynamoDB responses as the local stack and the tests serialize them (devtools/moto_responses.py, installed by
tests/conftest.py): every item-returning operation answers exactly what moto's own shape walk answers, for
every attribute type."""
from __future__ import annotations

import pytest

from devtools import moto_responses
from tests.integration.conftest import pk_sk_table

TABLE = "responses-contract"
KEY = {"pk": {"S": "p"}, "sk": {"S": "a"}}
EVERY_TYPE = {
    **KEY,
    "text": {"S": "héllo"}, "empty": {"S": ""}, "number": {"N": "-12.50"}, "binary": {"B": b"\x00\xffraw"},
    "strings": {"SS": ["x", "y"]}, "numbers": {"NS": ["1", "2.5"]}, "binaries": {"BS": [b"\x01", b"\x02"]},
    "flag": {"BOOL": False}, "nothing": {"NULL": True}, "empty_map": {"M": {}}, "empty_list": {"L": []},
    "nested": {"M": {"list": {"L": [{"S": "in"}, {"N": "7"}, {"B": b"\x03"}, {"M": {"deep": {"BOOL": True}}}]}}},
}


@pytest.fixture
def ddb(aws):
    client = pk_sk_table(TABLE)
    client.put_item(TableName=TABLE, Item=EVERY_TYPE)
    client.put_item(TableName=TABLE, Item={"pk": {"S": "p"}, "sk": {"S": "b"}, "binary": {"B": b"\x10"}})
    return client


READS = {
    "get_item": lambda c: c.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True),
    "query_page": lambda c: c.query(TableName=TABLE, KeyConditionExpression="pk = :p", Limit=1,
                                    ExpressionAttributeValues={":p": {"S": "p"}}, ReturnConsumedCapacity="TOTAL"),
    "scan": lambda c: c.scan(TableName=TABLE),
    "batch_get": lambda c: c.batch_get_item(RequestItems={TABLE: {"Keys": [KEY]}}),
    "transact_get": lambda c: c.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": KEY}}]),
    "update_returning_item": lambda c: c.update_item(TableName=TABLE, Key=KEY, UpdateExpression="SET flag = :f",
                                                     ExpressionAttributeValues={":f": {"BOOL": False}},
                                                     ReturnValues="ALL_NEW"),
}


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


@pytest.mark.parametrize("operation", sorted(READS))
def test_same_answer_as_moto_s_own_serializer(ddb, operation, monkeypatch):
    fast = without_metadata(READS[operation](ddb))
    from moto.core.serialize import BaseJSONSerializer
    from moto.dynamodb.responses import DynamoResult
    monkeypatch.setattr(BaseJSONSerializer, "_serialize", moto_responses.moto_serialize)
    monkeypatch.setattr(DynamoResult, "__init__", moto_responses.moto_result_init)
    assert fast == without_metadata(READS[operation](ddb))


def test_every_attribute_type_round_trips(ddb):
    assert ddb.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)["Item"] == EVERY_TYPE
    page = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p", Limit=1,
                     ExpressionAttributeValues={":p": {"S": "p"}})
    assert page["LastEvaluatedKey"] == KEY


def test_errors_are_moto_s_own(ddb):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        ddb.put_item(TableName=TABLE, Item=EVERY_TYPE, ConditionExpression="attribute_not_exists(pk)",
                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert caught.value.response["Item"] == EVERY_TYPE


def test_item_values_skip_the_shape_walk(ddb, monkeypatch):
    """The cost of an item in a response is one conversion, not a walk through botocore's shapes."""
    walked = []
    real_walk = moto_responses.moto_serialize

    def walk(serializer, serialized, value, shape, key):
        walked.append(shape.name)
        real_walk(serializer, serialized, value, shape, key)

    monkeypatch.setattr(moto_responses, "moto_serialize", walk)
    ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert walked and moto_responses.ATTRIBUTE_VALUE not in walked and "AttributeMap" not in walked
