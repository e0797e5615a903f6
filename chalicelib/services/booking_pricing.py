"""The price stored with a booking: the same resolver, rules and policy as POST /pricing/quote.

For the same service, start, team, options, codes and emergency flag the stored price equals the quote's
``quote`` object; it additionally carries ``usageClaims`` (the applied rules with usage limits, in the stored
form of ``claims_to_doc`` plus the rule's ``code``) so the booking transaction can consume those uses and a
cancellation can give back exactly what was consumed.

Used-up rules: the counters are read once (display-grade) so a code the customer typed that is already spent
fails with PROMO_EXHAUSTED before anything is written, and a spent automatic rule is simply left out. The
booking transaction is what enforces the limits; when it finds a rule spent, the booking service retries with
that rule in ``draft.exhausted_rules`` (automatic rule: priced without it) or answers PROMO_EXHAUSTED (typed code).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.catalog import Service
from chalicelib.domain.pricing import PricingPolicy, price
from chalicelib.domain.principal import Principal
from chalicelib.domain.promotions import claims_to_doc
from chalicelib.services.pricing import rules_for

EMERGENCY_PRIORITY = "EMERGENCY"


class BookingPricer:
    def __init__(self, promotions: Any, policy: PricingPolicy) -> None:
        self._promotions = promotions
        self._policy = policy

    def __call__(self, service: Service, draft: Any, start: datetime, tz: str, principal: Principal) -> dict:
        """``tz`` is the booked team's zone (surcharges are judged in team-local time, as in the quote).
        Raises ValidationFailed (options), PromoInvalid, PromoExhausted."""
        rules = rules_for(self._promotions, draft.promo_codes)
        exhausted = set(getattr(draft, "exhausted_rules", ()))
        exhausted |= self._promotions.exhausted_rule_ids(rules, principal.user_id)
        quote = price(service, start, tz, option_ids=draft.options, promo_codes=draft.promo_codes,
                      emergency=draft.priority == EMERGENCY_PRIORITY, customer_id=principal.user_id, rules=rules,
                      policy=self._policy, exhausted=exhausted)
        codes = {r.id: r.code for r in rules}
        doc = quote.to_dict()
        doc["usageClaims"] = [{**c, "code": codes.get(c["ruleId"])} for c in claims_to_doc(quote.usage_claims)]
        return doc
