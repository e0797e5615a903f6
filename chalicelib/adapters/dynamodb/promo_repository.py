"""Promotion rules in the catalog table, unique codes, and the usage counters booking transactions change.

Layout (models.CatalogItem):
  pk=CATALOG            sk=PROMO#<ruleId>   kind=promo       doc=rule document (the catalog Query sees it too)
  pk=PROMOCODE#<CODE>   sk=CODE             kind=promo-code  doc={"ruleId"}   reservation: one rule per code
  pk=PROMO#<ruleId>     sk=SHARD#<k>        uses=<n>         uses by everyone counted in shard k (k < shards)
  pk=PROMO#<ruleId>     sk=USAGE#<userId>   uses=<n>         uses by one customer
  pk=PROMO#<ruleId>     sk=USAGE            uses=<n>         before sharding: uses by everyone (migrated by
                                                             devtools/migrations/shard_promo_usage.py)

A global limit is split over min(limit, 10) shard counters (domain.promotions.usage_shares); a booking consumes
one use in a shard with room (chosen at random, so concurrent bookings of one promotion rarely write the same
item), conditional on that shard's share, so the total can never exceed the limit. Its stored claim names the
shard, and a cancellation gives the use back there. The usage of a rule is the sum of its shards.

A rule and its code reservation are written in one transaction, conditional on the rule's stored version,
so two admins editing at once or two rules claiming one code can never both succeed. Codes stay reserved while
their rule exists (deactivated rules included), so a code always names exactly one rule. The same transaction
bumps the catalog version (catalog_repository.VERSION_KEY), which tells every container's rule cache to reload.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb.catalog_repository import bump_version
from chalicelib.adapters.dynamodb.connection import SharedConnection
from chalicelib.adapters.dynamodb.cursors import decode_cursor, encode_cursor, invalid_cursor
from chalicelib.adapters.dynamodb.errors import cancellation_codes, translated
from chalicelib.adapters.dynamodb.models import CatalogItem
from chalicelib.domain.errors import AlreadyExists, ConcurrentUpdate, ValidationFailed
from chalicelib.domain.promotions import PromoRule, UsageClaim, rule_from_doc, rule_to_doc, usage_shares
from chalicelib.observability import logger

CATALOG_PK = "CATALOG"
RULE_KIND = "promo"
RULE_PREFIX = "PROMO#"
CODE_SK = "CODE"
USAGE_SK = "USAGE"
SHARD_PREFIX = "SHARD#"
CONSUME_LABEL = "promo-usage"
RELEASE_LABEL = "promo-release"
_FAILED = "ConditionalCheckFailed"


def rule_key(rule_id: str) -> tuple[str, str]:
    return CATALOG_PK, f"{RULE_PREFIX}{rule_id}"


def code_key(code: str) -> tuple[str, str]:
    return f"PROMOCODE#{code}", CODE_SK


def usage_key(rule_id: str, user_id: str | None = None) -> tuple[str, str]:
    """The customer's counter; without a user, the unsharded counter of before (read only by the migration)."""
    return f"{RULE_PREFIX}{rule_id}", USAGE_SK if user_id is None else f"{USAGE_SK}#{user_id}"


def shard_key(rule_id: str, shard: int) -> tuple[str, str]:
    return f"{RULE_PREFIX}{rule_id}", f"{SHARD_PREFIX}{shard}"


def shards_with_room(limit: int, uses: dict[int, int]) -> list[int]:
    """The shards of a global limit whose counter (`uses` by shard) is below its share."""
    return [k for k, share in enumerate(usage_shares(limit)) if uses.get(k, 0) < share]


@dataclass(frozen=True)
class UsageUpdate:
    """One conditional counter change for a booking transaction.

    consume (delta=+1): ``ADD uses 1`` only if ``uses`` is absent or ``uses < limit``; the item is created on
    first use. release (delta=-1): ``ADD uses -1`` only if ``uses > 0`` (a counter never goes negative; this can
    only fail if a counter was reset by hand, in which case retry the cancel without the release updates).

    ``label`` is ``promo-usage:<ruleId>`` (global) or ``promo-usage:<ruleId>:customer`` (per customer), and
    ``promo-release:...`` for releases: a cancelled transaction whose failed item carries a ``promo-usage``
    label means that rule is used up -> PromoExhausted (details: ruleId, scope).
    """
    label: str
    pk: str
    sk: str
    delta: int
    limit: int | None  # consume only

    def pynamodb_update(self) -> tuple[CatalogItem, list[Any], Any]:
        """(model, actions, condition) for ``TransactWrite.update(model, actions=..., condition=...)``."""
        if self.delta > 0:
            assert self.limit is not None
            condition = CatalogItem.uses.does_not_exist() | (CatalogItem.uses < self.limit)
            if self.limit <= 0:  # no share (a shard the limit does not have): even a first use must fail
                condition = CatalogItem.uses < 0
        else:
            condition = CatalogItem.uses > 0
        return CatalogItem(self.pk, self.sk), [CatalogItem.uses.add(self.delta)], condition

    def add_to(self, tx: Any) -> None:
        """Add to a labelled transaction (``tx.update(label, model, actions=..., condition=...)``), e.g. the
        booking repository's ``extra`` callables: ``extra=[u.add_to for u in updates]``."""
        model, actions, condition = self.pynamodb_update()
        tx.update(self.label, model, actions=actions, condition=condition)


