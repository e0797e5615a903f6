"""The capacity table's layout (v2) and the changes bookings make to it. Pure (no SDK): the DynamoDB adapter
(capacity_store.py) turns an ItemChange into one conditional Update, and the in-memory fake applies the same
ItemChange to a dict, judging the same conditions (`failure`).

One partition per team and month of the team-local date, so a read touches only the teams it asks for:

    pk = CAP#<team>#<yyyy-mm>
    sk = <date>#DAY            team-day: count (bookings that day), limitOverride/overrideReason (admin),
                               fence (lowest catalog team version a booking may be planned with),
                               s#<cell> = bookings overlapping that 15-minute cell (limit: slotCapacity)
                               cancelled, noShows = bookings of that day (start's team-local date) cancelled or
                               recorded as no-shows: ADD 1 in the transaction that changes the status
    sk = <date>#M#<member>     member-day: count (the member's bookings that day, ordering only),
                               b#<cell> = the request holding that member's cell (absent = free)

A cell belongs to the items of its own team-local date (a job crossing midnight touches the next day's items).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable

from chalicelib.domain.availability import CapacityPlan, local_date_of
from chalicelib.domain.booking import ServiceRequest, day_tally
from chalicelib.domain.cells import CounterSnapshot, cell_number
from chalicelib.domain.utilisation import TeamCounters, TeamDayCounters

UTC = timezone.utc
SLOT, BUSY = "s#", "b#"
TEAM_DAY, MEMBER_DAY, STALE = "day", "member", "team"  # failure labels (TeamDayFull / SlotFull use "day"/"slot")


def partition(team_id: str, local_date: str) -> str:
    return f"CAP#{team_id}#{local_date[:7]}"


def team_day_key(team_id: str, local_date: str) -> tuple[str, str]:
    return partition(team_id, local_date), f"{local_date}#DAY"


def member_day_key(team_id: str, member_id: str, local_date: str) -> tuple[str, str]:
    return partition(team_id, local_date), f"{local_date}#M#{member_id}"


def cell_date(cell: str, tz: str) -> str:
    return local_date_of(datetime.strptime(cell, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC), tz).isoformat()


def months_between(first: date, last: date) -> list[str]:
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


@dataclass
class ItemChange:
    """Net change of one capacity item in one transaction, with the conditions a claim puts on it."""
    key: tuple[str, str]
    count: int = 0  # net change of `count`
    day_limit: int | None = None  # count must stay under this (or the item's limitOverride) when count grows
    version: int | None = None  # the item's fence must not exceed this (the catalog version planned with)
    slots: dict[str, int] = field(default_factory=dict)  # s#<cell> -> net change
    slot_capacity: int = 0  # a growing s#<cell> must be under this
    take: dict[str, str] = field(default_factory=dict)  # b#<cell> -> holder; must be absent
    free: set[str] = field(default_factory=set)  # b#<cell> removed
    tally: dict[str, int] = field(default_factory=dict)  # cancelled / noShows -> ADD (unconditional)

    @property
    def label(self) -> str:
        return MEMBER_DAY if "#M#" in self.key[1] else TEAM_DAY

    @property
    def has_actions(self) -> bool:
        return bool(self.count or any(self.slots.values()) or self.take or self.free or self.tally)

    def growing_slots(self) -> list[str]:
        return sorted(a for a, d in self.slots.items() if d > 0)


def changes(request_id: str, claim: CapacityPlan | None = None,
            release: CapacityPlan | None = None) -> list[ItemChange]:
    """The items a booking (claim), a cancellation (release) or a move (both) changes, netted per item: what both
    placements hold is left alone (a transaction may touch an item once). Claims are conditional; releases not."""
    items: dict[tuple[str, str], ItemChange] = {}

    def item(key: tuple[str, str]) -> ItemChange:
        return items.setdefault(key, ItemChange(key))

    for plan, sign in ((release, -1), (claim, 1)):
        if plan is None:
            continue
        item(team_day_key(plan.team_id, plan.local_date)).count += sign
        item(member_day_key(plan.team_id, plan.member_id, plan.local_date)).count += sign
        for cell in plan.cells:
            day = cell_date(cell, plan.timezone)
            slots = item(team_day_key(plan.team_id, day)).slots
            slots[SLOT + cell] = slots.get(SLOT + cell, 0) + sign
            member = item(member_day_key(plan.team_id, plan.member_id, day))
            if sign < 0:
                member.free.add(BUSY + cell)
            elif BUSY + cell in member.free:
                member.free.discard(BUSY + cell)  # kept: the same member keeps the cell for the same request
            else:
                member.take[BUSY + cell] = request_id
    if claim is not None:
        _conditions(items, claim)
    for change in items.values():
        change.slots = {a: d for a, d in change.slots.items() if d}
    return [c for c in items.values() if c.has_actions or c.version is not None]


def tallied(changes: list[ItemChange], old: ServiceRequest, new: ServiceRequest) -> list[ItemChange]:
    """`changes` with the team-day tally the status change adds (booking.day_tally), merged into the change of
    the booking's team-day item when the transaction already touches it (an item appears once per transaction)."""
    attr = day_tally(old, new)
    if attr is None:
        return changes
    key = team_day_key(old.placement.team_id, old.placement.local_date)
    change = next((c for c in changes if c.key == key), None)
    if change is None:
        change = ItemChange(key)
        changes = [*changes, change]
    change.tally[attr] = change.tally.get(attr, 0) + 1
    return changes


