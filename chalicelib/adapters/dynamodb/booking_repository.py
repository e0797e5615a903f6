"""Service requests and their capacity, in DynamoDB.

Every capacity change is one TransactWriteItems: the request item, the team-day item (day count, slot-cell
counts, the catalog fence that makes a booking planned from a stale cached catalog fail) and the member-day item
(the member's busy cells and day load); capacity_store.py builds those actions. The database decides; nothing is
checked by reading first. Request writes are conditional on `rev` (optimistic concurrency).
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable, Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import capacity_store, job_keys, keys, request_lists, revenue_ledger
from chalicelib.adapters.dynamodb.connection import SharedConnection
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.errors import cancellation_codes, resend_while_contended, response_code, translated
from chalicelib.adapters.dynamodb.models import ServiceRequestItem
from chalicelib.domain import codec, revenue
from chalicelib.observability import logger
from chalicelib.domain.availability import CapacityPlan, CounterSnapshot
from chalicelib.domain.booking import OPEN_PAYMENT, ServiceRequest, Status
from chalicelib.domain.errors import SlotFull, TeamDayFull
from chalicelib.services.ports import ExtraActionFailed as PortExtraActionFailed
from chalicelib.services.ports import MemberBusy, StaleCatalog, StaleRevision

FAILED = "ConditionalCheckFailed"


def to_item(request: ServiceRequest, rev: int) -> ServiceRequestItem:
    doc = codec.request_to_doc(request)
    start = doc["start"]
    reminder_due = request.status is Status.CONFIRMED and len(request.reminders_sent) < 2
    return ServiceRequestItem(
        request.id, userId=request.user_id, createdKey=f"{doc['createdAt']}#{request.id}",
        status=request.status.value, startKey=f"{start}#{request.id}", teamId=request.placement.team_id,
        paymentStatus=request.payment_status.value,
        paymentOpen=request.payment_status.value if request.payment_status in OPEN_PAYMENT else None,
        updatedAt=doc["updatedAt"], reminderBucket=start[:13] if reminder_due else None,
        seriesId=request.series_id, paymentRef=request.payment.payment_intent_id or request.payment.session_id,
        sequence=request.sequence, rev=rev, doc=doc, **job_keys.job_index_attributes(request),
        **request_lists.list_keys(request.placement.team_id, request.status.value, request.payment_status.value))


def from_item(item: ServiceRequestItem) -> ServiceRequest:
    return codec.request_from_doc({**item.doc, "revision": int(item.rev or 0)})


class _Tx:
    """Collects transaction actions with labels, in the order pynamodb sends them (condition checks,
    deletes, puts, updates), so cancellation reasons can be mapped back to what failed."""

    def __init__(self, connection: Connection) -> None:
        self.tx = TransactWrite(connection=connection)
        self.groups: dict[str, list[str]] = {"check": [], "delete": [], "put": [], "update": []}
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:  # runs once committed; never when cancelled
        self._after_commit.append(callback)

    def check(self, label: str, *args: Any, **kw: Any) -> None:
        self.groups["check"].append(label)
        self.tx.condition_check(*args, **kw)

    def delete(self, label: str, *args: Any, **kw: Any) -> None:
        self.groups["delete"].append(label)
        self.tx.delete(*args, **kw)

    def put(self, label: str, *args: Any, **kw: Any) -> None:
        self.groups["put"].append(label)
        self.tx.save(*args, **kw)

    def update(self, label: str, *args: Any, **kw: Any) -> None:
        self.groups["update"].append(label)
        self.tx.update(*args, **kw)

    def labels(self) -> list[str]:
        return [label for group in ("check", "delete", "put", "update") for label in self.groups[group]]

    def commit(self) -> None:
        """Raises TransactWriteError; map it with `failed_labels`."""
        with self.tx:  # TransactWrite commits on a clean exit
            pass
        for callback in self._after_commit:
            callback()

    def failed_labels(self, exc: BaseException) -> set[str]:
        codes = cancellation_codes(exc)
        return {label for label, code in zip(self.labels(), codes) if code == FAILED}


class DynamoServiceRequestRepository:
    def __init__(self, endpoint: str | None, region: str, sleep: Callable[[float], None] | None = None) -> None:
        self._connection = SharedConnection(endpoint, region)
        self.sleep = sleep  # backoff of re-sent transactions

    def _tx(self) -> _Tx:
        return _Tx(self._connection.get())

    # --- reads -----------------------------------------------------------------------------------------
    def get(self, request_id: str) -> ServiceRequest | None:
        with translated():
            try:
                return from_item(ServiceRequestItem.get(request_id, consistent_read=True))
            except ServiceRequestItem.DoesNotExist:
                return None

    def counters(self, first: date, last: date, consistent: bool = False, *,
                 teams: Iterable[str]) -> CounterSnapshot:
        """The counters of `teams` for team-local dates [first, last]: one Query per team and calendar month.
        `consistent` for reads that must see a write just committed (realtime pushes)."""
        return capacity_store.read(teams, first, last, consistent)

    def list_for_user(self, user_id: str, cursor: str | None, limit: int) -> tuple[list[ServiceRequest], str | None]:
        with translated(cursor):
            result = ServiceRequestItem.by_user.query(user_id, scan_index_forward=False, limit=limit,
                                                      last_evaluated_key=decode_cursor(cursor))
            items = [from_item(i) for i in result]
            return items, encode_cursor(result.last_evaluated_key)

    def admin_list(self, *, status: str | None, payment_status: str | None, team_id: str | None,
                   start_from: str | None, start_to: str | None, cursor: str | None,
                   limit: int) -> tuple[list[ServiceRequest], str | None]:
        """One key condition on the index of this filter combination (request_lists.py): a page reads at most
        `limit` items."""
        items, next_cursor = request_lists.admin_list(
            status=status, payment_status=payment_status, team_id=team_id, start_from=start_from,
            start_to=start_to, cursor=cursor, limit=limit)
        return [from_item(i) for i in items], next_cursor

    def by_series(self, series_id: str) -> list[ServiceRequest]:
        with translated():
            return [from_item(i) for i in ServiceRequestItem.by_series.query(series_id)]

    # --- capacity transactions -------------------------------------------------------------------------
    def create(self, request: ServiceRequest, plan: CapacityPlan, extra: Iterable[Any] = ()) -> ServiceRequest:
        """Book: request item + all counters atomically. Raises TeamDayFull, SlotFull, MemberBusy,
        StaleCatalog, Throttled/TemporarilyUnavailable. `extra` are callables(tx) adding more actions
        (e.g. promo usage); their failures surface as labels starting with their own prefix."""
        tx = self._tx()
        capacity_store.add_changes(tx, keys.changes(request.id, claim=plan))
        tx.put("request", to_item(request, 1), condition=ServiceRequestItem.id.does_not_exist())
        revenue_ledger.add_flows(tx, request.id, revenue.flows(None, request))
        for add in extra:
            add(tx)
        self._run(tx)
        return request.with_changes(revision=1)

    def move(self, old: ServiceRequest, new: ServiceRequest, old_plan: CapacityPlan, new_plan: CapacityPlan,
             extra: Iterable[Any] = ()) -> ServiceRequest:
        """Reschedule atomically: release what only the old placement holds, claim what only the new one
        needs (items in both are left alone: one transaction may touch an item once)."""
        tx = self._tx()
        capacity_store.add_changes(tx, keys.changes(new.id, claim=new_plan, release=old_plan))
        return self._commit(tx, old, new, extra)

    def release(self, old: ServiceRequest, new: ServiceRequest, plan: CapacityPlan,
                extra: Iterable[Any] = ()) -> ServiceRequest:
        """Cancel/expire: give the capacity back and write the new state atomically (StaleRevision if it moved); a
        cancellation also adds 1 to its team-day's `cancelled` tally."""
        tx = self._tx()
        capacity_store.add_changes(tx, keys.tallied(keys.changes(old.id, release=plan), old, new))
        return self._commit(tx, old, new, extra)

    def save(self, old: ServiceRequest, new: ServiceRequest, extra: Iterable[Any] = ()) -> ServiceRequest:
        """Same capacity, conditional on the revision read (StaleRevision); with `extra` (audit), a team-day tally
        (a no-show) or money that moved (the revenue ledger) one transaction."""
        tally = keys.tallied([], old, new)
        if extra or tally or revenue.flows(old, new):
            tx = self._tx()
            capacity_store.add_changes(tx, tally)
            return self._commit(tx, old, new, extra)
        with translated():
            try:
                to_item(new, old.revision + 1).save(condition=ServiceRequestItem.rev == old.revision)
            except PutError as exc:
                if response_code(exc) == "ConditionalCheckFailedException":
                    raise StaleRevision(old.id) from exc
                raise
        return new.with_changes(revision=old.revision + 1)

    def _commit(self, tx: _Tx, old: ServiceRequest, new: ServiceRequest, extra: Iterable[Any]) -> ServiceRequest:
        """The request at its next revision (conditional on the one read) and the extra actions, then commit."""
        tx.put("request", to_item(new, old.revision + 1), condition=ServiceRequestItem.rev == old.revision)
        revenue_ledger.add_flows(tx, new.id, revenue.flows(old, new))
        for add in extra:
            add(tx)
        self._run(tx)
        return new.with_changes(revision=old.revision + 1)

    def _run(self, tx: _Tx) -> None:
        with translated():
            try:  # cancelled only for transient reasons (nothing written): sent again, then Throttled (429)
                resend_while_contended(tx.commit, self.sleep)
            except TransactWriteError as exc:
                failed = capacity_store.explain(tx, exc, tx.failed_labels(exc))
                logger.info("transaction cancelled", extra={"failed": sorted(failed),
                                                            "reasons": cancellation_codes(exc),
                                                            "labels": tx.labels()})
                if not failed:
                    raise
                if "request" in failed:
                    raise StaleRevision() from exc
                if "team" in failed:
                    raise StaleCatalog() from exc
                if "day" in failed:
                    raise TeamDayFull() from exc
                if "slot" in failed:
                    raise SlotFull() from exc
                if "member" in failed:
                    raise MemberBusy() from exc
                raise _ExtraFailed(failed) from exc


class _ExtraFailed(PortExtraActionFailed):
    """An extra action (e.g. a promo usage limit) failed; carries the failed labels."""


ExtraActionFailed = _ExtraFailed


