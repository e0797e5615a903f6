"""Pricing's rule cache: reused while the catalog version stands (checked once per TTL), reloaded when it moves,
and for a typed code it does not know; pricing reads the counters of the rules that can apply to the service."""
from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.domain.catalog import Catalog, Money, Service, Team
from chalicelib.domain.pricing import PricingPolicy
from chalicelib.domain.promotions import PromoRule
from chalicelib.services.catalog import CatalogVersion
from chalicelib.services.pricing import QuoteRequest, quote, rules_for
from chalicelib.services.promotions import CachedRules


class CountingRepo:
    """The rule repository and the catalog version it bumps on writes."""

    def __init__(self, rules):
        self.rules = list(rules)
        self.loads = 0
        self.version = 0
        self.version_reads = 0
        self.counters_read: list[list[str]] = []

    def read_version(self) -> int:
        self.version_reads += 1
        return self.version

    def list_rules(self):
        self.loads += 1
        return list(self.rules)

    def exhausted_rule_ids(self, rules, user_id=None):
        self.counters_read.append(sorted(r.id for r in rules if r.has_limits))
        return set()


def rule(rule_id: str, code: str | None, **kw) -> PromoRule:
    return PromoRule(id=rule_id, code=code, kind="percent", value=1000, **kw)


def cache_over(repo: CountingRepo, now: list[float]) -> CachedRules:
    return CachedRules(repo, CatalogVersion(repo.read_version, ttl_seconds=30, clock=lambda: now[0]))


def test_rules_are_reused_while_the_version_stands_and_it_is_checked_once_per_ttl():
    now = [0.0]
    repo = CountingRepo([rule("r1", "SAVE10")])
    cache = cache_over(repo, now)
    cache.list_rules()
    cache.list_rules()
    assert (repo.loads, repo.version_reads) == (1, 1)
    now[0] = 31
    cache.list_rules()
    assert (repo.loads, repo.version_reads) == (1, 2)  # checked again, nothing changed: no reload


def test_a_write_elsewhere_is_seen_after_the_ttl_and_not_before():
    now = [0.0]
    repo = CountingRepo([rule("r1", None)])
    cache = cache_over(repo, now)
    cache.list_rules()
    repo.rules, repo.version = [], 1  # another container deactivated it
    now[0] = 29
    assert [r.id for r in cache.list_rules()] == ["r1"]
    now[0] = 30
    assert cache.list_rules() == [] and repo.loads == 2


def test_a_local_write_is_visible_at_once():
    now = [0.0]
    repo = CountingRepo([rule("r1", "SAVE10")])
    version = CatalogVersion(repo.read_version, ttl_seconds=30, clock=lambda: now[0])
    cache = CachedRules(repo, version)
    cache.list_rules()
    repo.rules, repo.version = [], 1
    version.expire()  # what the container's repository does after a write
    assert cache.list_rules() == [] and repo.loads == 2


def test_an_unknown_typed_code_reloads_once_and_known_codes_do_not():
    repo = CountingRepo([rule("r1", "SAVE10")])
    cache = cache_over(repo, [0.0])
    assert [r.id for r in rules_for(cache, "svc", ["save10"])] == ["r1"]
    assert repo.loads == 1
    repo.rules.append(rule("r2", "NEW5"))  # created by another container
    assert [r.id for r in rules_for(cache, "svc", ["NEW5"])] == ["r2"]
    assert repo.loads == 2
    rules_for(cache, "svc", ["NEW5"])
    assert repo.loads == 2


def test_a_quote_reads_only_the_counters_of_rules_that_can_apply_to_its_service():
    service = Service(id="svc", name="S", category="c", description="", duration_minutes=60, buffer_minutes=0,
                      slot_step_minutes=30, lead_time_minutes=0, base_price=Money(10000), team_ids=("t",))
    catalog = Catalog(services={"svc": service},
                      teams={"t": Team(id="t", name="T", timezone="UTC", weekly_hours={}, daily_limit=5,
                                       slot_capacity=1)})
    repo = CountingRepo([
        rule("mine", None, service_ids=("svc",), global_limit=10),
        rule("everyone", None, global_limit=10),
        rule("other-service", None, service_ids=("other",), global_limit=10),
        rule("inactive", None, global_limit=10, active=False),
        rule("typed-other", "OTHER5", service_ids=("other",), global_limit=10),
        rule("typed-mine", "MINE5", global_limit=10, stackable=True),
        rule("untyped-code", "NOTTYPED", global_limit=10)])
    cache = cache_over(repo, [0.0])
    start = datetime(2026, 12, 1, 15, tzinfo=timezone.utc)
    quote(catalog, cache, PricingPolicy(), QuoteRequest("svc", start, "UTC", promo_codes=("MINE5",)))
    assert repo.counters_read == [["everyone", "mine", "typed-mine"]]
