"""Price resolver and promotion rules: lines, surcharges in local time, rounding, priority/stacking/caps/floor."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.catalog import Money, Service, ServiceOption
from chalicelib.domain.errors import PromoExhausted, PromoInvalid, ValidationFailed
from chalicelib.domain.pricing import PricingPolicy, price
from chalicelib.domain.promotions import (PromoRule, claims_from_doc, claims_to_doc, round_half_up_bps,
                                          rule_from_doc, rule_from_legacy, rule_to_doc, validate_rule)

UTC = timezone.utc
SERVICE = Service(id="svc-clean", name="Home cleaning", category="cleaning", description="", duration_minutes=120,
                  buffer_minutes=0, slot_step_minutes=30, lead_time_minutes=0, base_price=Money(10000),
                  team_ids=("team-a",), options=(ServiceOption("oven", "Oven", Money(2500)),
                                                 ServiceOption("fridge", "Fridge", Money(1999))))
# Wednesday 2026-03-04 10:00 in New York: business hours, weekday -> no surcharge, subtotal = base.
WEEKDAY_10AM_NY = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
NY = "America/New_York"


def rule(id: str, kind: str = "percent", value: int = 1000, **kw) -> PromoRule:
    return PromoRule(id=id, kind=kind, value=value, **kw)


def quote(rules=(), codes=(), start=WEEKDAY_10AM_NY, zone=NY, **kw):
    return price(SERVICE, start, zone, rules=rules, promo_codes=codes, **kw)


# --- rule resolution: one table for priority, exclusivity, stacking, caps and the zero floor ----------------
# subtotal is 10000 in every row; `expected` = (applied rule ids in order, discount, not-applied reasons)
RESOLUTION_TABLE = [
    ("one percent rule", [rule("a", value=1000)], (["a"], 1000, {})),
    ("stack: each on the amount left by the previous",
     [rule("a", value=1000, priority=1), rule("b", "fixed", 500, priority=2)], (["a", "b"], 1500, {})),
    ("lower priority number applies first (fixed first changes the percent base)",
     [rule("a", value=1000, priority=2), rule("b", "fixed", 500, priority=1)], (["b", "a"], 500 + 950, {})),
    ("equal priority: by id (r1 fixed first)",
     [rule("r2", value=1000, priority=5), rule("r1", "fixed", 500, priority=5)], (["r1", "r2"], 1450, {})),
    ("equal priority: by id (r1 percent first)",
     [rule("r1", value=1000, priority=5), rule("r2", "fixed", 500, priority=5)], (["r1", "r2"], 1500, {})),
    ("exclusive applied first stops the others",
     [rule("x", value=2000, priority=1, stackable=False), rule("a", value=1000, priority=2)],
     (["x"], 2000, {"a": "NOT_COMBINABLE"})),
    ("exclusive reached after another rule is not combined",
     [rule("a", value=1000, priority=1), rule("x", value=2000, priority=2, stackable=False)],
     (["a"], 1000, {"x": "NOT_COMBINABLE"})),
    ("two exclusives: only the first",
     [rule("x2", value=3000, priority=3, stackable=False), rule("x1", value=500, priority=3, stackable=False)],
     (["x1"], 500, {"x2": "NOT_COMBINABLE"})),
    ("cap on a percent rule", [rule("a", value=5000, max_discount=1500)], (["a"], 1500, {})),
    ("cap on a fixed rule", [rule("a", "fixed", 4000, max_discount=1000)], (["a"], 1000, {})),
    ("cap then stacking uses the capped amount",
     [rule("a", value=5000, max_discount=1500, priority=1), rule("b", value=1000, priority=2)],
     (["a", "b"], 1500 + 850, {})),
    ("fixed above the subtotal floors at zero", [rule("a", "fixed", 25000)], (["a"], 10000, {})),
    ("stacked fixed rules floor at zero; a rule with nothing left is skipped",
     [rule("a", "fixed", 8000, priority=1), rule("b", "fixed", 5000, priority=2), rule("c", priority=3)],
     (["a", "b"], 10000, {"c": "NOTHING_LEFT"})),
    ("100 % percent rule then a fixed rule",
     [rule("a", value=10000, priority=1), rule("b", "fixed", 100, priority=2)], (["a"], 10000,
                                                                               {"b": "NOTHING_LEFT"})),
    ("minimum subtotal not met: automatic rule silently left out",
     [rule("a", min_subtotal=10001), rule("b", "fixed", 100)], (["b"], 100, {})),
    ("inactive, expired, out-of-scope automatic rules left out",
     [rule("a", active=False), rule("b", valid_to=WEEKDAY_10AM_NY),
      rule("c", service_ids=("svc-other",)), rule("d", "fixed", 1)], (["d"], 1, {})),
]


@pytest.mark.parametrize("name,rules,expected", RESOLUTION_TABLE, ids=[r[0] for r in RESOLUTION_TABLE])
def test_rule_resolution_table(name, rules, expected):
    applied, discount, skipped = expected
    q = quote(rules)
    assert q.subtotal == 10000
    assert list(q.applied_rules) == applied
    assert q.discount == discount
    assert q.total == 10000 - discount >= 0
    assert {x["ruleId"]: x["reason"] for x in q.not_applied} == skipped
    assert sum(line.amount for line in q.lines) == q.total


def test_resolution_does_not_depend_on_input_order():
    rules = [rule("a", value=1000, priority=2), rule("b", "fixed", 700, priority=1),
             rule("c", value=500, priority=2, max_discount=300), rule("x", value=9000, priority=3, stackable=False)]
    results = {quote(perm).to_dict().__repr__() for perm in (rules, rules[::-1], rules[1:] + rules[:1])}
    assert len(results) == 1


# --- codes typed by the customer ------------------------------------------------------------------------------
def test_code_is_case_insensitive_and_deduplicated():
    q = quote([rule("spring", code="SPRING10")], codes=[" spring10 ", "SPRING10"])
    assert q.applied_rules == ("spring",) and q.discount == 1000
    assert q.lines[-1].code == "SPRING10" and q.lines[-1].amount == -1000


def test_code_rule_only_applies_when_typed():
    assert quote([rule("spring", code="SPRING10")]).discount == 0


@pytest.mark.parametrize("rule_kw,reason", [
    ({"active": False}, "INACTIVE"),
    ({"valid_to": WEEKDAY_10AM_NY}, "EXPIRED"),  # validTo is exclusive
    ({"valid_from": WEEKDAY_10AM_NY + timedelta(seconds=1)}, "NOT_YET_VALID"),
    ({"service_ids": ("svc-other",)}, "OUT_OF_SCOPE"),
    ({"min_subtotal": 10001}, "MIN_SUBTOTAL_NOT_MET"),
    ({"currency": "EUR"}, "CURRENCY_MISMATCH"),
])
def test_refused_code_says_why(rule_kw, reason):
    with pytest.raises(PromoInvalid) as info:
        quote([rule("p", code="PROMO", **rule_kw)], codes=["promo"])
    assert info.value.details == {"codes": [{"code": "PROMO", "reason": reason}]}


def test_every_refused_code_is_listed():
    rules = [rule("ok", code="GOOD"), rule("old", code="OLD", valid_to=datetime(2025, 1, 1, tzinfo=UTC))]
    with pytest.raises(PromoInvalid) as info:
        quote(rules, codes=["GOOD", "NOPE", "OLD"])
    assert info.value.details["codes"] == [{"code": "NOPE", "reason": "UNKNOWN"},
                                           {"code": "OLD", "reason": "EXPIRED"}]


def test_validity_window_is_inclusive_start_exclusive_end():
    r = rule("p", code="P", valid_from=WEEKDAY_10AM_NY, valid_to=WEEKDAY_10AM_NY + timedelta(minutes=1))
    assert quote([r], codes=["P"]).discount == 1000


def test_exhausted_code_raises_and_exhausted_automatic_rule_is_skipped():
    with pytest.raises(PromoExhausted):
        quote([rule("p", code="P", global_limit=3)], codes=["P"], exhausted={"p"})
    q = quote([rule("auto", global_limit=3), rule("b", "fixed", 100)], exhausted={"auto"})
    assert q.applied_rules == ("b",)
    assert q.not_applied == ({"ruleId": "auto", "code": None, "reason": "EXHAUSTED"},)


def test_usage_claims_list_only_applied_rules_with_limits():
    rules = [rule("g", global_limit=3, priority=1), rule("c", "fixed", 100, per_customer_limit=1, priority=2),
             rule("free", "fixed", 50, priority=3), rule("x", priority=4, stackable=False, global_limit=9)]
    q = quote(rules)
    assert q.applied_rules == ("g", "c", "free")
    assert [(c.rule_id, c.global_limit, c.per_customer_limit) for c in q.usage_claims] == [
        ("g", 3, None), ("c", None, 1)]


def test_usage_claims_round_trip_through_their_stored_form():
    q = quote([rule("g", global_limit=3), rule("c", "fixed", 100, per_customer_limit=1)])
    assert claims_from_doc(claims_to_doc(q.usage_claims)) == q.usage_claims
    assert claims_to_doc(q.usage_claims) == [{"ruleId": "c", "globalLimit": None, "perCustomerLimit": 1},
                                             {"ruleId": "g", "globalLimit": 3, "perCustomerLimit": None}]


# --- legacy simple codes ----------------------------------------------------------------------------------------
def test_legacy_percent_code_keeps_working():
    legacy = rule_from_legacy({"code": "spring10", "percentOff": 10})
    assert (legacy.code, legacy.kind, legacy.value, legacy.stackable) == ("SPRING10", "percent", 1000, True)
    assert quote([legacy], codes=["Spring10"]).discount == 1000


def test_legacy_forms_via_rule_from_doc():
    assert rule_from_doc({"code": "HALF", "percentOff": "12.5"}).value == 1250
    fixed = rule_from_doc({"code": "FIVE", "amountOff": 500, "expiresAt": "2026-01-01T00:00:00Z"})
    assert (fixed.kind, fixed.value, fixed.valid_to) == ("fixed", 500, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(PromoInvalid):
        quote([fixed], codes=["five"])  # expired
    with pytest.raises(ValidationFailed):
        rule_from_doc({"code": "BAD", "percentOff": "lots"})


def test_rule_document_round_trip():
    r = validate_rule(rule("p", code="abc-1", valid_from=WEEKDAY_10AM_NY, service_ids=("svc-clean",),
                           max_discount=900, global_limit=5, per_customer_limit=1, stackable=False, priority=7))
    assert rule_from_doc(rule_to_doc(r)) == r


@pytest.mark.parametrize("kw,field", [
    ({"value": 0}, "value"), ({"value": 10001}, "value"), ({"kind": "bogo"}, "kind"),
    ({"code": "x"}, "code"), ({"id": "has space"}, "id"), ({"global_limit": 0}, "globalLimit"),
    ({"max_discount": 0}, "maxDiscount"), ({"min_subtotal": -1}, "minSubtotal"),
    ({"valid_from": WEEKDAY_10AM_NY, "valid_to": WEEKDAY_10AM_NY}, "validTo"),
    ({"valid_from": datetime(2026, 1, 1)}, "validFrom"), ({"currency": "usd"}, "currency"),
])
def test_invalid_rules_are_rejected_with_the_field(kw, field):
    with pytest.raises(ValidationFailed) as info:
        validate_rule(rule(**{"id": "p", **kw}))
    assert field in [f["field"] for f in info.value.details["fields"]]


# --- lines, options, surcharges --------------------------------------------------------------------------------
def test_lines_explain_base_options_and_sum_to_total():
    q = quote(option_ids=["fridge", "oven"])
    assert [(line.kind, line.code, line.amount) for line in q.lines] == [
        ("BASE", "svc-clean", 10000), ("OPTION", "fridge", 1999), ("OPTION", "oven", 2500)]
    assert q.subtotal == q.total == 14499 and q.discount == 0
    doc = q.to_dict()
    assert set(doc) >= {"currency", "lines", "subtotal", "discount", "total", "appliedRules"}
    assert all(isinstance(line["amount"], int) for line in doc["lines"])


def test_unknown_or_repeated_option_is_a_validation_error_with_details():
    with pytest.raises(ValidationFailed) as info:
        quote(option_ids=["oven", "garage", "oven"])
    assert info.value.details["unknownOptions"] == ["garage"]
    assert info.value.details["repeatedOptions"] == ["oven"]
    assert info.value.details["validOptions"] == ["fridge", "oven"]


def surcharge_codes(q):
    return [line.code for line in q.lines if line.kind == "SURCHARGE"]


# One instant, Friday 2026-03-06 23:30 UTC, seen by teams in four zones.
@pytest.mark.parametrize("zone,expected", [
    ("America/Los_Angeles", []),  # Fri 15:30
    ("America/New_York", ["AFTER_HOURS"]),  # Fri 18:30
    ("Europe/Berlin", ["WEEKEND", "AFTER_HOURS"]),  # Sat 00:30
    ("Asia/Tokyo", ["WEEKEND"]),  # Sat 08:30
])
def test_surcharges_are_judged_in_the_team_local_time(zone, expected):
    assert surcharge_codes(quote(start=datetime(2026, 3, 6, 23, 30, tzinfo=UTC), zone=zone)) == expected


@pytest.mark.parametrize("local,after_hours", [("07:59", True), ("08:00", False), ("17:59", False),
                                               ("18:00", True), ("23:00", True)])
def test_business_hours_boundaries(local, after_hours):
    hour, minute = map(int, local.split(":"))
    from zoneinfo import ZoneInfo
    start = datetime(2026, 3, 4, hour, minute, tzinfo=ZoneInfo(NY))
    assert ("AFTER_HOURS" in surcharge_codes(quote(start=start))) is after_hours


def test_surcharges_each_on_the_service_amount_and_cumulative():
    # Saturday 2026-03-07 20:00 New York, emergency, with an option: service amount 12500.
    start = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    q = quote(start=start, option_ids=["oven"], emergency=True,
              policy=PricingPolicy(weekend_bps=1500, after_hours_bps=2500, emergency_bps=5000))
    lines = {line.code: line.amount for line in q.lines if line.kind == "SURCHARGE"}
    assert lines == {"WEEKEND": 1875, "AFTER_HOURS": 3125, "EMERGENCY": 6250}
    assert q.subtotal == 12500 + 1875 + 3125 + 6250


def test_discount_base_includes_surcharges():
    q = quote([rule("a", value=1000)], emergency=True)  # 10000 + 50 % = 15000
    assert (q.subtotal, q.discount, q.total) == (15000, 1500, 13500)


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        PricingPolicy(weekend_bps=-1)


def test_naive_start_and_unknown_zone_are_validation_errors():
    with pytest.raises(ValidationFailed):
        quote(start=datetime(2026, 3, 4, 10, 0))
    with pytest.raises(ValidationFailed):
        quote(zone="Mars/Olympus")


# --- rounding ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("amount,bps,expected", [
    (1, 5000, 1),  # 0.5 -> 1 (half up)
    (1, 4999, 0),  # 0.4999 -> 0
    (3, 1500, 0),  # 0.45 -> 0
    (10, 1500, 2),  # 1.5 -> 2
    (12345, 2500, 3086),  # 3086.25 -> 3086
    (19999, 5000, 10000),  # 9999.5 -> 10000
    (0, 1234, 0),
])
def test_round_half_up_examples(amount, bps, expected):
    assert round_half_up_bps(amount, bps) == expected


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**5))
def test_round_half_up_matches_exact_rational_rounding(amount, bps):
    exact = Fraction(amount * bps, 10000)
    floor = exact.numerator // exact.denominator
    expected = floor + (1 if exact - floor >= Fraction(1, 2) else 0)
    assert round_half_up_bps(amount, bps) == expected


def test_rounding_of_surcharge_and_percent_discount_on_odd_amounts():
    odd = Service(**{**SERVICE.__dict__, "base_price": Money(999), "options": ()})
    # Saturday 12:00 New York, 15 % weekend on 999 = 149.85 -> 150; subtotal 1149; 10 % = 114.9 -> 115.
    q = price(odd, datetime(2026, 3, 7, 17, 0, tzinfo=UTC), NY, rules=[rule("a", value=1000)])
    assert [line.amount for line in q.lines] == [999, 150, -115]
    assert (q.subtotal, q.discount, q.total) == (1149, 115, 1034)


rule_strategy = st.builds(
    lambda i, kind, value, prio, stack, cap: PromoRule(
        id=f"r{i}", kind=kind, value=value if kind == "fixed" else min(value, 10000), priority=prio,
        stackable=stack, max_discount=cap),
    st.integers(0, 50), st.sampled_from(["percent", "fixed"]), st.integers(1, 30000), st.integers(0, 5),
    st.booleans(), st.none() | st.integers(1, 20000))


@settings(max_examples=200)
@given(st.lists(rule_strategy, max_size=6, unique_by=lambda r: r.id), st.booleans())
def test_any_rule_set_keeps_invariants(rules, emergency):
    q = quote(rules, emergency=emergency)
    assert 0 <= q.total <= q.subtotal
    assert sum(line.amount for line in q.lines) == q.total
    assert q.discount == q.subtotal - q.total
    by_id = {r.id: r for r in rules}
    discounts = [-line.amount for line in q.lines if line.kind == "DISCOUNT"]
    for rule_id, amount in zip(q.applied_rules, discounts):
        cap = by_id[rule_id].max_discount
        assert 0 < amount and (cap is None or amount <= cap)
    exclusive = [rid for rid in q.applied_rules if not by_id[rid].stackable]
    assert not exclusive or q.applied_rules == tuple(exclusive)