def usage_updates(claims: Iterable[UsageClaim], user_id: str, *, consume: bool = True) -> list[UsageUpdate]:
    """Counter updates consuming (or, with consume=False, giving back) one use of every claimed rule: one for
    the global counter when the rule has a global limit, one for the customer's counter when it has a
    per-customer limit. Pass ``Quote.usage_claims`` of the quote stored with the booking."""
    prefix, delta = (CONSUME_LABEL, 1) if consume else (RELEASE_LABEL, -1)
    out: list[UsageUpdate] = []
    for claim in claims:
        if claim.global_limit is not None:
            # A claim stored before sharding gives its use back to shard 0 (the migration fills it first).
            shard = claim.shard or 0
            shares = usage_shares(claim.global_limit)
            out.append(UsageUpdate(f"{prefix}:{claim.rule_id}", *shard_key(claim.rule_id, shard), delta,
                                   (shares[shard] if shard < len(shares) else 0) if consume else None))
        if claim.per_customer_limit is not None:
            out.append(UsageUpdate(f"{prefix}:{claim.rule_id}:customer", *usage_key(claim.rule_id, user_id),
                                   delta, claim.per_customer_limit if consume else None))
    return out


def exhausted_details(labels: Iterable[str]) -> dict:
    """PromoExhausted details for the failed labels of a booking transaction (non-promo labels ignored)."""
    spent = []
    for label in sorted(labels):
        if label.startswith(CONSUME_LABEL + ":"):
            _, rule_id, *scope = label.split(":")
            spent.append({"ruleId": rule_id, "scope": "customer" if scope else "global"})
    return {"rules": spent}


