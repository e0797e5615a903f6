"""In-memory implementations of the service ports (chalicelib/services/ports.py) for unit tests.

They keep the adapters' observable behaviour, including the failure modes: items go through the same dict
codec as the DynamoDB repository (so a field the codec drops is dropped here too), and a conditional team
write with a stale version raises ConcurrentUpdate. Set `fail_with` to make the next calls raise (e.g.
TemporarilyUnavailable) and test how a use case reacts to an infrastructure failure.
"""
from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from datetime import datetime
from typing import Any, Callable, Iterable

from chalicelib.clock import system_clock
from chalicelib.domain import codec
from chalicelib.domain.catalog import Blackout, Catalog, Service, Team, TeamMember
from chalicelib.domain.errors import ConcurrentUpdate, DomainError, ValidationFailed


class FakeCatalogRepository:
    """CatalogRepository in memory. `loads` counts load() calls (cache tests)."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, dict]] = {"service": {}, "team": {}, "member": {}, "blackout": {}}
        self.loads = 0
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

    def put_team(self, team: Team, expected_version: int | None = None) -> None:
        with self._lock:
            self._check()
            current = self._docs["team"].get(team.id)
            # Same condition as the DynamoDB write: the stored version must equal expected_version.
            if expected_version is not None and (current is None or current["version"] != expected_version):
                raise ConcurrentUpdate(details={"teamId": team.id})
            self._docs["team"][team.id] = codec.team_to_doc(team)

    def put_member(self, member: TeamMember) -> None:
        with self._lock:
            self._check()
            self._docs["member"][member.id] = codec.member_to_doc(member)

    def put_global_blackout(self, blackout: Blackout) -> None:
        with self._lock:
            self._check()
            self._docs["blackout"][blackout.id] = codec.blackout_to_doc(blackout)


class FakeAuditLog:
    """AuditLog in memory: per entity in write order; the day feed newest first with an opaque cursor."""

    def __init__(self, now: Callable[[], datetime] = system_clock) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.entries: list[dict] = []

    def record(self, entity: str, actor: str, action: str, before: dict | None, after: dict | None,
               reason: str | None = None) -> dict:
        at = self._now()
        entry = {"id": uuid.uuid4().hex, "entity": entity, "actor": actor, "action": action,
                 "at": at.isoformat().replace("+00:00", "Z"), "before": copy.deepcopy(before),
                 "after": copy.deepcopy(after), "reason": reason}
        with self._lock:
            self.entries.append(entry)
        return copy.deepcopy(entry)

    def for_entity(self, entity: str) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(e) for e in self.entries if e["entity"] == entity]

    def list(self, day: str | None = None, cursor: str | None = None,
             limit: int = 50) -> tuple[list[dict], str | None]:
        day = day or self._now().date().isoformat()
        with self._lock:
            feed = sorted((e for e in self.entries if e["at"][:10] == day), key=lambda e: (e["at"], e["id"]),
                          reverse=True)
        start = _decode_cursor(cursor)
        page = feed[start:start + limit]
        more = start + limit < len(feed)
        return [copy.deepcopy(e) for e in page], (_encode_cursor(start + limit) if more else None)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed("The cursor is not valid.", {"fields": [{"field": "cursor"}]}) from exc


class FakePromoUsage:
    """PromoUsage for FakeServiceRequestRepository's transactions: the DynamoDB adapter's counter updates (same
    labels, keys and limits), applied by the fake transaction as conditional counter changes."""

    def actions(self, claim_docs: Iterable[dict], user_id: str, *, consume: bool) -> list[Callable[[Any], None]]:
        from chalicelib.adapters.dynamodb.promo_repository import usage_updates
        from chalicelib.domain.promotions import claims_from_doc

        return [_usage_action(update) for update in usage_updates(claims_from_doc(claim_docs), user_id,
                                                                  consume=consume)]

    def spent(self, labels: Iterable[str]) -> dict:
        from chalicelib.adapters.dynamodb.promo_repository import exhausted_details
        return exhausted_details(labels)


def _usage_action(update: Any) -> Callable[[Any], None]:
    def add_to(tx: Any) -> None:
        # Consuming stays under the limit; giving back never takes a counter below 0 (as the DynamoDB conditions).
        tx.add(update.label, f"{update.pk}|{update.sk}", update.delta, limit=update.limit,
               nonnegative=update.delta < 0)
    return add_to
