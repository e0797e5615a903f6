"""15-minute cells as integers, and the counter snapshot availability is computed from.

A cell is numbered by its UTC start: `epoch seconds // 900`. A member's busy cells are one Python int used as a
bitmask (bit `n - origin` set = cell `n` busy), so "is this member free for the job's cells" is one AND, whatever
the number of bookings. Pure: no storage or SDK here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable

CELL_SECONDS = 900
CELLS_PER_DAY = 96
UTC = timezone.utc
_EPOCH = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=8192)
def _day_number(day: str) -> int:
    return date.fromisoformat(day).toordinal() - _EPOCH


def cell_number(cell: str) -> int:
    """"YYYY-MM-DDTHH:MMZ" (a cell key, see availability.cell_key) -> its number."""
    return _day_number(cell[:10]) * CELLS_PER_DAY + int(cell[11:13]) * 4 + int(cell[14:16]) // 15


def cell_name(number: int) -> str:
    return datetime.fromtimestamp(number * CELL_SECONDS, UTC).strftime("%Y-%m-%dT%H:%MZ")


def span(start: datetime, minutes: int) -> range:
    """Numbers of the cells covering [start, start + minutes) (the same cells as availability.cells_for)."""
    epoch = int(start.timestamp())
    end = epoch + minutes * 60
    return range(epoch // CELL_SECONDS, -(-end // CELL_SECONDS))


def origin_for(first_day: date) -> int:
    """A cell number at or before every cell of team-local dates from `first_day` on, in any zone (a local date
    starts at most 14 hours before its UTC midnight)."""
    return ((first_day - timedelta(days=1)).toordinal() - _EPOCH) * CELLS_PER_DAY


@dataclass
class CounterSnapshot:
    """Counter values read from storage (absent = 0 / no override). Busy cells are per-member bitmasks relative to
    `origin` (set by whoever reads storage, or by the first cells marked); members with nothing busy are absent."""
    day_counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (team, local date) -> count
    day_overrides: dict[tuple[str, str], int] = field(default_factory=dict)  # (team, local date) -> limit
    member_loads: dict[tuple[str, str], int] = field(default_factory=dict)  # (member, local date) -> count
    slots: dict[str, dict[int, int]] = field(default_factory=dict)  # team -> cell number -> bookings
    busy: dict[str, int] = field(default_factory=dict)  # member -> bitmask of busy cells
    origin: int | None = None
    _levels: dict = field(default_factory=dict, compare=False, repr=False)  # team -> (first cell, counts list)

    def day_limit(self, team, local_day: str) -> int:
        return self.day_overrides.get((team.id, local_day), team.daily_limit)

    def day_left(self, team, local_day: str) -> int:
        return self.day_limit(team, local_day) - self.day_counts.get((team.id, local_day), 0)

    # --- building ------------------------------------------------------------------------------------------
    def mark_busy(self, member_id: str, numbers: Iterable[int]) -> None:
        numbers = list(numbers)
        if not numbers:
            return
        low = min(numbers)
        if self.origin is None:
            self.origin = low
        elif low < self.origin:  # rebase: every mask moves up by the difference
            shift = self.origin - low
            self.busy = {m: mask << shift for m, mask in self.busy.items()}
            self.origin = low
        mask = self.busy.get(member_id, 0)
        for n in numbers:
            mask |= 1 << (n - self.origin)
        self.busy[member_id] = mask

    def add_slots(self, team_id: str, numbers: Iterable[int], bookings: int = 1) -> None:
        counts = self.slots.setdefault(team_id, {})
        self._levels.pop(team_id, None)
        for n in numbers:
            counts[n] = counts.get(n, 0) + bookings

    # --- reading -------------------------------------------------------------------------------------------
    def mask_of(self, numbers: range) -> int:
        """The bitmask of these consecutive cells (cells before `origin` are never busy, so they are left out)."""
        if self.origin is None:
            return 0
        low, high = max(numbers.start - self.origin, 0), numbers.stop - self.origin
        return ((1 << (high - low)) - 1) << low if high > low else 0

    def is_free(self, member_id: str, numbers: range) -> bool:
        return not self.busy.get(member_id, 0) & self.mask_of(numbers)

    def busiest(self, team_id: str, numbers: range) -> int:
        """The most bookings any of these consecutive cells has (a slice of a list: no per-cell lookups)."""
        levels = self._levels.get(team_id)
        if levels is None:
            counts = self.slots.get(team_id) or {}
            first = min(counts, default=0)
            row = [0] * (max(counts, default=-1) - first + 1)
            for n, bookings in counts.items():
                row[n - first] = bookings
            levels = self._levels[team_id] = (first, row)
        first, row = levels
        low, high = max(numbers.start - first, 0), min(numbers.stop - first, len(row))
        return max(row[low:high]) if high > low else 0

    def slot_count(self, team_id: str, cell: str) -> int:
        return self.slots.get(team_id, {}).get(cell_number(cell), 0)

    def member_cells(self, member_id: str) -> set[str]:
        """The member's busy cells by key (diagnostics and tests)."""
        mask, out = self.busy.get(member_id, 0), set()
        bit = 0
        while mask:
            if mask & 1:
                out.add(cell_name(self.origin + bit))
            mask >>= 1
            bit += 1
        return out
