"""Admin lists over sparse indexes (each page reads what it returns): a team's capacity overrides
(models.OverridesIndex) and the requests the reconciliation flagged (models.FlaggedIndex); and clearing an
override, with its audit entry in the same transaction."""
from __future__ import annotations

from typing import Any, Callable

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.booking_repository import from_item
from chalicelib.adapters.dynamodb.catalog_admin_repository import _AuditTx
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor, invalid_cursor
from chalicelib.adapters.dynamodb.errors import commit_transaction, translated
from chalicelib.adapters.dynamodb.job_keys import FLAGGED_PARTITION
from chalicelib.adapters.dynamodb.models import CapacityCounter, ServiceRequestItem
from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.errors import NotFound


def _checked(cursor: str | None, attribute: str, value: str) -> dict | None:
    start = decode_cursor(cursor)
    if start is not None and start.get(attribute) != {"S": value}:
        raise invalid_cursor()  # another list's cursor
    return start


class DynamoAdminLookups:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    def overrides(self, team_id: str, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
        start = _checked(cursor, "overrideTeam", team_id)
        with translated(cursor):
            result = CapacityCounter.overrides.query(team_id, limit=limit, last_evaluated_key=start)
            items = [{"teamId": team_id, "date": item.sk.split("#", 1)[0], "limit": int(item.limitOverride),
                      "reason": item.overrideReason or "", "booked": int(item.count or 0)} for item in result]
            return items, encode_cursor(result.last_evaluated_key)

    def flagged(self, cursor: str | None, limit: int) -> tuple[list[ServiceRequest], str | None]:
        start = _checked(cursor, "flaggedKey", FLAGGED_PARTITION)
        with translated(cursor):
            result = ServiceRequestItem.flagged.query(FLAGGED_PARTITION, limit=limit, last_evaluated_key=start)
            items = [from_item(item) for item in result]
            return items, encode_cursor(result.last_evaluated_key)

    def clear_override(self, team_id: str, local_date: str, audit: Callable[[Any], None]) -> None:
        """Remove the day's override (its bookings count stays), with the audit entry; NotFound if none is set."""
        if self._connection is None:
            self._connection = Connection(host=CapacityCounter.Meta.host, region=CapacityCounter.Meta.region)
        tx = TransactWrite(connection=self._connection)
        C = CapacityCounter
        tx.update(C(*keys.team_day_key(team_id, local_date)), condition=C.limitOverride.exists(),
                  actions=[C.limitOverride.remove(), C.overrideReason.remove(), C.overrideTeam.remove()])
        audit(_AuditTx(tx))
        # only the update has a condition
        commit_transaction(tx, lambda: NotFound(details={"teamId": team_id, "date": local_date}))
