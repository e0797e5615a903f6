"""Business reports for admins. Read-only; each reads counters kept by the writes themselves (the capacity items,
the revenue ledger), never the requests, so its cost does not grow with the number of bookings."""
from __future__ import annotations

from datetime import date
from typing import Protocol

from chalicelib.domain import heatmap, revenue, utilisation
from chalicelib.domain.errors import NotFound, RangeTooLarge, ValidationFailed
from chalicelib.services.ports import CapacityReport, CatalogSource, RevenueLedger


class UtilisationDeps(Protocol):
    catalog: CatalogSource
    capacity_report: CapacityReport


class RevenueDeps(Protocol):
    revenue_ledger: RevenueLedger


def _check_range(first: date, last: date, max_days: int) -> None:
    if last < first:
        raise ValidationFailed("`to` is before `from`.", {"fields": [{"field": "to"}]})
    days = utilisation.report_days(first, last)
    if days > max_days:
        raise RangeTooLarge(details={"maxDays": max_days, "requestedDays": days})


def team_utilisation(deps: UtilisationDeps, team_id: str, first: date, last: date) -> dict:
    """Per team-local date in [first, last] (at most 92 days). Raises ValidationFailed, RangeTooLarge, NotFound."""
    _check_range(first, last, utilisation.MAX_REPORT_DAYS)
    catalog = deps.catalog.get()
    team = catalog.teams.get(team_id)
    if team is None:
        raise NotFound(details={"teamId": team_id})
    counters = deps.capacity_report.team_counters(team.id, first, last)
    return utilisation.report(catalog, team, first, last, counters)


def team_utilisation_svg(deps: UtilisationDeps, team_id: str, first: date, last: date) -> str:
    """The same report drawn as a heatmap (days x local hours)."""
    return heatmap.render(team_utilisation(deps, team_id, first, last))


def revenue_per_day(deps: RevenueDeps, first: date, last: date, currency: str | None) -> dict:
    """Booked, paid, refunded, COD due and collected per UTC day (at most 92 days) and currency, from the ledger
    the request writes keep. Raises ValidationFailed, RangeTooLarge."""
    _check_range(first, last, revenue.MAX_REPORT_DAYS)
    return revenue.report(first, last, currency, deps.revenue_ledger.days(first, last))