class DynamoPromoRepository:
    def __init__(self, endpoint: str | None, region: str, on_write: Callable[[], None] = lambda: None) -> None:
        self._shared_connection = SharedConnection(endpoint, region)
        self._on_write = on_write  # after every rule write (the container's caches check the version again)

    # --- reads ---------------------------------------------------------------------------------------------
    def list_rules(self) -> list[PromoRule]:
        """Every stored rule (active or not), sorted by (priority, id). A stored document that no longer
        parses is logged and left out rather than failing every quote."""
        rules = []
        with translated():
            for item in CatalogItem.query(CATALOG_PK, CatalogItem.sk.startswith(RULE_PREFIX)):
                try:
                    rules.append(rule_from_doc({**item.doc, "version": int(item.version or 1)}))
                except ValidationFailed:
                    logger.warning("unreadable promotion rule skipped", extra={"sk": item.sk})
        return sorted(rules, key=lambda r: (r.priority, r.id))

    def page_rules(self, cursor: str | None, limit: int) -> tuple[list[PromoRule], str | None]:
        """One page of rules in (priority, id) order: a Query on the sparse promo_rules index reading `limit`
        rules. A stored document that no longer parses is logged and left out of the page."""
        start_key = decode_cursor(cursor)
        if start_key is not None and (set(start_key) != {"pk", "sk", "kind", "priorityKey"}
                                      or start_key["kind"] != {"S": RULE_KIND} or start_key["pk"] != {"S": CATALOG_PK}
                                      or set(start_key["sk"]) != {"S"} or set(start_key["priorityKey"]) != {"S"}):
            raise invalid_cursor()
        rules = []
        with translated(cursor):
            result = CatalogItem.promo_rules.query(RULE_KIND, limit=limit, last_evaluated_key=start_key)
            for item in result:
                try:
                    rules.append(rule_from_doc({**item.doc, "version": int(item.version or 1)}))
                except ValidationFailed:
                    logger.warning("unreadable promotion rule skipped", extra={"sk": item.sk})
            return rules, encode_cursor(result.last_evaluated_key)

    def get(self, rule_id: str) -> PromoRule | None:
        with translated():
            try:
                item = CatalogItem.get(*rule_key(rule_id), consistent_read=True)
            except CatalogItem.DoesNotExist:
                return None
        return rule_from_doc({**item.doc, "version": int(item.version or 1)})

    def exhausted_rule_ids(self, rules: Iterable[PromoRule], user_id: str | None = None) -> set[str]:
        """Rules whose counters already reached a limit: every shard of the global limit at its share, or the
        customer's counter (for display only: the booking transaction is what enforces limits). One BatchGet."""
        limited = [r for r in rules if r.has_limits]
        keys = []
        for rule in limited:
            if rule.global_limit is not None:
                keys.extend(shard_key(rule.id, k) for k in range(len(usage_shares(rule.global_limit))))
            if rule.per_customer_limit is not None and user_id:
                keys.append(usage_key(rule.id, user_id))
        uses = self._uses(keys)
        spent = set()
        for rule in limited:
            if rule.global_limit is not None and not shards_with_room(rule.global_limit, _by_shard(uses, rule.id)):
                spent.add(rule.id)
            if (rule.per_customer_limit is not None and user_id
                    and uses.get(usage_key(rule.id, user_id), 0) >= rule.per_customer_limit):
                spent.add(rule.id)
        return spent

    def shards_with_room(self, global_limits: dict[str, int]) -> dict[str, list[int]]:
        """For each rule id -> global limit, its shards below their share (strongly consistent, one BatchGet)."""
        keys = [shard_key(rule_id, k) for rule_id, limit in global_limits.items()
                for k in range(len(usage_shares(limit)))]
        uses = self._uses(keys, consistent=True)
        return {rule_id: shards_with_room(limit, _by_shard(uses, rule_id)) for rule_id, limit in global_limits.items()}

    def usage(self, rule_id: str) -> int:
        """Uses by everyone: the sum of the rule's shards."""
        with translated():
            return sum(int(item.uses or 0) for item in CatalogItem.query(
                f"{RULE_PREFIX}{rule_id}", CatalogItem.sk.startswith(SHARD_PREFIX), consistent_read=True))

    @staticmethod
    def _uses(keys: list[tuple[str, str]], consistent: bool = False) -> dict[tuple[str, str], int]:
        if not keys:
            return {}
        with translated():
            return {(item.pk, item.sk): int(item.uses or 0)
                    for item in CatalogItem.batch_get(keys, consistent_read=consistent)}

    # --- writes --------------------------------------------------------------------------------------------
    def create(self, rule: PromoRule) -> PromoRule:
        """Store a new rule (version 1) and reserve its code; bumps the catalog version. Raises AlreadyExists
        (details: id or code)."""
        stored = _with_version(rule, 1)
        tx = TransactWrite(connection=self._connection())
        tx.save(_rule_item(stored), condition=CatalogItem.pk.does_not_exist())
        labels = ["id"]
        if stored.code:
            tx.save(_code_item(stored), condition=CatalogItem.pk.does_not_exist())
            labels.append("code")
        bump_version(tx)  # an update: sent after the puts
        labels.append("catalog-version")
        failed = self._commit(tx, labels)  # puts keep call order
        self._on_write()
        if "id" in failed:
            raise AlreadyExists("A promotion rule with this id exists.", {"id": rule.id})
        if "code" in failed:
            raise AlreadyExists("Another promotion rule uses this code.", {"code": stored.code})
        return stored

    def update(self, current: PromoRule, new: PromoRule) -> PromoRule:
        """Replace ``current`` (as read, its version is the condition) with ``new``; moves the code reservation
        when the code changes; bumps the catalog version. Raises ConcurrentUpdate (the rule changed or vanished
        since it was read) or AlreadyExists (the new code belongs to another rule)."""
        stored = _with_version(new, current.version + 1)
        tx = TransactWrite(connection=self._connection())
        labels = []
        if current.code and current.code != stored.code:
            tx.delete(_code_item(current))  # deletes are sent before puts
            labels.append("old-code")
        tx.save(_rule_item(stored), condition=CatalogItem.version == current.version)
        labels.append("rule")
        if stored.code and stored.code != current.code:
            tx.save(_code_item(stored), condition=CatalogItem.pk.does_not_exist())
            labels.append("code")
        bump_version(tx)
        labels.append("catalog-version")
        failed = self._commit(tx, labels)
        self._on_write()
        if "rule" in failed:
            raise ConcurrentUpdate("The promotion rule changed meanwhile; read it again.", {"id": current.id})
        if "code" in failed:
            raise AlreadyExists("Another promotion rule uses this code.", {"code": stored.code})
        return stored

    def _connection(self) -> Connection:
        return self._shared_connection.get()

    @staticmethod
    def _commit(tx: TransactWrite, labels: list[str]) -> set[str]:
        with translated():
            try:
                with tx:
                    pass
            except TransactWriteError as exc:
                failed = {label for label, code in zip(labels, cancellation_codes(exc)) if code == _FAILED}
                if not failed:
                    raise
                return failed
        return set()


def _by_shard(uses: dict[tuple[str, str], int], rule_id: str) -> dict[int, int]:
    pk = f"{RULE_PREFIX}{rule_id}"
    return {int(sk[len(SHARD_PREFIX):]): n for (p, sk), n in uses.items() if p == pk and sk.startswith(SHARD_PREFIX)}


def _with_version(rule: PromoRule, version: int) -> PromoRule:
    from dataclasses import replace
    return replace(rule, version=version)


def priority_key(rule: PromoRule) -> str:
    """Sorts as (priority, id): priorities are 0..1,000,000 (10 digits leave room)."""
    return f"{max(rule.priority, 0):010d}#{rule.id}"


def _rule_item(rule: PromoRule) -> CatalogItem:
    return CatalogItem(*rule_key(rule.id), kind=RULE_KIND, doc=rule_to_doc(rule), version=rule.version,
                       priorityKey=priority_key(rule))


def _code_item(rule: PromoRule) -> CatalogItem:
    assert rule.code
    return CatalogItem(*code_key(rule.code), kind="promo-code", doc={"ruleId": rule.id})
