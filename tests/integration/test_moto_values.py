"""The local DynamoDB's direct sizes and comparison values (devtools/moto_values.py) equal moto's own for every
attribute type, so the 1 MB page and 400 KB item limits fall where they did and keys order as they did."""
from __future__ import annotations

from decimal import Decimal

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from devtools import moto_values

VALUES = [
    {"S": ""}, {"S": "plain"}, {"S": "zoë 東京 🚀"}, {"N": "0"}, {"N": "-12.5e3"}, {"N": "123456789012345678901234"},
    {"B": b"\x00\xff\x10"}, {"B": "c3RvcmVk"}, {"BOOL": True}, {"BOOL": False}, {"NULL": True},
    {"SS": ["a", "ë"]}, {"NS": ["1", "2.50"]}, {"BS": [b"\x01", b"\x02\x03"]},
    {"L": [{"S": "x"}, {"N": "7"}, {"M": {"k": {"S": "zoë"}}}]},
    {"M": {"doc": {"S": "{\"a\": 1}"}, "n": {"N": "3"}, "inner": {"L": [{"BOOL": True}]}}},
]


@pytest.mark.parametrize("value", VALUES, ids=[next(iter(v)) + str(i) for i, v in enumerate(VALUES)])
def test_every_type_measures_what_moto_measures(value):
    assert moto_values.size(DynamoType(value)) == moto_values.moto_size(DynamoType(value))


@pytest.mark.parametrize("value", VALUES, ids=[next(iter(v)) + str(i) for i, v in enumerate(VALUES)])
def test_every_type_compares_as_moto_compares_it(value):
    assert moto_values.cast_value(DynamoType(value)) == moto_values.moto_cast_value(DynamoType(value))


def test_string_keys_order_and_match_conditions_as_before():
    keys = [DynamoType({"S": s}) for s in ("2026-12-01#T#b", "2026-12-01#T#a", "2026-12-01~", "2026-11-30")]
    assert [k.value for k in sorted(keys)] == ["2026-11-30", "2026-12-01#T#a", "2026-12-01#T#b", "2026-12-01~"]
    low, high = DynamoType({"S": "2026-12-01"}), DynamoType({"S": "2026-12-01~"})
    assert [k.compare("BETWEEN", [low, high]) for k in keys] == [True, True, True, False]
    assert DynamoType({"S": "x"}) != DynamoType({"B": b"x"})  # same text, other type


def test_a_number_given_as_a_number_measures_what_moto_measures():
    for number in (Decimal("12.50"), 7, 1.5):
        assert moto_values.size(DynamoType({"N": number})) == moto_values.moto_size(DynamoType({"N": number}))


def test_the_installed_ones_are_the_direct_ones_and_items_add_up_the_same():
    # tests/conftest.py installs them, as the local stack does
    assert DynamoType.size is moto_values.size and DynamoType.cast_value.fget is moto_values.cast_value
    attrs = {f"a{i}": value for i, value in enumerate(VALUES)}
    item = Item(DynamoType({"S": "pk"}), None, attrs)
    assert item.size() == sum(len(k.encode()) + moto_values.moto_size(v) for k, v in item.attrs.items())
