"""Service requests and their capacity, in DynamoDB.

Every capacity change is one TransactWriteItems: the request item, the team-day counter, the slot-cell
counters, the member's cell locks and day load, and a ConditionCheck on the team's catalog version (so a
booking made from a stale cached catalog fails and is retried). The database decides; nothing is checked
by reading first. Request writes are conditional on `rev` (optimistic concurrency).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb import job_keys, keys, request_lists
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor
from chalicelib.adapters.dynamodb.errors import cancellation_codes, resend_while_contended, response_code, translated
from chalicelib.adapters.dynamodb.models import CapacityCounter, CatalogItem, ServiceRequestItem
from chalicelib.domain import codec
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
        seriesId=request.series_id, paymentRef=request.payment.session_id,
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


def _counter(key: tuple[str, str]) -> CapacityCounter:
    return CapacityCounter(key[0], key[1])


class DynamoServiceRequestRepository:
    def __init__(self, endpoint: str | None, region: str, sleep: Callable[[float], None] | None = None) -> None:
        self._endpoint, self._region, self.sleep = endpoint, region, sleep  # sleep: backoff of re-sent transactions

    def _tx(self) -> _Tx:
        return _Tx(Connection(host=self._endpoint, region=self._region))

    # --- reads -----------------------------------------------------------------------------------------
    def get(self, request_id: str) -> ServiceRequest | None:
        with translated():
            try:
                return from_item(ServiceRequestItem.get(request_id, consistent_read=True))
            except ServiceRequestItem.DoesNotExist:
                return None

    def counters(self, first: date, last: date, consistent: bool = False) -> CounterSnapshot:
        """All counters of all teams for team-local dates [first, last]: one Query per calendar month.
        `consistent` for reads that must see a write just committed (realtime pushes)."""
        snap = CounterSnapshot()
        with translated():
            for pk in keys.months_between(first, last):
                condition = CapacityCounter.sk.between(first.isoformat(), f"{last.isoformat()}~")
                for item in CapacityCounter.query(pk, condition, consistent_read=consistent):
                    _absorb(snap, item)
        return snap

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
        self._claim(tx, plan, request.id)
        tx.put("request", to_item(request, 1), condition=ServiceRequestItem.id.does_not_exist())
        for add in extra:
            add(tx)
        self._run(tx)
        return request.with_changes(revision=1)

    def move(self, old: ServiceRequest, new: ServiceRequest, old_plan: CapacityPlan,
             new_plan: CapacityPlan) -> ServiceRequest:
        """Reschedule atomically: release what only the old placement holds, claim what only the new one
        needs (items in both are left alone: one transaction may touch an item once)."""
        tx = self._tx()
        self._release(tx, old_plan, skip=new_plan)
        self._claim(tx, new_plan, new.id, skip=old_plan)
        self._put_revision(tx, old, new)
        self._run(tx)
        return new.with_changes(revision=old.revision + 1)

    def release(self, old: ServiceRequest, new: ServiceRequest, plan: CapacityPlan,
                extra: Iterable[Any] = ()) -> ServiceRequest:
        """Cancel/expire: give the capacity back and write the new state, atomically, only if the request
        is still at the revision read (raises StaleRevision otherwise)."""
        tx = self._tx()
        self._release(tx, plan)
        self._put_revision(tx, old, new)
        for add in extra:
            add(tx)
        self._run(tx)
        return new.with_changes(revision=old.revision + 1)

    def save(self, old: ServiceRequest, new: ServiceRequest) -> ServiceRequest:
        """State change without capacity change, conditional on the revision read (raises StaleRevision)."""
        with translated():
            try:
                to_item(new, old.revision + 1).save(condition=ServiceRequestItem.rev == old.revision)
            except PutError as exc:
                if response_code(exc) == "ConditionalCheckFailedException":
                    raise StaleRevision(old.id) from exc
                raise
        return new.with_changes(revision=old.revision + 1)

    def _put_revision(self, tx: _Tx, old: ServiceRequest, new: ServiceRequest) -> None:
        tx.put("request", to_item(new, old.revision + 1), condition=ServiceRequestItem.rev == old.revision)

    def _claim(self, tx: _Tx, plan: CapacityPlan, request_id: str, skip: CapacityPlan | None = None) -> None:
        tx.check("team", CatalogItem, "CATALOG", f"TEAM#{plan.team_id}",
                 condition=CatalogItem.version == plan.team_version)
        same_day = skip is not None and (skip.team_id, skip.local_date) == (plan.team_id, plan.local_date)
        if not same_day:
            c = CapacityCounter
            under_limit = ((c.limitOverride.does_not_exist() & (c.count.does_not_exist() | (c.count < plan.daily_limit)))
                           | (c.count < c.limitOverride))
            tx.update("day", _counter(keys.day_key(plan.team_id, plan.local_date)),
                      actions=[c.count.add(1)], condition=under_limit)
        kept_cells = set(skip.cells) if skip is not None and skip.team_id == plan.team_id else set()
        for cell in plan.cells:
            if cell in kept_cells:
                continue
            tx.update("slot", _counter(keys.cell_key(plan.team_id, cell, plan.timezone)),
                      actions=[CapacityCounter.count.add(1)],
                      condition=CapacityCounter.count.does_not_exist() | (CapacityCounter.count < plan.slot_capacity))
        same_member = skip is not None and skip.member_id == plan.member_id and skip.team_id == plan.team_id
        kept_locks = set(skip.cells) if same_member else set()
        for cell in plan.cells:
            if cell in kept_locks:
                continue
            pk, sk = keys.member_cell_key(plan.team_id, plan.member_id, cell, plan.timezone)
            tx.put("member", CapacityCounter(pk, sk, holder=request_id), condition=CapacityCounter.pk.does_not_exist())
        if not (same_member and same_day):
            tx.update("member_day", _counter(keys.member_day_key(plan.team_id, plan.member_id, plan.local_date)),
                      actions=[CapacityCounter.count.add(1)])

    def _release(self, tx: _Tx, plan: CapacityPlan, skip: CapacityPlan | None = None) -> None:
        same_day = skip is not None and (skip.team_id, skip.local_date) == (plan.team_id, plan.local_date)
        if not same_day:
            tx.update("release", _counter(keys.day_key(plan.team_id, plan.local_date)),
                      actions=[CapacityCounter.count.add(-1)])
        kept_cells = set(skip.cells) if skip is not None and skip.team_id == plan.team_id else set()
        for cell in plan.cells:
            if cell not in kept_cells:
                tx.update("release", _counter(keys.cell_key(plan.team_id, cell, plan.timezone)),
                          actions=[CapacityCounter.count.add(-1)])
        same_member = skip is not None and skip.member_id == plan.member_id and skip.team_id == plan.team_id
        kept_locks = set(skip.cells) if same_member else set()
        for cell in plan.cells:
            if cell not in kept_locks:
                tx.delete("release", _counter(keys.member_cell_key(plan.team_id, plan.member_id, cell, plan.timezone)))
        if not (same_member and same_day):
            tx.update("release", _counter(keys.member_day_key(plan.team_id, plan.member_id, plan.local_date)),
                      actions=[CapacityCounter.count.add(-1)])

    def _run(self, tx: _Tx) -> None:
        with translated():
            try:  # cancelled only for transient reasons (nothing written): sent again, then Throttled (429)
                resend_while_contended(tx.commit, self.sleep)
            except TransactWriteError as exc:
                failed = tx.failed_labels(exc)
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


def _absorb(snap: CounterSnapshot, item: CapacityCounter) -> None:
    parts = item.sk.split("#")
    count = int(item.count or 0)
    if len(parts) == 4:  # date T team DAY
        snap.day_counts[(parts[2], parts[0])] = count
        if item.limitOverride is not None:
            snap.day_overrides[(parts[2], parts[0])] = int(item.limitOverride)
    elif len(parts) == 5:  # date T team S cell
        snap.cell_counts[(parts[2], parts[4])] = count
    elif len(parts) == 6:  # date T team M member DAY
        snap.member_loads[(parts[4], parts[0])] = count
    elif len(parts) == 7:  # date T team M member S cell
        snap.member_cells.setdefault(parts[4], set()).add(parts[6])


class DayOverrides:
    def set(self, team_id: str, local_date: str, limit: int, reason: str) -> None:
        """Override one team-day's limit on its counter item (the count is kept; bookings compare against
        limitOverride in their transaction condition)."""
        pk, sk = keys.day_key(team_id, local_date)
        with translated():
            CapacityCounter(pk, sk).update(actions=[
                CapacityCounter.limitOverride.set(limit), CapacityCounter.overrideReason.set(reason),
                CapacityCounter.count.set(CapacityCounter.count | 0)])

