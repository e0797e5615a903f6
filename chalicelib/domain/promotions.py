"""Promotion rules and how their discounts are resolved. Pure Python.

Resolution is deterministic for the same input:

1. Candidates: every active automatic rule (``code is None``) plus the rules named by the customer's codes.
   A code the customer typed that is unknown, inactive, outside its validity window, out of scope for the
   service, below its minimum subtotal or priced in another currency raises PromoInvalid (422) listing every
   offending code with its reason. Automatic rules that do not fit are silently left out.
2. Order: ascending ``priority`` (a LOWER number is applied FIRST), ties broken by rule id.
3. Walk that order with ``remaining`` = the pre-discount subtotal (base + options + surcharges):
   - an exclusive rule (``stackable=False``) is never combined: it applies only if nothing was applied
     before it, and then nothing after it applies; reached after another rule applied, it is skipped with
     reason NOT_COMBINABLE;
   - a stackable rule applies unless an exclusive rule already applied.
   Each discount is computed on ``remaining`` (the subtotal after the discounts before it): percent rules take
   ``round_half_up(remaining * bps / 10000)``, fixed rules take ``value``. The result is capped by the rule's
   ``max_discount``, then by ``remaining`` itself, so the total never goes below zero. A rule that would
   discount nothing is skipped (NOTHING_LEFT) so it does not consume a use.
4. The validity window is judged at the appointment start (``valid_from <= start < valid_to``), so a quote
   and the booking made from it price the same whatever the wall clock says in between. The minimum subtotal
   is judged on the pre-discount subtotal.

Usage limits are not read here: the booking transaction consumes them atomically. The resolver reports the
applied rules that carry limits (``UsageClaim``) so the booking can add the conditional counter updates, and
accepts ``exhausted`` (rule ids known to be used up) so a caller that read the counters, or retries after a
PROMO_EXHAUSTED, can leave used-up automatic rules out; a used-up code the customer typed raises PromoExhausted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from chalicelib.domain.errors import PromoExhausted, PromoInvalid, ValidationFailed

PERCENT = "percent"
FIXED = "fixed"
KINDS = (PERCENT, FIXED)
FULL_PERCENT_BPS = 10_000
# Priority given to rules converted from the legacy simple-code format: after curated rules (lower first).
LEGACY_PRIORITY = 1000
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

# Reasons a typed code is refused (PromoInvalid details) or a rule is left out (Quote.not_applied).
UNKNOWN = "UNKNOWN"
INACTIVE = "INACTIVE"
NOT_YET_VALID = "NOT_YET_VALID"
EXPIRED = "EXPIRED"
OUT_OF_SCOPE = "OUT_OF_SCOPE"
MIN_SUBTOTAL_NOT_MET = "MIN_SUBTOTAL_NOT_MET"
CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
NOT_COMBINABLE = "NOT_COMBINABLE"
NOTHING_LEFT = "NOTHING_LEFT"
EXHAUSTED = "EXHAUSTED"


def round_half_up_bps(amount: int, bps: int) -> int:
    """``amount * bps / 10000`` rounded half up to the minor unit, in integer arithmetic (no floats).

    Only defined for non-negative inputs, which is all pricing ever produces.
    """
    if amount < 0 or bps < 0:
        raise ValueError("amount and bps must be non-negative")
    return (amount * bps + FULL_PERCENT_BPS // 2) // FULL_PERCENT_BPS


def normalize_code(code: str) -> str:
    """Codes compare case-insensitively and ignore surrounding blanks ("  spring10 " == "SPRING10")."""
    return code.strip().upper()


@dataclass(frozen=True)
class PromoRule:
    id: str
    kind: str  # "percent" (value in basis points: 1000 = 10 %) | "fixed" (value in minor units)
    value: int
    code: str | None = None  # None: automatic, applies without a code
    description: str = ""
    currency: str = "USD"
    valid_from: datetime | None = None  # aware; inclusive
    valid_to: datetime | None = None  # aware; exclusive
    service_ids: tuple[str, ...] = ()  # empty: every service
    min_subtotal: int = 0  # minor units, judged before any discount
    priority: int = 100  # lower applies first
    stackable: bool = True  # False: exclusive, combined with nothing
    max_discount: int | None = None  # cap for this rule, minor units
    global_limit: int | None = None  # uses across all customers
    per_customer_limit: int | None = None
    active: bool = True
    version: int = 1

    @property
    def has_limits(self) -> bool:
        return self.global_limit is not None or self.per_customer_limit is not None

    @property
    def label(self) -> str:
        return self.code or self.id


def validate_rule(rule: PromoRule) -> PromoRule:
    """Check a rule's fields together; returns it with its code normalised. Raises ValidationFailed listing
    every problem (``details.fields``)."""
    problems: list[dict] = []

    def bad(name: str, message: str) -> None:
        problems.append({"field": name, "message": message})

    code = normalize_code(rule.code) if rule.code is not None else None
    if not ID_PATTERN.match(rule.id or ""):
        bad("id", "1-64 letters, digits, '-' or '_'")
    if code is not None and not CODE_PATTERN.match(code):
        bad("code", "2-32 letters, digits, '-' or '_'")
    if rule.kind not in KINDS:
        bad("kind", "must be 'percent' or 'fixed'")
    if rule.value <= 0:
        bad("value", "must be positive")
    elif rule.kind == PERCENT and rule.value > FULL_PERCENT_BPS:
        bad("value", "a percent rule is in basis points, at most 10000 (100 %)")
    for name, moment in (("validFrom", rule.valid_from), ("validTo", rule.valid_to)):
        if moment is not None and moment.tzinfo is None:
            bad(name, "needs a UTC offset")
    if (rule.valid_from and rule.valid_to and rule.valid_from.tzinfo and rule.valid_to.tzinfo
            and rule.valid_from >= rule.valid_to):
        bad("validTo", "must be after validFrom")
    if rule.min_subtotal < 0:
        bad("minSubtotal", "must not be negative")
    if rule.max_discount is not None and rule.max_discount <= 0:
        bad("maxDiscount", "must be positive")
    # A limit of 0 would make the conditional counter update meaningless: deactivate the rule instead.
    for name, limit in (("globalLimit", rule.global_limit), ("perCustomerLimit", rule.per_customer_limit)):
        if limit is not None and limit < 1:
            bad(name, "must be at least 1")
    if not re.fullmatch(r"[A-Z]{3}", rule.currency or ""):
        bad("currency", "ISO 4217 code, e.g. USD")
    if problems:
        raise ValidationFailed("The promotion rule is not valid.", {"fields": problems})
    return replace(rule, code=code)


@dataclass(frozen=True)
class UsageClaim:
    """An applied rule whose use must be consumed atomically with the booking. `shard`: which share of the
    global limit the use is counted in (see usage_shares); None for claims stored before limits were sharded."""
    rule_id: str
    global_limit: int | None
    per_customer_limit: int | None
    shard: int | None = None


MAX_USAGE_SHARDS = 10


def usage_shares(global_limit: int) -> tuple[int, ...]:
    """How a global limit is split over its usage counters: min(limit, MAX_USAGE_SHARDS) shards whose shares
    differ by at most one and add up to the limit. Each counter stays within its share, so the total of all of
    them can never exceed the limit, while concurrent bookings of one promotion write different counters."""
    count = min(max(global_limit, 0), MAX_USAGE_SHARDS)
    return tuple(global_limit // count + (1 if k < global_limit % count else 0) for k in range(count))


def claims_to_doc(claims: Iterable[UsageClaim]) -> list[dict]:
    """Stored with a booking so cancelling gives back exactly the uses it consumed (in the shard it took), even
    if the rule's limits were edited since (re-reading the rule could decrement a counter never incremented)."""
    return [{"ruleId": c.rule_id, "globalLimit": c.global_limit, "perCustomerLimit": c.per_customer_limit,
             **({"shard": c.shard} if c.shard is not None else {})} for c in claims]


