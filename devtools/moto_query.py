"""DynamoDB Query for the local stack and the tests that costs what it returns, not the table size.

moto 5's `Table.query` on a table (not an index) walks every item of the table to find the ones with the
queried partition key, sorts that whole partition with Python-level comparisons, checks the sort key condition
on each item and deep-copies what it returns. The capacity table keeps a month of counters and member cell
locks in one partition, and a booking reads a whole day of it (least-loaded ordering, the realtime push): with
10,000 bookings, profiling the moto server under load showed most of its time in `Table.all_items`,
`DynamoType.__eq__`/`__lt__`, that per-item condition check and `copy.deepcopy`.

`install()` keeps the sort keys of each queried string-keyed partition in order (kept up to date as items are
added, dropped when one is deleted) and hands moto's own query code only the items the sort key condition can
match, found by bisection, in sort key order. moto still does everything else (condition, direction, limits,
pagination, filters, projections, response size), so the answers do not change. Results are copied only when a
projection is applied to them: moto copies them so that projecting cannot alter the stored items, and nothing
else modifies them on the way out. Index queries are untouched.
"""
from __future__ import annotations

import bisect
import copy
import inspect
import threading
from dataclasses import dataclass, field
from typing import Any

import moto.dynamodb.models.table as moto_table
from moto.dynamodb.comparisons import get_comparison_func
from moto.dynamodb.models.table import Table

# The call in progress on this thread: the partition handed to moto's query, and whether its results may be
# returned without a copy.
_call = threading.local()
_walk_table = Table.all_items  # moto's own: every item of the table (scans and index queries need it)
_SORTED_PARTITIONS = "_sorted_partitions"  # per-table attribute: partition key -> SortedPartition


@dataclass
class SortedPartition:
    """The string sort keys of one partition, in order, with their DynamoType keys for lookups."""
    values: list[str] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)

    def add(self, key: Any) -> None:
        position = bisect.bisect_left(self.values, key.value)
        self.values.insert(position, key.value)
        self.keys.insert(position, key)

    def between(self, low: str | None, high: str | None, include_low: bool = True,
                include_high: bool = True) -> list[Any]:
        first = 0 if low is None else (bisect.bisect_left if include_low else bisect.bisect_right)(self.values, low)
        last = len(self.values) if high is None else (
            bisect.bisect_right if include_high else bisect.bisect_left)(self.values, high)
        return self.keys[first:last]

    def with_prefix(self, prefix: str) -> list[Any]:
        first = last = bisect.bisect_left(self.values, prefix)
        while last < len(self.values) and self.values[last].startswith(prefix):
            last += 1
        return self.keys[first:last]


class _CopyOnlyWhatProjectionChanges:
    """moto's table module's `copy`, except that query results returned without projection are not copied."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if getattr(_call, "results_unchanged", False) and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


def install() -> None:
    """Patch moto's DynamoDB table query (idempotent)."""
    if getattr(Table.query, "_partition_only", False):
        return
    original_query, original_put, original_delete = Table.query, Table.put_item, Table.delete_item
    signature = inspect.signature(original_query)

    def all_items(self: Table) -> list:
        narrowed = getattr(_call, "partition", None)
        if narrowed is not None and narrowed[0] is self:
            return narrowed[1]
        return _walk_table(self)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        call.apply_defaults()
        arguments = call.arguments
        if arguments["index_name"] or arguments["hash_key"] is None:
            return original_query(self, *args, **kwargs)
        _call.partition = (self, partition_items(self, arguments))
        _call.results_unchanged = not arguments["projection_expressions"]
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _call.partition = None
            _call.results_unchanged = False

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        sorted_partitions = self.__dict__.get(_SORTED_PARTITIONS)
        item = original_put(self, *args, **kwargs)
        if sorted_partitions and item.hash_key in sorted_partitions:
            known = sorted_partitions[item.hash_key]
            if len(known.keys) != len(self.items[item.hash_key]):  # a new sort key, not a replaced item
                known.add(item.range_key)
        return item

    def delete_item(self: Table, hash_key: Any, range_key: Any) -> Any:
        item = original_delete(self, hash_key, range_key)
        if item is not None:
            self.__dict__.get(_SORTED_PARTITIONS, {}).pop(hash_key, None)  # rebuilt by the next query
        return item

    query._partition_only = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    moto_table.copy = _CopyOnlyWhatProjectionChanges()  # type: ignore[assignment]


def partition_items(table: Table, arguments: dict[str, Any]) -> list:
    """The items of the queried partition that can match the sort key condition, in sort key order."""
    partition = table.items.get(arguments["hash_key"])
    if partition is None:
        return []
    if not table.has_range_key:
        return [partition]
    comparison, targets = arguments["range_comparison"], arguments["range_objs"]
    conditions = arguments.get("range_key_conditions") or []
    on_sort_key = comparison is not None and (not conditions or conditions[-1][0] == table.range_key_attr)
    if table.range_key_type != "S" or not all(target.type == "S" for target in targets):
        items = list(partition.values())
        return [item for item in items if item.range_key.compare(comparison, targets)] if on_sort_key else items
    ordered = _sorted_keys(table, arguments["hash_key"], partition)
    keys = _matching(ordered, comparison, [target.value for target in targets]) if on_sort_key else ordered.keys
    return [partition[key] for key in keys]


def _sorted_keys(table: Table, hash_key: Any, partition: dict) -> SortedPartition:
    sorted_partitions = table.__dict__.setdefault(_SORTED_PARTITIONS, {})
    known = sorted_partitions.get(hash_key)
    if known is None or len(known.keys) != len(partition):
        ordered = sorted(partition, key=lambda key: key.value)
        known = sorted_partitions[hash_key] = SortedPartition([key.value for key in ordered], ordered)
    return known


# Sort key conditions as ranges of the sorted keys: (low, high, low included, high included); None = open.
_RANGES = {
    "EQ": lambda v: (v[0], v[0], True, True), "LT": lambda v: (None, v[0], True, False),
    "LE": lambda v: (None, v[0], True, True), "GT": lambda v: (v[0], None, False, True),
    "GE": lambda v: (v[0], None, True, True), "BETWEEN": lambda v: (v[0], v[1], True, True),
}
_RANGES.update({"=": _RANGES["EQ"], "<": _RANGES["LT"], "<=": _RANGES["LE"], ">": _RANGES["GT"],
                ">=": _RANGES["GE"]})


def _matching(ordered: SortedPartition, comparison: str, values: list[str]) -> list[Any]:
    """The keys matching a sort key condition, found by bisection; moto's own comparison for any other."""
    if comparison == "BEGINS_WITH":
        return ordered.with_prefix(values[0])
    if comparison in _RANGES:
        low, high, include_low, include_high = _RANGES[comparison](values)
        if low is not None and high is not None and low > high:
            return []
        return ordered.between(low, high, include_low, include_high)
    condition = get_comparison_func(comparison)
    return [key for key, value in zip(ordered.keys, ordered.values) if condition(value, *values)]
