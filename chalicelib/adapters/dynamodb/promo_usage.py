"""Promotion usage counters as booking-transaction actions (see promo_repository for the item layout).

The booking service stays unaware of labels and pynamodb: it asks for `actions(...)` to pass as the booking
repository's `extra`, and maps a failed transaction back to the rules that were used up with `spent(...)`.
"""
from __future__ import annotations

from typing import Callable, Iterable

from chalicelib.adapters.dynamodb.promo_repository import CONSUME_LABEL, exhausted_details, usage_updates
from chalicelib.domain.promotions import claims_from_doc


class DynamoPromoUsage:
    def actions(self, claim_docs: Iterable[dict], user_id: str, *, consume: bool) -> list[Callable]:
        """Transaction actions consuming (or giving back) one use of each stored claim
        (`price["usageClaims"]` of a booking)."""
        return [u.add_to for u in usage_updates(claims_from_doc(claim_docs), user_id, consume=consume)]

    def spent(self, labels: Iterable[str]) -> dict:
        """PromoExhausted details for the failed labels: {"rules": [{"ruleId", "scope"}]} (empty when no
        consuming promotion action failed)."""
        return exhausted_details(labels)

    @staticmethod
    def is_release_failure(labels: Iterable[str]) -> bool:
        return any(not label.startswith(CONSUME_LABEL + ":") and label.startswith("promo-") for label in labels)
