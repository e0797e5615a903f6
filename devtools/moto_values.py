"""String and number attribute values sized and compared by moto without a dispatch chain, for the local stack and
the tests.

moto measures items all the time (every returned Query item twice, for the 1 MB page limit; a whole item on
every attribute it sets, for the 400 KB item limit) and compares sort keys through `cast_value` (the key
condition on every candidate item, then sorting the page). Both try number, set, list, map (and null) in turn
before they reach the common case, a string. Profiling the local stack's moto server under booking load put
about two fifths of its time in these two. `install()` answers strings (and, for sizes, numbers) directly, with
the same results, and leaves every other type to moto.
"""
from __future__ import annotations

from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType

moto_size = DynamoType.size
moto_cast_value = DynamoType.cast_value.fget


def install() -> None:
    """Patch moto's DynamoType.size and DynamoType.cast_value (idempotent)."""
    if getattr(DynamoType.size, "_direct", False):
        return
    size._direct = True  # type: ignore[attr-defined]
    DynamoType.size = size
    DynamoType.cast_value = property(cast_value)


def size(value: DynamoType) -> int:
    kind = value.type
    if kind == "S" and type(value.value) is str:
        return len(value.value.encode("utf-8"))
    if kind == "N":
        return len(str(value.value))
    return moto_size(value)


def cast_value(value: DynamoType) -> Any:
    if value.type == "S":
        return value.value
    return moto_cast_value(value)
