"""Admin use cases for the catalog's services, teams and members: create, update, deactivate, list.

Every write is conditional on the version the admin read (409 CONCURRENT_UPDATE when stale; the store's
condition decides, nothing is checked-then-written here) and carries its audit entry (before, after, actor,
reason) in the same transaction. A change that can move availability then forgets this container's catalog copy
(other warm containers see it within CATALOG_CACHE_SECONDS, 30 s by default: catalog version check) and
pushes `availability.changed` for the affected teams' next PUSH_DAYS days.
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any, Callable, Protocol

from chalicelib.domain import codec
from chalicelib.domain.catalog import Service
from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.observability import count
from chalicelib.services import capacity
from chalicelib.services.ports import AuditLog, Clock

CREATE = 0
PUSH_DAYS = 14  # days from today whose availability subscribers are told to reload after a catalog change
SERVICE_FIELDS = {"name", "description", "category", "durationMinutes", "bufferMinutes", "slotStepMinutes",
                  "leadTimeMinutes", "basePrice", "teamIds", "options", "areaPrices", "terms"}


class CatalogAdminStore(Protocol):
    def save(self, kind: str, item_id: str, doc: dict, expected_version: int,
             audit: Callable[[Any], None]) -> None: ...

    def get(self, kind: str, item_id: str) -> dict | None: ...

    def page(self, kind: str, cursor: str | None, limit: int,
             keep: Callable[[dict], bool] = ...) -> tuple[list[dict], str | None]: ...


class CatalogAdminDeps(capacity.PublishDeps, Protocol):
    catalog_admin: CatalogAdminStore
    audit: AuditLog
    clock: Clock


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", {"fields": [{"field": field, "message": message}]})


ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # as schemas.common.Identifier: ids are created only in that shape


def current(deps: CatalogAdminDeps, kind: str, item_id: str) -> dict:
    """The stored item; NotFound for an unknown id, or one that no create could have made (never sent to the
    store, whose key limits would refuse it as a server error)."""
    doc = deps.catalog_admin.get(kind, item_id) if ID.fullmatch(item_id) else None
    if doc is None:
        raise NotFound(details={f"{kind}Id": item_id})
    return doc


def commit(deps: CatalogAdminDeps, principal: Principal, kind: str, before: dict | None, after: dict,
           reason: str | None, action: str) -> dict:
    """Write `after` over `before` (None: a create) with its audit entry, then refresh caches and subscribers."""
    expected = CREATE if before is None else int(after["version"]) - 1
    entry = deps.audit.action(f"{kind.upper()}#{after['id']}", principal.actor, f"{kind}.{action}",
                              before, after, reason)
    deps.catalog_admin.save(kind, after["id"], after, expected, entry)
    deps.catalog.invalidate()
    count("AdminChange", action=f"{kind}_{action}")
    return after


def announce(deps: CatalogAdminDeps, team_ids: list[str]) -> None:
    """Push `availability.changed` for the teams' next PUSH_DAYS days (best effort, as capacity._push)."""
    today = deps.clock().date()
    days = [(today + timedelta(days=i)).isoformat() for i in range(PUSH_DAYS)]
    for team_id in sorted(set(team_ids)):
        capacity.publish_team_change(deps, team_id, days)


def new_id(prefix: str, given: str | None) -> str:
    return given or f"{prefix}_{uuid.uuid4().hex[:12]}"


# --- services ------------------------------------------------------------------------------------------------
def checked_service(deps: CatalogAdminDeps, doc: dict) -> dict:
    """The service document as stored, once its references hold: every team exists, area prices name teams of
    the service (once each), their options are options of the service. Raises ValidationFailed."""
    teams = deps.catalog.get().teams
    for team_id in doc["teamIds"]:
        if team_id not in teams:
            raise invalid("teamIds", f"unknown team {team_id}")
    if len(set(doc["teamIds"])) != len(doc["teamIds"]):
        raise invalid("teamIds", "a team is listed twice")
    option_ids = [o["id"] for o in doc["options"]]
    if len(set(option_ids)) != len(option_ids):
        raise invalid("options", "option ids must be unique")
    area_teams = [a["teamId"] for a in doc["areaPrices"]]
    if len(set(area_teams)) != len(area_teams) or not set(area_teams) <= set(doc["teamIds"]):
        raise invalid("areaPrices", "one price per team of the service")
    for area in doc["areaPrices"]:
        if not {o["id"] for o in area.get("options", ())} <= set(option_ids):
            raise invalid("areaPrices", "an area price names an option the service does not have")
    return codec.service_to_doc(codec.service_from_doc(doc))


def service_view(service: Service | dict) -> dict:
    return codec.service_to_doc(service) if isinstance(service, Service) else dict(service)


def create_service(deps: CatalogAdminDeps, principal: Principal, fields: dict, reason: str | None) -> dict:
    doc = checked_service(deps, {**fields, "id": new_id("svc", fields.get("id")), "active": True, "version": 1})
    commit(deps, principal, "service", None, doc, reason, "created")
    announce(deps, doc["teamIds"])
    return doc


def update_service(deps: CatalogAdminDeps, principal: Principal, service_id: str, changes: dict, version: int,
                   reason: str | None) -> dict:
    """Merge `changes` into the stored service; written only if it is still at `version`."""
    before = current(deps, "service", service_id)
    merged = {**before, **{k: v for k, v in changes.items() if k in SERVICE_FIELDS}, "version": version + 1}
    after = checked_service(deps, merged)
    commit(deps, principal, "service", before, after, reason, "updated")
    announce(deps, before["teamIds"] + after["teamIds"])
    return after


def deactivate_service(deps: CatalogAdminDeps, principal: Principal, service_id: str, version: int,
                       reason: str) -> dict:
    """New bookings and quotes answer SERVICE_INACTIVE; existing bookings keep their places and can be moved."""
    before = current(deps, "service", service_id)
    after = {**before, "active": False, "version": version + 1}
    commit(deps, principal, "service", before, after, reason, "deactivated")
    announce(deps, before["teamIds"])
    return after


def list_services(deps: CatalogAdminDeps, active: bool | None, cursor: str | None, limit: int) -> dict:
    items, next_cursor = deps.catalog_admin.page(
        "service", cursor, limit, lambda d: active is None or bool(d.get("active", True)) == active)
    return {"items": [codec.service_to_doc(codec.service_from_doc(d)) for d in items], "nextCursor": next_cursor}
