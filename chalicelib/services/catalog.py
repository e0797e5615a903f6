"""Catalog use cases and the warm-container catalog cache."""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Callable

from chalicelib.clock import monotonic
from chalicelib.domain import codec
from chalicelib.domain.catalog import Catalog, Service, TeamMember
from chalicelib.domain.errors import NotFound, ServiceInactive
from chalicelib.services.ports import CatalogRepository


class CatalogVersion:
    """The catalog's version (its change count) as this container last read it, re-read with one GetItem at most
    every `ttl_seconds`. Catalog writes bump it in the same transaction as the change, so a container sees any
    change at most `ttl_seconds` after it was committed, and pays one GetItem per TTL while nothing changes.
    The catalog cache and pricing's rule cache share one, so a warm container pays that GetItem once."""

    def __init__(self, read: Callable[[], int], ttl_seconds: float = 30,
                 clock: Callable[[], float] = monotonic) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: int | None = None
        self._read_at = 0.0

    def current(self) -> int:
        with self._lock:
            if self._value is None or self._clock() - self._read_at >= self._ttl:
                self._value = self._read()
                self._read_at = self._clock()
            return self._value

    def expire(self) -> None:
        """Read it again on next use: this container just changed the catalog or found its copy stale."""
        with self._lock:
            self._value = None


class CatalogCache:
    """The catalog of a warm container: every booking needs it and it changes rarely. It is reloaded (one Query
    of the whole catalog) only when the catalog version moved, which `version` checks at most every TTL: a
    container's copy is at most that TTL (CATALOG_CACHE_SECONDS, 30 s) behind a committed change, as with the
    plain time-based reload this replaces. A schedule change that bookings must not slip past (a new blackout)
    fences its team-days first, so a booking from a stale copy fails there and retries with a fresh one."""

    def __init__(self, repo: CatalogRepository, version: CatalogVersion | None = None, ttl_seconds: int = 30,
                 clock: Callable[[], float] = monotonic) -> None:
        self._repo = repo
        self._version = version or CatalogVersion(repo.version, ttl_seconds, clock)
        self._lock = threading.Lock()
        self._value: Catalog | None = None
        self._loaded_version = -1

    def get(self) -> Catalog:
        # The version is read before the load, so the copy holds at least that version (a change committed in
        # between only costs one more reload later).
        version = self._version.current()
        with self._lock:
            if self._value is None or version != self._loaded_version:
                self._value = self._repo.load()
                self._loaded_version = version
            return self._value

    def invalidate(self) -> None:
        self._version.expire()
        with self._lock:
            self._value = None


def public_service(service: Service) -> dict:
    doc = codec.service_to_doc(service)
    doc.pop("active", None)
    doc.pop("version", None)
    return doc


def list_services(catalog: Catalog) -> list[dict]:
    return [public_service(s) for s in sorted(catalog.services.values(), key=lambda s: s.id) if s.active]


def require_service(catalog: Catalog, service_id: str, allow_inactive: bool = False) -> Service:
    """Raises NotFound for an unknown service, ServiceInactive for a deactivated one unless `allow_inactive` (a
    booking made before the service was retired can still be moved or cancelled)."""
    service = catalog.services.get(service_id)
    if service is None:
        raise NotFound(details={"serviceId": service_id})
    if not service.active and not allow_inactive:
        raise ServiceInactive(details={"serviceId": service_id})
    return service


def get_service(catalog: Catalog, service_id: str) -> dict:
    service = catalog.services.get(service_id)
    if service is None or not service.active:  # the public catalog does not show retired services
        raise NotFound(details={"serviceId": service_id})
    return public_service(service)


def portal_member(member: TeamMember) -> dict:
    """Portal-safe fields only: never e-mail, phone or internal notes (allow-list, not deny-list)."""
    return {"id": member.id, "teamId": member.team_id, "displayName": member.display_name, "bio": member.bio,
            "rating": member.rating}


def team_members_for_service(catalog: Catalog, service_id: str) -> list[dict]:
    get_service(catalog, service_id)
    return [portal_member(m) for m in catalog.members_for(service_id)]


def etag_for(document: object) -> str:
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f'"{digest[:32]}"'
