"""What a migration step is (devtools.migrations)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

UPDATED, UNCHANGED, CHANGED_MEANWHILE, UNREADABLE = "updated", "unchanged", "changed-meanwhile", "unreadable"


@dataclass(frozen=True)
class Step:
    name: str  # stable: keys the checkpoint
    summary: str
    # (start key or None, page size) -> (items of one page, the next page's start key or None after the last)
    read_page: Callable[[dict | None, int], tuple[list[Any], dict | None]]
    # one item -> UPDATED | UNCHANGED | CHANGED_MEANWHILE (a concurrent write already wrote the new layout) | ...
    apply: Callable[[Any], str]


def condition_failed(exc: BaseException) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def set_unless_changed(item: Any, model: Any, wanted: dict[str, Any], condition: Any) -> str:
    """Write `wanted` onto `item` only while `condition` (the fields the values derive from are as read) holds:
    UPDATED, or CHANGED_MEANWHILE when a write since the read stored its own (current) values."""
    from pynamodb.exceptions import UpdateError

    try:
        item.update(actions=[getattr(model, name).set(value) for name, value in wanted.items()], condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            return CHANGED_MEANWHILE
        raise
    return UPDATED
