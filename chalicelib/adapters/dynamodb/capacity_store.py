"""Capacity items in DynamoDB (layout and change rules: keys.py).

A booking's capacity is two items whatever its length: the team-day item (day count, per-cell slot counts, the
catalog fence) and the member-day item (the member's busy cells and day load), each one conditional Update. When
one fails, its old image (ReturnValuesOnConditionCheckFailure=ALL_OLD) says which condition broke, so the caller
still learns TEAM_DAY_FULL from SLOT_FULL from "member busy" from "stale catalog".
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamodb import keys
from chalicelib.adapters.dynamodb.errors import response_code, translated
from chalicelib.adapters.dynamodb.models import CapacityCounter
from chalicelib.domain.cells import CounterSnapshot, origin_for
from chalicelib.domain.utilisation import TeamCounters

LABEL = "capacity:"
C = CapacityCounter


def add_changes(tx: Any, changes: Iterable[keys.ItemChange]) -> None:
    """Add one action per changed item to a labelled transaction (booking_repository._Tx)."""
    registry = tx.__dict__.setdefault("capacity_changes", {})
    for change in changes:
        label = f"{LABEL}{len(registry)}"
        registry[label] = change
        condition = _condition(change)
        if change.has_actions:  # the old image on failure says which condition broke (explain)
            tx.update(label, C(*change.key), actions=actions_of(change), condition=condition,
                      return_values="ALL_OLD" if condition is not None else None)
        else:  # a move that keeps its team-day as is still checks the catalog fence there
            tx.check(label, C, *change.key, condition=condition)


def explain(tx: Any, exc: BaseException, failed: set[str]) -> set[str]:
    """Failed labels with each capacity label replaced by what broke: "team", "day", "slot" or "member"."""
    registry = getattr(tx, "capacity_changes", {})
    if not registry or not failed & set(registry):
        return failed
    items = dict(zip(tx.labels(), getattr(exc, "cancellation_reasons", None) or []))
    out = set()
    for label in failed:
        change = registry.get(label)
        if change is None:
            out.add(label)
        elif not change.has_actions:
            out.add(keys.STALE)
        else:
            # The old image is the state the condition was judged on, so it names the broken term; "slot" (the
            # customer's answer is SLOT_FULL either way) only if DynamoDB returned none.
            reason = items.get(label)
            out.add(keys.failure(change, plain(getattr(reason, "raw_item", None))) or "slot")
    return out


def _condition(change: keys.ItemChange):
    terms = []
    if change.version is not None:
        terms.append(C.fence.does_not_exist() | (C.fence <= change.version))
    if change.count > 0 and change.day_limit is not None:
        terms.append((C.limitOverride.does_not_exist() & (C.count.does_not_exist() | (C.count < change.day_limit)))
                     | (C.count < C.limitOverride))
    for attr in change.growing_slots():
        cell = NumberAttribute(attr_name=attr)
        terms.append(cell.does_not_exist() | (cell < change.slot_capacity))
    for attr in sorted(change.take):
        terms.append(UnicodeAttribute(attr_name=attr).does_not_exist())
    condition = None
    for term in terms:
        condition = term if condition is None else condition & term
    return condition


def actions_of(change: keys.ItemChange) -> list:
    actions = [C.count.add(change.count)] if change.count else []
    actions += [NumberAttribute(attr_name=a).add(d) for a, d in sorted(change.slots.items())]
    actions += [NumberAttribute(attr_name=a).add(d) for a, d in sorted(change.tally.items())]
    actions += [UnicodeAttribute(attr_name=a).set(holder) for a, holder in sorted(change.take.items())]
    actions += [UnicodeAttribute(attr_name=a).remove() for a in sorted(change.free)]
    return actions


def plain(raw: dict | None) -> dict | None:
    """A DynamoDB-JSON item -> attribute -> int | str."""
    if raw is None:
        return None
    out = {}
    for name, value in raw.items():
        if "N" in value:
            out[name] = int(Decimal(value["N"]))
        elif "S" in value:
            out[name] = value["S"]
    return out


def read(team_ids: Iterable[str], first: date, last: date, consistent: bool = False) -> CounterSnapshot:
    """The counters of these teams for team-local dates [first, last]: one Query per team and calendar month,
    reading one item per team-day and per busy member-day, nothing of other teams or days."""
    snapshot = CounterSnapshot(origin=origin_for(first))
    connection = C._get_connection()
    condition = C.sk.between(first.isoformat(), f"{last.isoformat()}~")
    with translated():
        for team_id in sorted(set(team_ids)):
            for month in keys.months_between(first, last):
                pk, start = f"CAP#{team_id}#{month}", None
                while True:
                    page = connection.query(pk, range_key_condition=condition, consistent_read=consistent,
                                            exclusive_start_key=start)
                    for raw in page.get("Items", []):
                        keys.absorb(snapshot, pk, raw["sk"]["S"], plain(raw))
                    start = page.get("LastEvaluatedKey")
                    if not start:
                        break
    return snapshot


class ReportReader:
    """The utilisation report's read (services.ports.CapacityReport)."""

    def team_counters(self, team_id: str, first: date, last: date) -> TeamCounters:
        """One team's items for local dates [first, last]: one Query per calendar month of its partition (more pages
        only past 1 MB), so the requests depend on the range and the team's size, never on the number of bookings:
        a month holds at most 31 team-day items and one item per member and day, each of at most 96 cells."""
        connection = C._get_connection()
        condition = C.sk.between(first.isoformat(), f"{last.isoformat()}~")
        found: list[tuple[str, dict]] = []
        with translated():
            for month in keys.months_between(first, last):
                pk, start = f"CAP#{team_id}#{month}", None
                while True:
                    page = connection.query(pk, range_key_condition=condition, exclusive_start_key=start)
                    found += [(raw["sk"]["S"], plain(raw)) for raw in page.get("Items", [])]
                    start = page.get("LastEvaluatedKey")
                    if not start:
                        break
        return keys.report_counters(found)