def _conditions(items: dict[tuple[str, str], ItemChange], claim: CapacityPlan) -> None:
    day = items[team_day_key(claim.team_id, claim.local_date)]
    day.version = claim.team_version
    for change in items.values():
        if change.label == TEAM_DAY:
            change.slot_capacity = claim.slot_capacity
            if change.count > 0:
                change.day_limit = claim.daily_limit


def failure(change: ItemChange, item: dict | None) -> str | None:
    """The label of the first condition of `change` the stored item (attribute -> value; None = absent) breaks:
    "team" (stale catalog), "day" (team-day full), "slot" (a cell has no crew left), "member" (a cell is taken)."""
    item = item or {}
    if change.version is not None and int(item.get("fence", 0)) > change.version:
        return STALE
    if change.count > 0 and change.day_limit is not None:
        limit = item.get("limitOverride")
        if int(item.get("count", 0)) >= (change.day_limit if limit is None else int(limit)):
            return "day"
    if any(int(item.get(a, 0)) >= change.slot_capacity for a in change.growing_slots()):
        return "slot"
    if any(a in item for a in change.take):
        return MEMBER_DAY
    return None


def applied(change: ItemChange, item: dict | None) -> dict:
    """The item after the change (what the DynamoDB Update does)."""
    out = dict(item or {})
    if change.count:
        out["count"] = int(out.get("count", 0)) + change.count
    for attr, delta in change.slots.items():
        out[attr] = int(out.get(attr, 0)) + delta
    for attr, delta in change.tally.items():
        out[attr] = int(out.get(attr, 0)) + delta
    out.update(change.take)
    for attr in change.free:
        out.pop(attr, None)
    return out


def team_of(pk: str) -> str:
    return pk[len("CAP#"):-len("#yyyy-mm")]


def absorb(snapshot: CounterSnapshot, pk: str, sk: str, item: dict) -> None:
    """Fold one stored capacity item (attribute -> plain value) into a snapshot."""
    team_id = team_of(pk)
    day, _, rest = sk.partition("#")
    if rest == "DAY":
        snapshot.day_counts[(team_id, day)] = int(item.get("count", 0))
        if item.get("limitOverride") is not None:
            snapshot.day_overrides[(team_id, day)] = int(item["limitOverride"])
        for attr, value in item.items():
            if attr.startswith(SLOT) and int(value):
                snapshot.add_slots(team_id, (cell_number(attr[len(SLOT):]),), int(value))
    elif rest.startswith("M#"):
        member_id = rest[2:]
        snapshot.member_loads[(member_id, day)] = int(item.get("count", 0))
        snapshot.mark_busy(member_id, [cell_number(a[len(BUSY):]) for a in item if a.startswith(BUSY)])


def report_counters(items: Iterable[tuple[str, dict]]) -> TeamCounters:
    """One team's stored capacity items (sort key, attribute -> plain value) as the utilisation report reads them.
    `cancelled` and `noShows` on a team-day item count the day's cancellations and no-shows (absent = 0)."""
    out = TeamCounters()
    for sk, item in items:
        day, _, rest = sk.partition("#")
        if rest == "DAY":
            override = item.get("limitOverride")
            out.days[day] = TeamDayCounters(
                count=int(item.get("count", 0)), limit_override=None if override is None else int(override),
                slots={a[len(SLOT):]: int(v) for a, v in item.items() if a.startswith(SLOT) and int(v)},
                cancelled=int(item.get("cancelled", 0)), no_shows=int(item.get("noShows", 0)))
        elif rest.startswith("M#"):
            out.member_cells[(day, rest[2:])] = sum(1 for a in item if a.startswith(BUSY))
    return out