def claims_from_doc(docs: Iterable[dict]) -> tuple[UsageClaim, ...]:
    return tuple(UsageClaim(d["ruleId"], d.get("globalLimit"), d.get("perCustomerLimit"), d.get("shard"))
                 for d in docs)


@dataclass(frozen=True)
class AppliedDiscount:
    rule: PromoRule
    amount: int  # positive, minor units


@dataclass(frozen=True)
class Resolution:
    applied: tuple[AppliedDiscount, ...] = ()
    not_applied: tuple[dict, ...] = ()  # {"ruleId", "code", "reason"}: eligible rules that were skipped
    usage_claims: tuple[UsageClaim, ...] = field(default=())

    @property
    def total_discount(self) -> int:
        return sum(d.amount for d in self.applied)


def _ineligibility(rule: PromoRule, service_id: str, start: datetime, subtotal: int,
                   currency: str) -> str | None:
    if not rule.active:
        return INACTIVE
    if rule.valid_from is not None and start < rule.valid_from:
        return NOT_YET_VALID
    if rule.valid_to is not None and start >= rule.valid_to:
        return EXPIRED
    if rule.service_ids and service_id not in rule.service_ids:
        return OUT_OF_SCOPE
    if rule.currency != currency:
        return CURRENCY_MISMATCH
    if subtotal < rule.min_subtotal:
        return MIN_SUBTOTAL_NOT_MET
    return None


