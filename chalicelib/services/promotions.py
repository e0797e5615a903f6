"""Admin use cases for promotion rules: list, read, create, replace, deactivate. Every write is audited.

DELETE deactivates (``active=false``) rather than erasing: bookings keep referring to the rule ids they applied,
its usage counters stay meaningful (a cancelled booking gives its use back), and its code stays reserved so it
can never silently start meaning a different promotion. Deactivating an inactive rule changes nothing.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from typing import Iterable, Protocol

from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.domain.principal import Principal
from chalicelib.domain.promotions import PromoRule, rule_from_doc, rule_to_doc
from chalicelib.services.catalog import CatalogVersion
from chalicelib.services.ports import AuditLog


class PromoRepository(Protocol):
    def list_rules(self) -> list[PromoRule]:
        """Every rule, active or not, sorted by (priority, id)."""

    def page_rules(self, cursor: str | None, limit: int) -> tuple[list[PromoRule], str | None]:
        """One page in (priority, id) order and the next page's cursor (None after the last)."""

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


def list_rules(repo: PromoRepository, cursor: str | None, limit: int) -> dict:
    """One page of rules in (priority, id) order, the order pricing applies them."""
    rules, next_cursor = repo.page_rules(cursor, limit)
    return {"items": [rule_to_doc(r) for r in rules], "nextCursor": next_cursor}


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
    """Promotion rules as pricing sees them (services.ports.PricingRules), reloaded only when the catalog version
    moved (rule writes bump it), which `version` checks at most every CATALOG_CACHE_SECONDS: a booking stays at
    2 DynamoDB requests, an admin's change reaches every container within that TTL (this container at once:
    its repository expires the version on write), a new code at once (see services.pricing.rules_for). Limits
    are unaffected: the booking transaction enforces them."""

    def __init__(self, repo: PromoRepository, version: CatalogVersion) -> None:
        self._repo = repo
        self._version = version
        self._lock = threading.Lock()
        self._rules: list[PromoRule] | None = None
        self._loaded_version = -1

    def list_rules(self) -> list[PromoRule]:
        version = self._version.current()  # read before the rules: the copy holds at least this version
        with self._lock:
            if self._rules is not None and version == self._loaded_version:
                return self._rules
        return self._load(version)

    def refresh(self) -> list[PromoRule]:
        return self._load(self._version.current())

    def _load(self, version: int) -> list[PromoRule]:
        rules = self._repo.list_rules()
        with self._lock:
            self._rules, self._loaded_version = rules, version
        return rules

    def exhausted_rule_ids(self, rules: Iterable[PromoRule], user_id: str | None = None) -> set[str]:
        return self._repo.exhausted_rule_ids(rules, user_id)

    def shards_with_room(self, global_limits: dict[str, int]) -> dict[str, list[int]]:
        return self._repo.shards_with_room(global_limits)
