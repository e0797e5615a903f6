"""DynamoDB item values written into moto's JSON responses directly, for the local stack and the tests.

moto 5 serializes every response by walking botocore's output shape, member by member, through attribute
pickers. For DynamoDB that walk reaches every attribute of every returned item: under booking load, with the
realtime push reading a whole day of capacity counters per booking, profiling showed about two thirds of the
moto server's time in serializing Query results.

Item values are already DynamoDB JSON in moto's results (`{"S": ...}`, `{"N": ...}`, nested `M`/`L`, binary as
raw bytes), so `install()` writes attribute maps and attribute values as they are, base64-encoding binary
values as the shape walk does. The items of a Query or Scan page are converted from moto's stored values to
that wire form in one pass (moto first converts them to plain values, decoding binary, then the serializer
encodes them again). Every other part of every response still goes through moto's serializer.
"""
from __future__ import annotations

import base64
from typing import Any

from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.utilities import dynamo_to_dict
from moto.dynamodb.responses import DynamoResult

ATTRIBUTE_VALUE = "AttributeValue"  # botocore's DynamoDB (and DynamoDB Streams) shape of one item value

moto_serialize = BaseJSONSerializer._serialize  # moto's own shape walk
moto_result_init = DynamoResult.__init__  # moto's own conversion of a result to plain values


class WireItem(dict):
    """An item already in its wire form: written into the response as it is."""


def install() -> None:
    """Patch moto's JSON response serializer (idempotent)."""
    if getattr(BaseJSONSerializer._serialize, "_items_as_they_are", False):
        return

    def _serialize(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if isinstance(value, WireItem):
            self._default_serialize(serialized, value, shape, key)
            return
        if isinstance(value, dict):
            if shape.name == ATTRIBUTE_VALUE:
                self._default_serialize(serialized, attribute_value(value), shape, key)
                return
            if shape.type_name == "map" and getattr(shape.value, "name", None) == ATTRIBUTE_VALUE:
                self._default_serialize(serialized, attribute_map(value), shape, key)
                return
        moto_serialize(self, serialized, value, shape, key)

    def result_init(self: DynamoResult, result: object) -> None:
        items = result.get("Items") if isinstance(result, dict) else None
        if not isinstance(items, list):
            moto_result_init(self, result)
            return
        moto_result_init(self, {name: value for name, value in result.items() if name != "Items"})
        self.result["Items"] = [WireItem(stored_map(attributes)) for attributes in items]  # type: ignore[index]

    _serialize._items_as_they_are = True  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize = _serialize  # type: ignore[method-assign]
    DynamoResult.__init__ = result_init  # type: ignore[method-assign]


def attribute_map(values: dict[str, Any]) -> dict[str, Any]:
    return {name: attribute_value(value) for name, value in values.items()}


def attribute_value(value: dict[str, Any]) -> dict[str, Any]:
    """One DynamoDB value as it goes on the wire: binary base64-encoded, maps and lists recursively."""
    out: dict[str, Any] = {}
    for kind, inner in value.items():
        if inner is None:
            continue
        if kind == "B":
            out[kind] = _base64(inner)
        elif kind == "BS":
            out[kind] = [_base64(item) for item in inner]
        elif kind == "M":
            out[kind] = attribute_map(inner)
        elif kind == "L":
            out[kind] = [attribute_value(item) for item in inner]
        elif kind in ("S", "N"):
            out[kind] = str(inner)
        elif kind in ("SS", "NS"):
            out[kind] = [str(item) for item in inner]
        else:  # BOOL, NULL
            out[kind] = inner
    return out


def stored_map(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: stored_value(value) for name, value in attributes.items()}


def stored_value(value: Any) -> dict[str, Any]:
    """One value as moto stores it (DynamoType; binary as base64 text from the wire, or raw bytes) in wire form."""
    if not isinstance(value, DynamoType):
        return attribute_value(dynamo_to_dict(value))
    kind, inner = value.type, value.value
    if kind == "M":
        return {kind: stored_map(inner)}
    if kind == "L":
        return {kind: [stored_value(item) for item in inner]}
    if kind == "B":
        return {kind: _base64(inner) if isinstance(inner, bytes) else inner}
    if kind == "BS":
        return {kind: [_base64(item) if isinstance(item, bytes) else item for item in inner]}
    return {kind: inner}


def _base64(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("utf-8")
