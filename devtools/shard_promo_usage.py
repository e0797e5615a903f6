"""Data migration: the single usage counter of each promotion rule (pk=PROMO#<rule>, sk=USAGE) becomes shard
counters (sk=SHARD#<k>, domain.promotions.usage_shares), which is what bookings consume and cancellations give
back since limits were sharded.

    python -m devtools.shard_promo_usage          # every rule (DYNAMODB_ENDPOINT / TABLE_PREFIX as the app)

For each rule with a global limit whose USAGE counter holds uses and is not yet migrated, ONE transaction adds
those uses to the shards (shard 0 first, each up to the room left under its share; what exceeds the limit, after
a limit was lowered, goes to shard 0, where it only blocks new uses) and marks the USAGE item migrated
(`doc.shardedUses`), conditional on the item being unmarked and still holding the uses read. So a rerun changes
nothing (idempotent), a run that stops part-way is resumed by running it again (rules already marked are
skipped), and a cancellation by the old code meanwhile makes that rule `changed-meanwhile` (run again).

Order: run it right after deploying the sharding code. Until it has run, the old counter's uses are invisible to
the new code, which could grant up to that many uses beyond a limit. A cancellation of a booking made before
sharding (its claim names no shard) gives its use back to shard 0, which this migration fills first.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamodb.models import CatalogItem
from chalicelib.adapters.dynamodb.promo_repository import (CATALOG_PK, RULE_PREFIX, SHARD_PREFIX, shard_key,
                                                           usage_key)
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.promotions import rule_from_doc, usage_shares

UPDATED, UNCHANGED, CHANGED_MEANWHILE, UNREADABLE = "updated", "unchanged", "changed-meanwhile", "unreadable"
NAME = "promo-usage-shards"


def read_page(start_key: dict | None, page_size: int) -> tuple[list[CatalogItem], dict | None]:
    """One page of promotion rules (the catalog partition's PROMO# items)."""
    result = CatalogItem.query(CATALOG_PK, CatalogItem.sk.startswith(RULE_PREFIX), limit=page_size,
                               last_evaluated_key=start_key)
    return list(result), result.last_evaluated_key


def spread(uses: int, limit: int, current: dict[int, int]) -> dict[int, int]:
    """How many of `uses` each shard receives: in shard order, up to the room its share leaves above the uses
    it already counts (`current`); the rest (beyond the limit) in shard 0."""
    out: dict[int, int] = {}
    left = uses
    for k, share in enumerate(usage_shares(limit)):
        take = min(left, max(share - current.get(k, 0), 0))
        if take:
            out[k] = take
            left -= take
    if left:
        out[0] = out.get(0, 0) + left
    return out


def apply(rule_item: CatalogItem) -> str:
    try:
        rule = rule_from_doc({**(rule_item.doc or {}), "version": int(rule_item.version or 1)})
    except ValidationFailed:
        return UNREADABLE
    try:
        legacy = CatalogItem.get(*usage_key(rule.id), consistent_read=True)
    except CatalogItem.DoesNotExist:
        return UNCHANGED
    uses = int(legacy.uses or 0)
    if rule.global_limit is None or (legacy.doc or {}).get("shardedUses") is not None:
        return UNCHANGED
    current = {int(i.sk[len(SHARD_PREFIX):]): int(i.uses or 0) for i in CatalogItem.query(
        f"{RULE_PREFIX}{rule.id}", CatalogItem.sk.startswith(SHARD_PREFIX), consistent_read=True)}
    tx = TransactWrite(connection=Connection(host=CatalogItem.Meta.host, region=CatalogItem.Meta.region))
    unmarked = CatalogItem.doc.does_not_exist() & (CatalogItem.uses == legacy.uses if legacy.uses is not None
                                                   else CatalogItem.uses.does_not_exist())
    tx.update(CatalogItem(*usage_key(rule.id)), actions=[CatalogItem.doc.set({"shardedUses": uses})],
              condition=unmarked)
    for shard, amount in spread(uses, rule.global_limit, current).items():
        tx.update(CatalogItem(*shard_key(rule.id, shard)), actions=[CatalogItem.uses.add(amount)])
    try:
        with tx:
            pass
    except TransactWriteError as exc:
        if any(getattr(r, "code", None) == "ConditionalCheckFailed" for r in exc.cancellation_reasons or []):
            return CHANGED_MEANWHILE
        raise
    return UPDATED


def run(page_size: int = 100) -> dict[str, Any]:
    """Every rule, page by page; returns the outcome counts."""
    outcomes: Counter = Counter()
    start: dict | None = None
    while True:
        items, start = read_page(start, page_size)
        outcomes.update(apply(item) for item in items)
        if start is None:
            return dict(outcomes)


def main() -> int:
    import json

    from chalicelib.adapters.dynamodb.tables import configure_models
    from chalicelib.settings import settings_from_env

    configure_models(settings_from_env())
    outcomes = run()
    print(json.dumps({"step": NAME, "outcomes": outcomes}))
    return 1 if outcomes.get(CHANGED_MEANWHILE) else 0


if __name__ == "__main__":
    raise SystemExit(main())
