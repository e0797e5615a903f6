"""In-memory implementations of the service ports (chalicelib/services/ports.py) for unit tests.

They keep the adapters' observable behaviour, including the failure modes: items go through the same dict
codec as the DynamoDB repositories (so a field the codec drops is dropped here too), cursors through the app's
cursor codec, a conditional team write with a stale version raises ConcurrentUpdate, and a service request
write or capacity transaction fails exactly where DynamoDB's would (tests/integration/test_repository_contracts.py
runs the same tests against both). Set `fail_with` to make the next calls raise (e.g. TemporarilyUnavailable)
and test how a use case reacts to an infrastructure failure.
"""
from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime
from datetime import date
from typing import Any, Callable, Iterable

from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor
from chalicelib.clock import system_clock
from chalicelib.adapters.dynamodb import keys, revenue_ledger
from chalicelib.adapters.dynamodb.promo_repository import UsageUpdate, exhausted_details, usage_updates
from chalicelib.domain import codec
from chalicelib.domain.revenue import flows as revenue_flows
from chalicelib.domain.availability import CapacityPlan, CounterSnapshot
from chalicelib.domain.cells import origin_for
from chalicelib.domain.booking import ServiceRequest, Status
from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember
from chalicelib.domain.errors import ConcurrentUpdate, DomainError, SlotFull, TeamDayFull, ValidationFailed
from chalicelib.domain.promotions import claims_from_doc
from chalicelib.services.ports import ExtraActionFailed, MemberBusy, StaleCatalog, StaleRevision


class FakeCatalogRepository:
    """CatalogRepository in memory. `loads` counts load() calls and `version_reads` version() calls (cache
    tests); every put bumps the catalog version, as the DynamoDB adapter does in the write's transaction."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, dict]] = {"service": {}, "team": {}, "member": {}, "blackout": {}}
        self.loads = 0
        self.version_reads = 0
        self._version = 0
        self.fail_with: DomainError | None = None
        if catalog is not None:
            for service in catalog.services.values():
                self.put_service(service)
            for team in catalog.teams.values():
                self.put_team(team)
            for member in catalog.members.values():
                self.put_member(member)
            for blackout in catalog.global_blackouts:
                self.put_global_blackout(blackout)

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def version(self) -> int:
        with self._lock:
            self._check()
            self.version_reads += 1
            return self._version

    def load(self) -> Catalog:
        with self._lock:
            self._check()
            self.loads += 1
            docs = copy.deepcopy(self._docs)
        return codec.catalog_from_docs(list(docs["service"].values()), list(docs["team"].values()),
                                       list(docs["member"].values()), list(docs["blackout"].values()))

    def put_service(self, service: Service) -> None:
        with self._lock:
            self._check()
            self._docs["service"][service.id] = codec.service_to_doc(service)
            self._version += 1

    def put_team(self, team: Team, expected_version: int | None = None) -> None:
        with self._lock:
            self._check()
            current = self._docs["team"].get(team.id)
            # Same condition as the DynamoDB write: the stored version must equal expected_version.
            if expected_version is not None and (current is None or current["version"] != expected_version):
                raise ConcurrentUpdate(details={"teamId": team.id})
            self._docs["team"][team.id] = codec.team_to_doc(team)
            self._version += 1

    def team_version(self, team_id: str) -> int | None:
        """The stored team's version (what the booking transaction's ConditionCheck compares)."""
        with self._lock:
            doc = self._docs["team"].get(team_id)
            return doc["version"] if doc else None

    def put_member(self, member: TeamMember) -> None:
        with self._lock:
            self._check()
            self._docs["member"][member.id] = codec.member_to_doc(member)
            self._version += 1

    def put_global_blackout(self, blackout: Blackout) -> None:
        with self._lock:
            self._check()
            self._docs["blackout"][blackout.id] = codec.blackout_to_doc(blackout)
            self._version += 1


class FakeAuditLog:
    """AuditLog in memory: per entity in write order; the day feed newest first with an opaque cursor."""

    def __init__(self, now: Callable[[], datetime] = system_clock) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.entries: list[dict] = []

    def record(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> dict:
        entry = self._entry(entity, actor, action, before, after, reason)
        with self._lock:
            self.entries.append(entry)
        return copy.deepcopy(entry)

    def action(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> Callable[[Any], None]:
        """Appended when (and only if) the fake repository's transaction commits."""
        entry = self._entry(entity, actor, action, before, after, reason)

        def append() -> None:
            with self._lock:
                self.entries.append(entry)

        return lambda tx: tx.after_commit(append)

    def _entry(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None) -> dict:
        at = self._now()
        return {"id": uuid.uuid4().hex, "entity": entity, "actor": actor, "action": action,
                "at": at.isoformat().replace("+00:00", "Z"), "before": copy.deepcopy(before),
                "after": copy.deepcopy(after), "reason": reason}

    def for_entity(self, entity: str) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(e) for e in self.entries if e["entity"] == entity]

    def entity_page(self, entity: str, cursor: str | None = None,
                    limit: int = 50) -> tuple[list[dict], str | None]:
        """Like DynamoDB's: a cursor names its entity (the start key's partition), another entity refuses it."""
        key = decode_cursor(cursor) or {"pk": {"S": entity}, "offset": {"N": "0"}}
        if key.get("pk") != {"S": entity} or "offset" not in key:
            raise ValidationFailed("The cursor is not valid.", {"fields": [{"field": "cursor"}]})
        page, next_cursor = _page(self.for_entity(entity), encode_cursor({"offset": key.get("offset")}), limit)
        if next_cursor is not None:
            next_cursor = encode_cursor({"pk": {"S": entity}, **decode_cursor(next_cursor)})
        return page, next_cursor

    def list(self, day: str | None = None, cursor: str | None = None,
             limit: int = 50) -> tuple[list[dict], str | None]:
        day = day or self._now().date().isoformat()
        with self._lock:
            feed = sorted((e for e in self.entries if e["at"][:10] == day), key=lambda e: (e["at"], e["id"]),
                          reverse=True)
        return _page(feed, cursor, limit)