def resolve_discounts(rules: Iterable[PromoRule], *, codes: Iterable[str], service_id: str, start: datetime,
                      subtotal: int, currency: str,
                      exhausted: frozenset[str] | set[str] = frozenset()) -> Resolution:
    """Apply the rules to a pre-discount subtotal (see the module docstring for the order and the base).

    Raises PromoInvalid when a typed code is refused (details.codes = [{"code", "reason"}]) and PromoExhausted
    when a typed code's rule is in ``exhausted``.
    """
    rules = list(rules)
    candidates = _typed_code_rules(rules, codes, service_id, start, subtotal, currency, exhausted)
    not_applied: list[dict] = []
    for rule in rules:
        if rule.code is not None or _ineligibility(rule, service_id, start, subtotal, currency) is not None:
            continue
        if rule.id in exhausted:
            not_applied.append({"ruleId": rule.id, "code": None, "reason": EXHAUSTED})
            continue
        candidates[rule.id] = rule

    applied: list[AppliedDiscount] = []
    remaining = subtotal
    exclusive_applied = False
    for rule in sorted(candidates.values(), key=lambda r: (r.priority, r.id)):
        if exclusive_applied or (not rule.stackable and applied):
            not_applied.append({"ruleId": rule.id, "code": rule.code, "reason": NOT_COMBINABLE})
            continue
        amount = _discount(rule, remaining)
        if amount == 0:
            not_applied.append({"ruleId": rule.id, "code": rule.code, "reason": NOTHING_LEFT})
            continue
        applied.append(AppliedDiscount(rule, amount))
        remaining -= amount
        exclusive_applied = not rule.stackable

    claims = tuple(UsageClaim(d.rule.id, d.rule.global_limit, d.rule.per_customer_limit)
                   for d in applied if d.rule.has_limits)
    return Resolution(applied=tuple(applied), not_applied=tuple(not_applied), usage_claims=claims)


def _typed_code_rules(rules: list[PromoRule], codes: Iterable[str], service_id: str, start: datetime,
                      subtotal: int, currency: str, exhausted: frozenset[str] | set[str]) -> dict[str, PromoRule]:
    """The rules of the codes the customer typed (deduplicated, in order), by rule id. A code that is unknown or
    not eligible raises PromoInvalid; one whose rule is used up raises PromoExhausted."""
    by_code = {normalize_code(rule.code): rule for rule in rules if rule.code is not None}
    candidates: dict[str, PromoRule] = {}
    refused: list[dict] = []
    used_up: list[str] = []
    for raw in dict.fromkeys(normalize_code(c) for c in codes if c and c.strip()):  # dedupe, keep order
        rule = by_code.get(raw)
        reason = UNKNOWN if rule is None else _ineligibility(rule, service_id, start, subtotal, currency)
        if reason is not None:
            refused.append({"code": raw, "reason": reason})
        elif rule.id in exhausted:
            used_up.append(raw)
        else:
            candidates[rule.id] = rule
    if refused:
        raise PromoInvalid(details={"codes": refused})
    if used_up:
        raise PromoExhausted(details={"codes": used_up})
    return candidates


