"""Pricing's rule cache: reused within its TTL, reloaded after a local write or for an unknown typed code."""
from __future__ import annotations

from chalicelib.domain.promotions import PromoRule
from chalicelib.services.pricing import rules_for
from chalicelib.services.promotions import CachedRules


class CountingRepo:
    def __init__(self, rules):
        self.rules = list(rules)
        self.loads = 0
        self.writes = 0

    def list_rules(self):
        self.loads += 1
        return list(self.rules)

    def exhausted_rule_ids(self, rules, user_id=None):
        return set()


def rule(rule_id: str, code: str | None) -> PromoRule:
    return PromoRule(id=rule_id, code=code, kind="percent", value=1000)


def test_rules_are_reused_within_the_ttl_and_reloaded_after_it():
    now = [0.0]
    repo = CountingRepo([rule("r1", "SAVE10")])
    cache = CachedRules(repo, ttl_seconds=30, clock=lambda: now[0])
    cache.list_rules()
    cache.list_rules()
    assert repo.loads == 1
    now[0] = 31
    cache.list_rules()
    assert repo.loads == 2


def test_a_local_write_is_visible_at_once():
    repo = CountingRepo([rule("r1", "SAVE10")])
    cache = CachedRules(repo, ttl_seconds=30, clock=lambda: 0.0)
    cache.list_rules()
    repo.rules = []
    repo.writes += 1
    assert cache.list_rules() == [] and repo.loads == 2


def test_an_unknown_typed_code_reloads_once_and_known_codes_do_not():
    repo = CountingRepo([rule("r1", "SAVE10")])
    cache = CachedRules(repo, ttl_seconds=30, clock=lambda: 0.0)
    assert [r.id for r in rules_for(cache, ["save10"])] == ["r1"]
    assert repo.loads == 1
    repo.rules.append(rule("r2", "NEW5"))  # created by another container
    assert [r.id for r in rules_for(cache, ["NEW5"])] == ["r2"]
    assert repo.loads == 2
    rules_for(cache, ["NEW5"])
    assert repo.loads == 2
