"""Sharded promotion usage against DynamoDB (moto): whatever shards writers pick (with room, stale, out of range)
and whatever they give back, the uses counted never exceed the limit, every shard stays within its share, and
the admin's usage (the sum of the shards) equals the uses granted minus those given back. Plus the migration of
the single counter of before."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.promotions import MAX_USAGE_SHARDS, PromoRule, UsageClaim, usage_shares


def _apply(updates) -> bool:
    tx = TransactWrite(connection=Connection(region="us-east-1"))
    for update in updates:
        model, actions, condition = update.pynamodb_update()
        tx.update(model, actions=actions, condition=condition)
    try:
        with tx:
            pass
        return True
    except TransactWriteError:
        return False


def _shard_uses(rule_id: str) -> dict[int, int]:
    from chalicelib.adapters.dynamodb.models import CatalogItem
    return {int(i.sk.split("#")[1]): int(i.uses or 0)
            for i in CatalogItem.query(f"PROMO#{rule_id}", CatalogItem.sk.startswith("SHARD#"), consistent_read=True)}


@given(st.integers(min_value=1, max_value=200))
def test_shares_split_the_limit_exactly_over_at_most_ten_shards(limit):
    shares = usage_shares(limit)
    assert sum(shares) == limit and len(shares) == min(limit, MAX_USAGE_SHARDS)
    assert max(shares) - min(shares) <= 1 and min(shares) >= 1


_operation = st.one_of(st.tuples(st.just("consume"), st.integers(min_value=0, max_value=MAX_USAGE_SHARDS + 1)),
                       st.tuples(st.just("release"), st.integers(min_value=0, max_value=40)))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=25), operations=st.lists(_operation, max_size=40))
def test_no_sequence_of_shard_choices_and_give_backs_exceeds_the_limit(tables, limit, operations):
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository, usage_updates

    repo = DynamoPromoRepository(None, "us-east-1")
    rule_id = f"p{abs(hash((limit, tuple(operations)))) % 10**12}-{len(operations)}"
    for k in list(_shard_uses(rule_id)):  # hypothesis may replay an example against the same table
        from chalicelib.adapters.dynamodb.models import CatalogItem
        CatalogItem(f"PROMO#{rule_id}", f"SHARD#{k}").delete()
    held: list[UsageClaim] = []
    for op, n in operations:
        if op == "consume":  # any shard, with room or not, even one the limit does not have
            claim = UsageClaim(rule_id, limit, None, shard=n)
            if _apply(usage_updates([claim], "u")):
                held.append(claim)
        elif held:
            claim = held.pop(n % len(held))
            assert _apply(usage_updates([claim], "u", consume=False))
        shares, uses = usage_shares(limit), _shard_uses(rule_id)
        assert all(uses.get(k, 0) <= share for k, share in enumerate(shares))
        assert not any(n for k, n in uses.items() if k >= len(shares))  # a shard the limit lacks never counts
        assert repo.usage(rule_id) == len(held) <= limit
    rooms = repo.shards_with_room({rule_id: limit})[rule_id]
    assert (len(held) == limit) == (rooms == [])


# --- migration of the single counter of before ----------------------------------------------------------------
def _rule(rule_id: str, global_limit: int | None, per_customer: int | None = None) -> None:
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository
    DynamoPromoRepository(None, "us-east-1").create(PromoRule(
        id=rule_id, kind="percent", value=1000, global_limit=global_limit,
        per_customer_limit=per_customer))


def _legacy(rule_id: str, uses: int) -> None:
    from chalicelib.adapters.dynamodb.models import CatalogItem
    CatalogItem(f"PROMO#{rule_id}", "USAGE", uses=uses).save()


@pytest.fixture
def legacy_counters(tables):
    """a: limit 5, 3 old uses, and shard 0 already taken by the new code; b: limit 20, 12 old uses; c: limit 2
    lowered below its 4 old uses; d: no global limit; e: never used."""
    from chalicelib.adapters.dynamodb.models import CatalogItem
    for rule_id, limit, old in (("a", 5, 3), ("b", 20, 12), ("c", 2, 4), ("d", None, 2), ("e", 3, None)):
        _rule(rule_id, limit, per_customer=1 if limit is None else None)
        if old is not None:
            _legacy(rule_id, old)
    CatalogItem("PROMO#a", "SHARD#0", uses=1).save()


def test_the_migration_moves_old_uses_into_shards_once(legacy_counters):
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository
    from devtools import shard_promo_usage as migration

    repo = DynamoPromoRepository(None, "us-east-1")
    assert migration.run() == {"updated": 3, "unchanged": 2}
    assert {r: repo.usage(r) for r in "abce"} == {"a": 4, "b": 12, "c": 4, "e": 0}
    assert _shard_uses("a") == {0: 1, 1: 1, 2: 1, 3: 1}  # around the shard the new code had taken
    assert _shard_uses("b") == {k: 2 for k in range(6)}
    assert _shard_uses("c") == {0: 3, 1: 1}  # beyond the lowered limit: shard 0, which then has no room
    assert repo.shards_with_room({"a": 5, "b": 20, "c": 2}) == {"a": [4], "b": [6, 7, 8, 9], "c": []}
    assert migration.run() == {"unchanged": 5}  # idempotent: nothing moves twice
    assert {r: repo.usage(r) for r in "abc"} == {"a": 4, "b": 12, "c": 4}


def test_an_interrupted_migration_resumes_where_it_stopped(legacy_counters):
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository
    from devtools import shard_promo_usage as migration

    items, _ = migration.read_page(None, 1)  # the first rule only, then the run "dies"
    assert [migration.apply(i) for i in items] == ["updated"]
    assert migration.run(page_size=2) == {"updated": 2, "unchanged": 3}
    repo = DynamoPromoRepository(None, "us-east-1")
    assert {r: repo.usage(r) for r in "abc"} == {"a": 4, "b": 12, "c": 4}


def test_an_old_counter_changed_during_the_migration_is_left_for_a_rerun(legacy_counters, monkeypatch):
    from chalicelib.adapters.dynamodb.models import CatalogItem
    from devtools import shard_promo_usage as migration

    read = CatalogItem.get

    def get_then_old_code_cancels(*args, **kw):
        item = read(*args, **kw)
        if args[1] == "USAGE" and args[0] == "PROMO#b":
            CatalogItem(*args[:2]).update(actions=[CatalogItem.uses.add(-1)])  # a cancellation by the old code
        return item

    monkeypatch.setattr(CatalogItem, "get", get_then_old_code_cancels)
    assert migration.run()["changed-meanwhile"] == 1
    monkeypatch.setattr(CatalogItem, "get", read)
    assert migration.run() == {"updated": 1, "unchanged": 4}
    assert sum(_shard_uses("b").values()) == 11