def _discount(rule: PromoRule, remaining: int) -> int:
    amount = round_half_up_bps(remaining, rule.value) if rule.kind == PERCENT else rule.value
    if rule.max_discount is not None:
        amount = min(amount, rule.max_discount)
    return max(0, min(amount, remaining))


# --- dict forms (admin API and storage) ---------------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    from chalicelib.domain.codec import iso_utc
    return iso_utc(moment) if moment is not None else None


def _moment(value: str | None) -> datetime | None:
    from chalicelib.domain.codec import parse_iso
    return parse_iso(value) if value else None


def rule_to_doc(rule: PromoRule) -> dict:
    return {"id": rule.id, "code": rule.code, "kind": rule.kind, "value": rule.value,
            "description": rule.description, "currency": rule.currency, "validFrom": _iso(rule.valid_from),
            "validTo": _iso(rule.valid_to), "serviceIds": list(rule.service_ids),
            "minSubtotal": rule.min_subtotal, "priority": rule.priority, "stackable": rule.stackable,
            "maxDiscount": rule.max_discount, "globalLimit": rule.global_limit,
            "perCustomerLimit": rule.per_customer_limit, "active": rule.active, "version": rule.version}


def is_legacy_doc(doc: dict) -> bool:
    return "kind" not in doc and "code" in doc and ("percentOff" in doc or "amountOff" in doc)


def rule_from_legacy(doc: dict) -> PromoRule:
    """The legacy simple-code form ``{"code": "SPRING10", "percentOff": 10}`` (whole percent) or
    ``{"code": ..., "amountOff": 500, "currency": "USD"}`` (minor units), optionally with ``expiresAt`` and
    ``active``, becomes a stackable code rule with LEGACY_PRIORITY, so codes customers already hold keep
    their value. Raises ValidationFailed when the legacy document is malformed."""
    try:
        code = normalize_code(str(doc["code"]))
        if "percentOff" in doc:
            # Decimal from the text form: "12.5" percent is exactly 1250 bps, no binary float rounding.
            percent = Decimal(str(doc["percentOff"]))
            kind, value = PERCENT, int((percent * 100).to_integral_value(ROUND_HALF_UP))
        else:
            kind, value = FIXED, int(doc["amountOff"])
        rule = PromoRule(id=str(doc.get("id") or f"legacy-{code.lower()}"), code=code, kind=kind, value=value,
                         description=str(doc.get("description") or f"Code {code}"),
                         currency=str(doc.get("currency", "USD")), valid_to=_moment(doc.get("expiresAt")),
                         priority=LEGACY_PRIORITY, stackable=True, active=bool(doc.get("active", True)))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValidationFailed("The legacy promotion code is not valid.", {"reason": str(exc)[:200]}) from exc
    return validate_rule(rule)


def rule_from_doc(doc: dict) -> PromoRule:
    """Stored or submitted rule document (current or legacy form) -> validated PromoRule."""
    if is_legacy_doc(doc):
        return rule_from_legacy(doc)
    try:
        rule = PromoRule(
            id=str(doc["id"]), code=doc.get("code"), kind=str(doc["kind"]), value=int(doc["value"]),
            description=str(doc.get("description", "")), currency=str(doc.get("currency", "USD")),
            valid_from=_moment(doc.get("validFrom")), valid_to=_moment(doc.get("validTo")),
            service_ids=tuple(doc.get("serviceIds") or ()), min_subtotal=int(doc.get("minSubtotal", 0)),
            priority=int(doc.get("priority", 100)), stackable=bool(doc.get("stackable", True)),
            max_discount=_opt_int(doc.get("maxDiscount")), global_limit=_opt_int(doc.get("globalLimit")),
            per_customer_limit=_opt_int(doc.get("perCustomerLimit")), active=bool(doc.get("active", True)),
            version=int(doc.get("version", 1)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed("The promotion rule is not valid.", {"reason": str(exc)[:200]}) from exc
    return validate_rule(rule)


def _opt_int(value) -> int | None:
    return None if value is None else int(value)
