"""Catalog use cases and the warm-container catalog cache."""
from __future__ import annotations

import hashlib
import json
import threading
from typing import Callable

from chalicelib.clock import monotonic
from chalicelib.domain import codec
from chalicelib.domain.catalog import Catalog, Service, TeamMember
from chalicelib.domain.errors import NotFound
from chalicelib.services.ports import CatalogRepository


class CatalogCache:
    """Keeps the catalog for `ttl_seconds`: it changes rarely and every booking needs it. Bookings still guard
    against a stale copy with a ConditionCheck on the team's version inside their transaction."""

    def __init__(self, repo: CatalogRepository, ttl_seconds: int = 30,
                 clock: Callable[[], float] = monotonic) -> None:
        self._repo = repo
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: Catalog | None = None
        self._loaded_at = 0.0

    def get(self) -> Catalog:
        with self._lock:
            if self._value is None or self._clock() - self._loaded_at >= self._ttl:
                self._value = self._repo.load()
                self._loaded_at = self._clock()
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None


def public_service(service: Service) -> dict:
    doc = codec.service_to_doc(service)
    doc.pop("active", None)
    return doc


def list_services(catalog: Catalog) -> list[dict]:
    return [public_service(s) for s in sorted(catalog.services.values(), key=lambda s: s.id) if s.active]


def require_service(catalog: Catalog, service_id: str, allow_inactive: bool = False) -> Service:
    """Raises NotFound for an unknown service, or an inactive one unless `allow_inactive` (a booking made before
    the service was retired can still be moved)."""
    service = catalog.services.get(service_id)
    if service is None or (not service.active and not allow_inactive):
        raise NotFound(details={"serviceId": service_id})
    return service


def get_service(catalog: Catalog, service_id: str) -> dict:
    return public_service(require_service(catalog, service_id))


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