def put_whole(items: dict[tuple[str, str], dict]) -> None:
    """Write items whole (Put, attribute -> int | str), replacing what is stored: the capacity-v2 migration and bulk
    test or bench setup, never a booking (bookings change items only through conditional transactions)."""
    connection = C._get_connection()
    with translated():
        for (pk, sk), attributes in sorted(items.items()):
            connection.put_item(pk, sk, attributes={
                name: {"N": str(v)} if isinstance(v, int) else {"S": v} for name, v in attributes.items()})


class DayOverrides:
    def set(self, team_id: str, local_date: str, limit: int, reason: str) -> None:
        """Override one team-day's limit on its item (the count is kept; bookings compare against limitOverride in
        their transaction condition)."""
        with translated():
            C(*keys.team_day_key(team_id, local_date)).update(actions=[
                C.limitOverride.set(limit), C.overrideReason.set(reason), C.count.set(C.count | 0),
                C.overrideTeam.set(team_id)])

    def fence(self, team_id: str, local_dates: Iterable[str], version: int) -> None:
        """Bookings of these team-days planned from a catalog older than `version` fail from now on (StaleCatalog):
        written before a schedule change that a booking from a stale cached catalog must not slip past."""
        with translated():
            for local_date in sorted(set(local_dates)):
                _raise_fence(team_id, local_date, version)


def _raise_fence(team_id: str, local_date: str, version: int) -> None:
    """fence = max(fence, version): a fence never goes back."""
    try:
        C(*keys.team_day_key(team_id, local_date)).update(
            actions=[C.fence.set(version)], condition=C.fence.does_not_exist() | (C.fence < version))
    except UpdateError as exc:
        if response_code(exc) != "ConditionalCheckFailedException":
            raise
