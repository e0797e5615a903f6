"""Admin use cases for promotion rules: list, read, create, replace, deactivate. Every write is audited.

DELETE deactivates (``active=false``) rather than erasing: bookings keep referring to the rule ids they applied,
its usage counters stay meaningful (a cancelled booking gives its use back), and its code stays reserved so it
can never silently start meaning a different promotion. Deactivating an inactive rule changes nothing.
"""
from __future__ import annotations

from typing import Any

import uuid
from dataclasses import replace
from typing import Iterable, Protocol

from chalicelib.clock import monotonic
from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.domain.promotions import PromoRule, rule_from_doc, rule_to_doc
from chalicelib.services.ports import AuditLog


class PromoRepository(Protocol):
    def list_rules(self) -> list[PromoRule]:
        """Every rule, active or not, sorted by (priority, id)."""

    def get(self, rule_id: str) -> PromoRule | None: ...

    def create(self, rule: PromoRule) -> PromoRule:
        """Raises AlreadyExists (id or code taken)."""

    def update(self, current: PromoRule, new: PromoRule) -> PromoRule:
        """Conditional on current.version. Raises ConcurrentUpdate or AlreadyExists (code taken)."""

    def exhausted_rule_ids(self, rules: Iterable[PromoRule], user_id: str | None = None) -> set[str]:
        """Rules whose usage counters reached a limit (display only)."""

    def shards_with_room(self, global_limits: dict[str, int]) -> dict[str, list[int]]:
        """Rule id -> the shards of its global limit below their share (strongly consistent read)."""


def entity(rule_id: str) -> str:
    return f"PROMO#{rule_id}"


def new_rule_id() -> str:
    return "promo_" + uuid.uuid4().hex[:16]


def list_rules(repo: PromoRepository) -> list[dict]:
    return [rule_to_doc(r) for r in repo.list_rules()]


def get_rule(repo: PromoRepository, rule_id: str) -> dict:
    return rule_to_doc(_existing(repo, rule_id))


def create_rule(repo: PromoRepository, audit: AuditLog, actor: Principal, doc: dict) -> dict:
    """``doc`` is the admin's rule document (camelCase; ``id`` optional). Raises ValidationFailed or
    AlreadyExists."""
    rule = rule_from_doc({**doc, "id": doc.get("id") or new_rule_id(), "version": 1})
    stored = repo.create(rule)
    after = rule_to_doc(stored)
    audit.record(entity(stored.id), actor.actor, "promo_rule.created", None, after)
    return after


def update_rule(repo: PromoRepository, audit: AuditLog, actor: Principal, rule_id: str, doc: dict,
                reason: str | None = None) -> dict:
    """Replace every field of a rule (its id stays). Raises NotFound, ValidationFailed, ConcurrentUpdate or
    AlreadyExists."""
    if doc.get("id") not in (None, rule_id):
        raise ValidationFailed("The id in the body differs from the one in the path.",
                               {"fields": [{"field": "id", "message": "must match the path"}]})
    current = _existing(repo, rule_id)
    new = rule_from_doc({**doc, "id": rule_id, "version": current.version})
    stored = repo.update(current, new)
    after = rule_to_doc(stored)
    audit.record(entity(rule_id), actor.actor, "promo_rule.updated", rule_to_doc(current), after, reason)
    return after


def deactivate_rule(repo: PromoRepository, audit: AuditLog, actor: Principal, rule_id: str,
                    reason: str | None = None) -> dict:
    """Raises NotFound or ConcurrentUpdate."""
    current = _existing(repo, rule_id)
    if not current.active:
        return rule_to_doc(current)
    stored = repo.update(current, replace(current, active=False))
    after = rule_to_doc(stored)
    audit.record(entity(rule_id), actor.actor, "promo_rule.deactivated", rule_to_doc(current), after, reason)
    return after


def _existing(repo: PromoRepository, rule_id: str) -> PromoRule:
    rule = repo.get(rule_id)
    if rule is None:
        raise NotFound(details={"promoRuleId": rule_id})
    return rule


class CachedRules:
    """Promotion rules as pricing sees them, reused for `ttl_seconds` per warm container so a booking stays at
    3 DynamoDB requests. Limits are unaffected (the booking transaction enforces them); an admin's change to an
    existing rule reaches pricing within the TTL, a new code at once (see services.pricing.rules_for)."""

    def __init__(self, repo: Any, ttl_seconds: float = 30.0, clock: Any = None) -> None:
        import threading

        self._repo = repo
        self._ttl = ttl_seconds
        self._clock = clock or monotonic
        self._lock = threading.Lock()
        self._rules: list[PromoRule] | None = None
        self._loaded_at = 0.0
        self._seen_writes = -1

    def list_rules(self) -> list[PromoRule]:
        with self._lock:
            fresh = self._clock() - self._loaded_at < self._ttl and self._seen_writes == self._writes()
            if self._rules is not None and fresh:
                return self._rules
        return self.refresh()

    def refresh(self) -> list[PromoRule]:
        writes = self._writes()
        rules = self._repo.list_rules()
        with self._lock:
            self._rules, self._loaded_at, self._seen_writes = rules, self._clock(), writes
        return rules

    def _writes(self) -> int:
        """Rule writes made through this container's repository (an admin change is visible here at once)."""
        return getattr(self._repo, "writes", 0)

    def exhausted_rule_ids(self, rules: Any, user_id: str | None = None) -> set[str]:
        return self._repo.exhausted_rule_ids(rules, user_id)

    def shards_with_room(self, global_limits: dict[str, int]) -> dict[str, list[int]]:
        return self._repo.shards_with_room(global_limits)
