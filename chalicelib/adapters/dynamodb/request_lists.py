"""The admin list of service requests: every filter combination is one key condition on one index.

The equality filters (team, status, payment status) pick an index whose partition key is exactly those values
(`models.ByTeamStatusIndex` & co.: `<team>#<status>`, ...); the start range is a condition on its sort key
`<start>#<id>`. So a page reads at most `limit` items, whatever else the table holds. With no equality filter
the by_status index is walked status by status (at most one Query per status, `limit` items in all).

Cursors are DynamoDB start keys (tagged, see cursors.py). A start key is accepted only for the query it was
issued for: the index's key attributes and no other, the same partition value, a sort key inside the range;
anything else answers 400 before DynamoDB is asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamodb.cursors import decode_cursor, decode_cursor_state, encode_cursor, invalid_cursor, \
    is_start_key
from chalicelib.adapters.dynamodb.errors import translated
from chalicelib.adapters.dynamodb.models import ServiceRequestItem
from chalicelib.domain.booking import Status

RANGE_END = "~"  # sorts after every `#<id>` suffix: a `to` bound includes requests starting at that instant


def list_keys(team_id: str, status: str, payment_status: str) -> dict[str, str]:
    """The composite index keys an item carries (to_item and the backfill both write these)."""
    return {"teamStatus": f"{team_id}#{status}", "teamPayment": f"{team_id}#{payment_status}",
            "statusPayment": f"{status}#{payment_status}",
            "teamStatusPayment": f"{team_id}#{status}#{payment_status}"}


# (team given, status given, payment given) -> (index, name of its partition attribute)
_INDEXES: dict[tuple[bool, bool, bool], tuple[Any, str]] = {
    (True, False, False): (ServiceRequestItem.by_team, "teamId"),
    (False, True, False): (ServiceRequestItem.by_status, "status"),
    (False, False, True): (ServiceRequestItem.by_payment_status, "paymentStatus"),
    (True, True, False): (ServiceRequestItem.by_team_status, "teamStatus"),
    (True, False, True): (ServiceRequestItem.by_team_payment, "teamPayment"),
    (False, True, True): (ServiceRequestItem.by_status_payment, "statusPayment"),
    (True, True, True): (ServiceRequestItem.by_team_status_payment, "teamStatusPayment"),
}


@dataclass(frozen=True)
class StartRange:
    low: str | None  # ISO UTC, inclusive
    high: str | None  # ISO UTC, inclusive (of every request starting at that instant)

    def condition(self) -> Any:
        key = ServiceRequestItem.startKey
        if self.low and self.high:
            return key.between(self.low, self.high + RANGE_END)
        if self.low:
            return key >= self.low
        if self.high:
            return key <= self.high + RANGE_END
        return None

    def holds(self, start_key: str) -> bool:
        return (self.low is None or start_key >= self.low) and (self.high is None or start_key <= self.high + RANGE_END)


def admin_list(*, status: str | None, payment_status: str | None, team_id: str | None, start_from: str | None,
               start_to: str | None, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Items (ServiceRequestItem) of one page and the next page's cursor."""
    span = StartRange(start_from, start_to)
    if not (team_id or status or payment_status):
        return _walk_statuses(span, cursor, limit)
    index, attribute = _INDEXES[(bool(team_id), bool(status), bool(payment_status))]
    hash_value = "#".join(v for v in (team_id, status, payment_status) if v)
    start_key = decode_cursor(cursor)
    if start_key is not None:
        _check_start_key(start_key, attribute, hash_value, span)
    with translated(cursor):
        result = index.query(hash_value, span.condition(), limit=limit, last_evaluated_key=start_key)
        items = list(result)
        return items, encode_cursor(result.last_evaluated_key)


def _walk_statuses(span: StartRange, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    statuses = [s.value for s in Status]
    index, key = _walk_state(cursor, statuses, span)
    out: list[Any] = []
    with translated(cursor):
        while index < len(statuses) and len(out) < limit:
            result = ServiceRequestItem.by_status.query(statuses[index], span.condition(), limit=limit - len(out),
                                                        last_evaluated_key=key)
            out.extend(result)
            key = result.last_evaluated_key
            if key is None:
                index += 1
    if index >= len(statuses):
        return out, None
    return out, encode_cursor({"s": index, "k": key})


def _walk_state(cursor: str | None, statuses: list[str], span: StartRange) -> tuple[int, dict | None]:
    """(status index, start key) of a status walk's cursor; ValidationFailed unless this API could have issued it
    for this query."""
    if not cursor:
        return 0, None
    state = decode_cursor_state(cursor)
    index, key = state.get("s"), state.get("k")
    if set(state) != {"s", "k"} or type(index) is not int or not 0 <= index < len(statuses):
        raise invalid_cursor()
    if key is not None:
        if not is_start_key(key):
            raise invalid_cursor()
        _check_start_key(key, "status", statuses[index], span)
    return index, key


def _check_start_key(key: dict, attribute: str, hash_value: str, span: StartRange) -> None:
    """A start key of this index's partition `hash_value`, inside the range (DynamoDB would judge a key from
    another index or partition differently, or not at all)."""
    names = {"id", attribute, "startKey"}
    if set(key) != names or any(set(key[name]) != {"S"} for name in names):
        raise invalid_cursor()
    if key[attribute]["S"] != hash_value or not span.holds(key["startKey"]["S"]):
        raise invalid_cursor()
