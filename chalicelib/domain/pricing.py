"""Price resolver: base price, options, surcharges, then promotion discounts. Pure Python.

Every amount is an integer in minor units of the service's currency; no float is ever involved.

Order and bases:
  1. BASE line: the service's base price.
  2. OPTION lines: each selected option's price, in the order given (an unknown or repeated option id is a
     ValidationFailed listing them). base + options = the *service amount*.
  3. SURCHARGE lines, judged in the team's LOCAL time at the start instant, each computed on the service
     amount (surcharges do not compound on each other) and all cumulative:
       WEEKEND      the local start date is a weekend day (policy.weekend_days, default Saturday/Sunday);
       AFTER_HOURS  the local start time is before policy.business_start or at/after policy.business_end;
       EMERGENCY    the request is an emergency.
     subtotal = service amount + surcharges.
  4. DISCOUNT lines: promotion rules resolved on the subtotal (chalicelib.domain.promotions: order, stacking,
     caps, floor at zero). Discount lines carry NEGATIVE amounts so the lines always sum to the total;
     ``discount`` is the positive sum of the discounts. total = subtotal - discount >= 0.

Rounding rule: each percentage (surcharges in basis points, percent promotions) is computed on its own base
as ``(base * bps + 5000) // 10000``, i.e. rounded half up to the minor unit in integer arithmetic; the rounded
line amounts are then added, so the lines shown always add up exactly to the totals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Iterable

from chalicelib.domain.catalog import Service
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.promotions import (PromoRule, UsageClaim, resolve_discounts, round_half_up_bps)
from chalicelib.domain.zones import load_zone

BASE = "BASE"
OPTION = "OPTION"
SURCHARGE = "SURCHARGE"
DISCOUNT = "DISCOUNT"
WEEKEND = "WEEKEND"
AFTER_HOURS = "AFTER_HOURS"
EMERGENCY = "EMERGENCY"


@dataclass(frozen=True)
class PricingPolicy:
    """Surcharge rates in basis points (1500 = 15 %) and the local hours that count as business hours."""
    weekend_bps: int = 1500
    after_hours_bps: int = 2500
    emergency_bps: int = 5000
    business_start: time = time(8, 0)
    business_end: time = time(18, 0)
    weekend_days: frozenset[int] = frozenset({5, 6})  # date.weekday(): 5 = Saturday, 6 = Sunday

    def __post_init__(self) -> None:
        if min(self.weekend_bps, self.after_hours_bps, self.emergency_bps) < 0:
            raise ValueError("surcharge rates must not be negative")
        if not self.business_start < self.business_end:
            raise ValueError("business_start must be before business_end")


@dataclass(frozen=True)
class QuoteLine:
    kind: str  # BASE | OPTION | SURCHARGE | DISCOUNT
    code: str  # service id, option id, WEEKEND/AFTER_HOURS/EMERGENCY, or the promotion code / rule id
    description: str
    amount: int  # minor units; negative for discounts

    def to_dict(self) -> dict:
        return {"kind": self.kind, "code": self.code, "description": self.description, "amount": self.amount}


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: tuple[QuoteLine, ...]
    subtotal: int  # before discounts
    discount: int  # positive sum of the discounts
    total: int
    applied_rules: tuple[str, ...] = ()  # rule ids, in application order
    not_applied: tuple[dict, ...] = ()  # eligible rules skipped: {"ruleId", "code", "reason"}
    usage_claims: tuple[UsageClaim, ...] = field(default=())  # applied rules with usage limits

    def to_dict(self) -> dict:
        return {"currency": self.currency, "lines": [line.to_dict() for line in self.lines],
                "subtotal": self.subtotal, "discount": self.discount, "total": self.total,
                "appliedRules": list(self.applied_rules), "notApplied": [dict(x) for x in self.not_applied]}


def _percent(percent_bps: int) -> str:
    whole, rest = divmod(percent_bps, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") + " %"


def price(service: Service, start: datetime, team_zone: str, *, option_ids: Iterable[str] = (),
          promo_codes: Iterable[str] = (), emergency: bool = False, customer_id: str | None = None,
          rules: Iterable[PromoRule] = (), policy: PricingPolicy = PricingPolicy(),
          exhausted: frozenset[str] | set[str] = frozenset()) -> Quote:
    """Price one visit of ``service`` starting at ``start`` (aware) for a team in IANA zone ``team_zone``.

    ``customer_id`` does not change the price (per-customer limits are consumed by the booking transaction);
    it is accepted so callers pass the same input to quotes and bookings.
    Raises ValidationFailed (unknown/repeated option, naive start, unknown zone), PromoInvalid (a refused
    code) or PromoExhausted (a typed code whose rule is in ``exhausted``).
    """
    del customer_id  # see docstring: deliberately not part of the price
    if start.tzinfo is None:
        raise ValidationFailed("The start needs a UTC offset.", {"fields": [{"field": "start"}]})
    currency = service.base_price.currency
    lines = [QuoteLine(BASE, service.id, service.name, service.base_price.amount), *_option_lines(service, option_ids)]
    service_amount = sum(line.amount for line in lines)
    local = start.astimezone(load_zone(team_zone, "teamTimezone"))
    lines += _surcharge_lines(local, service_amount, emergency, policy)
    subtotal = sum(line.amount for line in lines)

    resolution = resolve_discounts(rules, codes=promo_codes, service_id=service.id, start=start,
                                   subtotal=subtotal, currency=currency, exhausted=exhausted)
    for applied in resolution.applied:
        rule = applied.rule
        description = rule.description or (f"Code {rule.code}" if rule.code else "Promotion")
        lines.append(QuoteLine(DISCOUNT, rule.label, description, -applied.amount))
    discount = resolution.total_discount
    return Quote(currency=currency, lines=tuple(lines), subtotal=subtotal, discount=discount,
                 total=subtotal - discount, applied_rules=tuple(d.rule.id for d in resolution.applied),
                 not_applied=resolution.not_applied, usage_claims=resolution.usage_claims)


def _option_lines(service: Service, option_ids: Iterable[str]) -> list[QuoteLine]:
    """One line per requested option; unknown or repeated options are the client's mistake."""
    options = {o.id: o for o in service.options}
    requested = list(option_ids)
    unknown = [o for o in requested if o not in options]
    repeated = sorted({o for o in requested if requested.count(o) > 1})
    if unknown or repeated:
        raise ValidationFailed("Some options are not valid for this service.",
                               {"unknownOptions": unknown, "repeatedOptions": repeated,
                                "validOptions": sorted(options)})
    currency = service.base_price.currency
    lines = []
    for option_id in requested:
        option = options[option_id]
        if option.price.currency != currency:  # catalog data error, not the client's
            raise ValueError(f"option {option_id} is priced in {option.price.currency}, service in {currency}")
        lines.append(QuoteLine(OPTION, option.id, option.name, option.price.amount))
    return lines


def _surcharge_lines(local: datetime, service_amount: int, emergency: bool,
                     policy: PricingPolicy) -> list[QuoteLine]:
    """Weekend, after-hours (judged on the team's local wall time) and emergency surcharges."""
    surcharges = []
    if local.weekday() in policy.weekend_days:
        surcharges.append((WEEKEND, "Weekend", policy.weekend_bps))
    if local.time() < policy.business_start or local.time() >= policy.business_end:
        surcharges.append((AFTER_HOURS, "Outside business hours", policy.after_hours_bps))
    if emergency:
        surcharges.append((EMERGENCY, "Emergency", policy.emergency_bps))
    return [QuoteLine(SURCHARGE, code, f"{label} surcharge ({_percent(bps)})", round_half_up_bps(service_amount, bps))
            for code, label, bps in surcharges]
