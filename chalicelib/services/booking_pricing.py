"""The price stored with a booking: the same resolver, rules and policy as POST /pricing/quote.

For the same service, start, team, options, codes and emergency flag the stored price equals the quote's
``quote`` object; it additionally carries ``usageClaims`` (the applied rules with usage limits, in the stored
form of ``claims_to_doc`` plus the rule's ``code``) so the booking transaction can consume those uses and a
cancellation can give back exactly what was consumed.

Used-up rules: the counters are read once (display-grade) so a code the customer typed that is already spent
fails with PROMO_EXHAUSTED before anything is written, and a spent automatic rule is simply left out. The
booking transaction is what enforces the limits; when it finds a rule spent, the booking service retries with
that rule in ``draft.exhausted_rules`` (automatic rule: priced without it) or answers PROMO_EXHAUSTED (typed code).

Global limits are sharded (domain.promotions.usage_shares): each claim names the shard its use is counted in,
one chosen at random among those with room (a strongly consistent read of the applied rules' shards), so
concurrent bookings of one promotion write different counters. When the transaction finds the chosen shard full
while the rule has others, the booking is priced again with ``<ruleId>@<shard>`` in ``draft.exhausted_rules``
(that shard is left out); a rule is spent only when every shard is.
"""
from __future__ import annotations

import random
from datetime import datetime
from typing import Callable, Iterable, Protocol

from chalicelib.domain.catalog import Service
from chalicelib.domain.pricing import PricingPolicy, price
from chalicelib.domain.principal import Principal
from chalicelib.domain.promotions import claims_to_doc, usage_shares
from chalicelib.services.ports import PricingRules
from chalicelib.services.pricing import exhausted_among, rules_for

EMERGENCY_PRIORITY = "EMERGENCY"


class PricedDraft(Protocol):
    """What pricing reads of a booking draft (services.booking.BookingDraft)."""
    promo_codes: tuple[str, ...]
    options: tuple[str, ...]
    priority: str
    exhausted_rules: tuple[str, ...]


class BookingPricer:
    def __init__(self, promotions: PricingRules, policy: PricingPolicy,
                 choose: Callable[[list[int]], int] = random.choice) -> None:
        self._promotions = promotions
        self._policy = policy
        self._choose = choose  # picks a shard among those with room (tests pass a seeded one)

    def __call__(self, service: Service, draft: PricedDraft, start: datetime, tz: str, principal: Principal) -> dict:
        """``tz`` is the booked team's zone (surcharges are judged in team-local time, as in the quote).
        Raises ValidationFailed (options), PromoInvalid, PromoExhausted."""
        rules = rules_for(self._promotions, service.id, draft.promo_codes)
        exhausted = set(draft.exhausted_rules)
        exhausted |= exhausted_among(self._promotions, rules, service.id, principal.user_id)
        quote = price(service, start, tz, option_ids=draft.options, promo_codes=draft.promo_codes,
                      emergency=draft.priority == EMERGENCY_PRIORITY, customer_id=principal.user_id, rules=rules,
                      policy=self._policy, exhausted=exhausted)
        codes = {r.id: r.code for r in rules}
        doc = quote.to_dict()
        claims = [{**c, "code": codes.get(c["ruleId"])} for c in claims_to_doc(quote.usage_claims)]
        doc["usageClaims"] = self._with_shards(claims, draft.exhausted_rules)
        return doc

    def _with_shards(self, claims: list[dict], exhausted: Iterable[str]) -> list[dict]:
        """Each claim of a global limit gets a shard with room, other than those this booking found full. When
        the read shows none (it raced a booking or a cancel), any shard not found full is tried: the
        transaction decides."""
        limits = {c["ruleId"]: c["globalLimit"] for c in claims if c.get("globalLimit") is not None}
        if not limits:
            return claims
        rooms = self._promotions.shards_with_room(limits)
        full = full_shards(exhausted)
        out = []
        for claim in claims:
            rule_id = claim["ruleId"]
            if rule_id in limits:
                untried = [k for k in range(len(usage_shares(limits[rule_id]))) if k not in full.get(rule_id, ())]
                candidates = [k for k in rooms.get(rule_id, ()) if k in untried] or untried or [0]
                claim = {**claim, "shard": self._choose(candidates)}
            out.append(claim)
        return out


def full_shards(exhausted: Iterable[str]) -> dict[str, set[int]]:
    """The ``<ruleId>@<shard>`` entries of a draft's exhausted rules, by rule."""
    out: dict[str, set[int]] = {}
    for entry in exhausted:
        rule_id, at, shard = entry.rpartition("@")
        if at and shard.isdigit():
            out.setdefault(rule_id, set()).add(int(shard))
    return out


def other_shards(claims: Iterable[dict], spent: dict, exhausted: Iterable[str]) -> tuple[str, ...]:
    """After a booking transaction found promotion counters full (`spent`: PromoUsage.spent of its labels): the
    ``<ruleId>@<shard>`` entries to add to the draft's exhausted rules when every failure is a global limit's
    shard and each of those rules still has a shard not found full (price again, in another shard); () when a
    rule is really spent (a per-customer limit, an unsharded claim, or every shard found full)."""
    by_rule = {c["ruleId"]: c for c in claims}
    full = full_shards(exhausted)
    entries = []
    for failed in spent.get("rules", ()):
        claim = by_rule.get(failed["ruleId"])
        if failed["scope"] != "global" or claim is None or claim.get("shard") is None:
            return ()
        tried = full.get(claim["ruleId"], set()) | {claim["shard"]}
        if len(tried) >= len(usage_shares(claim["globalLimit"])):
            return ()
        entries.append(f"{claim['ruleId']}@{claim['shard']}")
    return tuple(entries)
