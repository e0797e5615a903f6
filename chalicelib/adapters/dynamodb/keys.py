"""Key builders for the capacity table (see models.CapacityCounter for the layout)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from chalicelib.domain.availability import local_date_of

UTC = timezone.utc


def month_pk(local_date: str) -> str:
    return f"CAP#{local_date[:7]}"


def day_key(team_id: str, local_date: str) -> tuple[str, str]:
    return month_pk(local_date), f"{local_date}#T#{team_id}#DAY"


def cell_date(cell: str, tz: str) -> str:
    return local_date_of(datetime.strptime(cell, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC), tz).isoformat()


def cell_key(team_id: str, cell: str, tz: str) -> tuple[str, str]:
    d = cell_date(cell, tz)
    return month_pk(d), f"{d}#T#{team_id}#S#{cell}"


def member_day_key(team_id: str, member_id: str, local_date: str) -> tuple[str, str]:
    return month_pk(local_date), f"{local_date}#T#{team_id}#M#{member_id}#DAY"


def member_cell_key(team_id: str, member_id: str, cell: str, tz: str) -> tuple[str, str]:
    d = cell_date(cell, tz)
    return month_pk(d), f"{d}#T#{team_id}#M#{member_id}#S#{cell}"


def months_between(first: date, last: date) -> list[str]:
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"CAP#{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months