def _page(items: list, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of `items` and the cursor of the next (None after the last), through the app's cursor codec."""
    start = _offset(cursor)
    more = start + limit < len(items)
    # Shaped like DynamoDB's LastEvaluatedKey, so the app's codec accepts it as it would a real one.
    next_cursor = encode_cursor({"offset": {"N": str(start + limit)}}) if more else None
    return [copy.deepcopy(i) for i in items[start:start + limit]], next_cursor


def _offset(cursor: str | None) -> int:
    """Raises ValidationFailed, as the app does, for a cursor that is not one of ours."""
    key = decode_cursor(cursor) or {"offset": {"N": "0"}}
    offset = key.get("offset", {}).get("N", "")
    if set(key) != {"offset"} or not offset.isdigit():
        raise ValidationFailed("The cursor is not valid.", {"fields": [{"field": "cursor"}]})
    return int(offset)


class FakeServiceRequestRepository:
    """ServiceRequestRepository in memory, with the DynamoDB adapter's conditions: request writes conditional on
    the revision read (StaleRevision), and capacity claimed in all-or-nothing transactions over the same items
    (team-day and member-day, keyed and changed as in the capacity table: adapters/dynamodb/keys.py) honouring the
    same limits (TeamDayFull, SlotFull, MemberBusy) and catalog fences (StaleCatalog). `extra` actions
    (FakePromoUsage) join the transaction; their failures raise ExtraActionFailed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.docs: dict[str, dict] = {}  # request id -> stored doc (with its revision)
        self.counters_by_key: dict[str, int] = {}  # promotion usage key -> count
        self.capacity: dict[tuple[str, str], dict] = {}  # capacity item (pk, sk) -> attributes
        self.ledger: dict[tuple[str, str], dict] = {}  # revenue ledger item (pk, sk) -> kind -> amount
        self.fail_with: DomainError | None = None

    # --- reads -------------------------------------------------------------------------------------------
    def get(self, request_id: str) -> ServiceRequest | None:
        with self._lock:
            self._check()
            doc = self.docs.get(request_id)
            return codec.request_from_doc(copy.deepcopy(doc)) if doc else None

    def counters(self, first: date, last: date, consistent: bool = False, *,
                 teams: Iterable[str]) -> CounterSnapshot:
        snap = CounterSnapshot(origin=origin_for(first))
        low, high = first.isoformat(), f"{last.isoformat()}~"
        partitions = {f"CAP#{t}#{m}" for t in teams for m in keys.months_between(first, last)}
        with self._lock:
            self._check()
            found = sorted((k, dict(v)) for k, v in self.capacity.items() if k[0] in partitions and low <= k[1] <= high)
        for (pk, sk), item in found:
            keys.absorb(snap, pk, sk, item)
        return snap

    def list_for_user(self, user_id: str, cursor: str | None, limit: int) -> tuple[list[ServiceRequest], str | None]:
        with self._lock:
            self._check()
            mine = sorted((d for d in self.docs.values() if d["userId"] == user_id),
                          key=lambda d: f"{d['createdAt']}#{d['id']}", reverse=True)
        docs, next_cursor = _page(mine, cursor, limit)
        return [codec.request_from_doc(d) for d in docs], next_cursor

    def admin_list(self, *, status: str | None, payment_status: str | None, team_id: str | None,
                   start_from: str | None, start_to: str | None, cursor: str | None,
                   limit: int) -> tuple[list[ServiceRequest], str | None]:
        """Ordered by start within each status when no team or payment status narrows it, like the status walk of
        the DynamoDB adapter."""
        statuses = [st.value for st in Status]
        with self._lock:
            self._check()
            found = [d for d in self.docs.values()
                     if (status is None or d["status"] == status)
                     and (payment_status is None or d["paymentStatus"] == payment_status)
                     and (team_id is None or d["teamId"] == team_id)
                     and (start_from is None or d["start"] >= start_from)
                     and (start_to is None or d["start"] <= f"{start_to}~")]
        walk = team_id is None and payment_status is None and status is None
        found.sort(key=lambda d: (statuses.index(d["status"]) if walk else 0, f"{d['start']}#{d['id']}"))
        docs, next_cursor = _page(found, cursor, limit)
        return [codec.request_from_doc(d) for d in docs], next_cursor

    def by_series(self, series_id: str) -> list[ServiceRequest]:
        with self._lock:
            self._check()
            return [codec.request_from_doc(copy.deepcopy(d)) for d in self.docs.values()
                    if d.get("seriesId") == series_id]

    # --- writes ------------------------------------------------------------------------------------------
    def create(self, request: ServiceRequest, plan: CapacityPlan,
               extra: Iterable[Callable[[Any], None]] = ()) -> ServiceRequest:
        tx = FakeTransaction(self)
        tx.capacity(keys.changes(request.id, claim=plan))
        tx.put("request", request, expected_revision=None)
        tx.revenue(None, request)
        for add in extra:
            add(tx)
        tx.commit()
        return request.with_changes(revision=1)

    def move(self, old: ServiceRequest, new: ServiceRequest, old_plan: CapacityPlan, new_plan: CapacityPlan,
             extra: Iterable[Callable[[Any], None]] = ()) -> ServiceRequest:
        tx = FakeTransaction(self)
        tx.capacity(keys.changes(new.id, claim=new_plan, release=old_plan))
        tx.put("request", new, expected_revision=old.revision)
        tx.revenue(old, new)
        for add in extra:
            add(tx)
        tx.commit()
        return new.with_changes(revision=old.revision + 1)

    def release(self, old: ServiceRequest, new: ServiceRequest, plan: CapacityPlan,
                extra: Iterable[Callable[[Any], None]] = ()) -> ServiceRequest:
        tx = FakeTransaction(self)
        tx.capacity(keys.tallied(keys.changes(old.id, release=plan), old, new))
        tx.put("request", new, expected_revision=old.revision)
        tx.revenue(old, new)
        for add in extra:
            add(tx)
        tx.commit()
        return new.with_changes(revision=old.revision + 1)

    def save(self, old: ServiceRequest, new: ServiceRequest,
             extra: Iterable[Callable[[Any], None]] = ()) -> ServiceRequest:
        tx = FakeTransaction(self)
        tx.capacity(keys.tallied([], old, new))  # a no-show's team-day tally
        tx.put("request", new, expected_revision=old.revision)
        tx.revenue(old, new)
        for add in extra:
            add(tx)
        tx.commit()
        return new.with_changes(revision=old.revision + 1)

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with


class FakeTransaction:
    """One all-or-nothing write of FakeServiceRequestRepository. Every condition is judged against the state
    before the transaction (as DynamoDB does: an item appears once per transaction), then either every change
    applies or none does, and the failed labels map to the same errors as the DynamoDB adapter's."""

    def __init__(self, repo: FakeServiceRequestRepository) -> None:
        self._repo = repo
        self._checks: list[Callable[[], str | None]] = []  # each: the label of its failed condition, or None
        self._changes: list[Callable[[], None]] = []
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def require(self, label: str, holds: bool) -> None:
        self._checks.append(lambda: None if holds else label)

    def add(self, label: str, key: str, delta: int, limit: int | None = None, nonnegative: bool = False) -> None:
        """count += delta, only while count < limit (when given), never below 0 (when `nonnegative`)."""
        counters = self._repo.counters_by_key
        self._checks.append(lambda: None if ((limit is None or counters.get(key, 0) < limit)
                                             and (not nonnegative or counters.get(key, 0) + delta >= 0)) else label)
        self._changes.append(lambda: counters.__setitem__(key, counters.get(key, 0) + delta))

    def capacity(self, changes: Iterable[keys.ItemChange]) -> None:
        """One conditional change per capacity item, judged and applied as the DynamoDB Update would."""
        items = self._repo.capacity
        for change in changes:
            self._checks.append(lambda c=change: keys.failure(c, items.get(c.key)))
            self._changes.append(lambda c=change: items.__setitem__(c.key, keys.applied(c, items.get(c.key))))


    def revenue(self, old: ServiceRequest | None, new: ServiceRequest) -> None:
        """The request's flows added to the revenue ledger (as revenue_ledger.add_flows: unconditional)."""
        ledger = self._repo.ledger
        for key, amounts in revenue_ledger.ledger_changes(new.id, revenue_flows(old, new)).items():
            self._changes.append(lambda k=key, a=amounts: ledger.__setitem__(
                k, {kind: ledger.get(k, {}).get(kind, 0) + a.get(kind, 0) for kind in {*ledger.get(k, {}), *a}}))

    def put(self, label: str, request: ServiceRequest, expected_revision: int | None) -> None:
        """Write the request at the next revision; None = only if it does not exist yet."""
        docs = self._repo.docs

        def at_expected_revision() -> bool:
            stored = docs.get(request.id)
            if expected_revision is None:
                return stored is None
            return stored is not None and stored["revision"] == expected_revision

        self._checks.append(lambda: None if at_expected_revision() else label)
        revision = 1 if expected_revision is None else expected_revision + 1
        self._changes.append(lambda: docs.__setitem__(request.id, {**codec.request_to_doc(request),
                                                                   "revision": revision}))

    def commit(self) -> None:
        """Raises StaleRevision, StaleCatalog, TeamDayFull, SlotFull, MemberBusy, ExtraActionFailed."""
        with self._repo._lock:
            self._repo._check()
            failed = {label for label in (check() for check in self._checks) if label is not None}
            if not failed:
                for change in self._changes:
                    change()
        if not failed:
            for callback in self._after_commit:
                callback()
            return
        for label, error in (("request", StaleRevision), ("team", StaleCatalog), ("day", TeamDayFull),
                             ("slot", SlotFull), ("member", MemberBusy)):
            if label in failed:
                raise error()
        raise ExtraActionFailed(failed)


class FakePromoUsage:
    """PromoUsage for FakeServiceRequestRepository's transactions: the DynamoDB adapter's counter updates (same
    labels, keys and limits), applied by the fake transaction as conditional counter changes."""

    def actions(self, claim_docs: Iterable[dict], user_id: str, *, consume: bool) -> list[Callable[[Any], None]]:
        updates = usage_updates(claims_from_doc(claim_docs), user_id, consume=consume)
        return [_usage_action(update) for update in updates]

    def spent(self, labels: Iterable[str]) -> dict:
        return exhausted_details(labels)


def _usage_action(update: UsageUpdate) -> Callable[[FakeTransaction], None]:
    def add_to(tx: FakeTransaction) -> None:
        # Consuming stays under the limit; giving back never takes a counter below 0 (as the DynamoDB conditions).
        tx.add(update.label, f"{update.pk}|{update.sk}", update.delta, limit=update.limit,
               nonnegative=update.delta < 0)
    return add_to


class FakeSeriesClaims:
    """SeriesClaims in memory: the first claim of a (user, key) holds until released by its own series."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.claims: dict[tuple[str, str], str] = {}

    def claim(self, user: str, key: str, series_id: str) -> str:
        with self._lock:
            return self.claims.setdefault((user, key), series_id)

    def release(self, user: str, key: str, series_id: str) -> None:
        with self._lock:
            if self.claims.get((user, key)) == series_id:
                del self.claims[(user, key)]


class FakeCapacityOverrides:
    """CapacityOverrides on a FakeServiceRequestRepository's capacity items (as capacity_store.DayOverrides)."""

    def __init__(self, repo: FakeServiceRequestRepository) -> None:
        self._repo = repo

    def set(self, team_id: str, local_date: str, limit: int, reason: str) -> None:
        key = keys.team_day_key(team_id, local_date)
        with self._repo._lock:
            item = self._repo.capacity.setdefault(key, {})
            item.update(limitOverride=limit, overrideReason=reason, count=item.get("count", 0))

    def fence(self, team_id: str, local_dates: Iterable[str], version: int) -> None:
        with self._repo._lock:
            for local_date in local_dates:
                item = self._repo.capacity.setdefault(keys.team_day_key(team_id, local_date), {})
                item["fence"] = max(int(item.get("fence", 0)), version)


class FakeCapacityReport:
    """CapacityReport over a FakeServiceRequestRepository's capacity items (as capacity_store.ReportReader)."""

    def __init__(self, repo: FakeServiceRequestRepository) -> None:
        self._repo = repo

    def team_counters(self, team_id: str, first: date, last: date):
        partitions = {f"CAP#{team_id}#{m}" for m in keys.months_between(first, last)}
        low, high = first.isoformat(), f"{last.isoformat()}~"
        with self._repo._lock:
            self._repo._check()
            found = sorted((sk, dict(item)) for (pk, sk), item in self._repo.capacity.items()
                           if pk in partitions and low <= sk <= high)
        return keys.report_counters(found)


class FakeRevenueLedger:
    """RevenueLedger over a FakeServiceRequestRepository's ledger items (as revenue_ledger.RevenueLedger)."""

    def __init__(self, repo: FakeServiceRequestRepository) -> None:
        self._repo = repo

    def days(self, first: date, last: date) -> dict:
        partitions = {f"REVENUE#{m}" for m in keys.months_between(first, last)}
        low, high = first.isoformat(), f"{last.isoformat()}~"
        with self._repo._lock:
            self._repo._check()
            found = [(sk, dict(item)) for (pk, sk), item in self._repo.ledger.items()
                     if pk in partitions and low <= sk <= high]
        return revenue_ledger.ledger_rows(found)
