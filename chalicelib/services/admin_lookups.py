"""Admin lists over sparse indexes: a team's capacity overrides (and clearing one), the requests the payment
reconciliation flagged. Clearing an override changes availability: `availability.changed` is pushed for it."""
from __future__ import annotations

from datetime import date
from typing import Any, Callable, Protocol

from chalicelib.domain.booking import ServiceRequest
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.services.admin import admin_view
from chalicelib.services.catalog_admin import CatalogAdminDeps, current


class AdminLookups(Protocol):
    def overrides(self, team_id: str, cursor: str | None, limit: int) -> tuple[list[dict], str | None]: ...

    def flagged(self, cursor: str | None, limit: int) -> tuple[list[ServiceRequest], str | None]: ...

    def clear_override(self, team_id: str, local_date: str, audit: Callable[[Any], None]) -> None: ...


class LookupDeps(CatalogAdminDeps, Protocol):
    admin_lookups: AdminLookups


def list_overrides(deps: LookupDeps, team_id: str, cursor: str | None, limit: int) -> dict:
    current(deps, "team", team_id)
    items, next_cursor = deps.admin_lookups.overrides(team_id, cursor, limit)
    return {"items": items, "nextCursor": next_cursor}


def clear_override(deps: LookupDeps, principal: Principal, team_id: str, day: date, reason: str | None) -> None:
    team = current(deps, "team", team_id)
    entry = deps.audit.action(f"TEAM#{team_id}", principal.actor, "capacity.override.cleared",
                              {"teamId": team_id, "date": day.isoformat()}, {"dailyLimit": team["dailyLimit"]},
                              reason)
    deps.admin_lookups.clear_override(team_id, day.isoformat(), entry)
    count("AdminChange", action="capacity_override_cleared")
    capacity.publish_team_change(deps, team_id, [day.isoformat()])


def list_flagged(deps: LookupDeps, cursor: str | None, limit: int) -> dict:
    items, next_cursor = deps.admin_lookups.flagged(cursor, limit)
    return {"items": [admin_view(r) for r in items], "nextCursor": next_cursor}
