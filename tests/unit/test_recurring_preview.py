"""Recurring preview use case with in-memory fakes: occurrences, injected availability, prices, totals."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.domain.catalog import Catalog, Money, Service, Team
from chalicelib.domain.errors import NotFound, ValidationFailed
from chalicelib.domain.pricing import PricingPolicy
from chalicelib.domain.promotions import PromoRule
from chalicelib.services.recurrence import PreviewRequest, check_from_day_slots, preview

UTC = timezone.utc
SERVICE = Service(id="svc", name="Cleaning", category="c", description="", duration_minutes=60, buffer_minutes=0,
                  slot_step_minutes=30, lead_time_minutes=0, base_price=Money(10000), team_ids=("t-ny",))
TEAM = Team(id="t-ny", name="NY", timezone="America/New_York", weekly_hours={}, daily_limit=5, slot_capacity=1)
CATALOG = Catalog(services={"svc": SERVICE}, teams={"t-ny": TEAM})


class FakePromotions:
    def __init__(self, rules=(), exhausted=()):
        self.rules, self.exhausted = list(rules), set(exhausted)

    def list_rules(self):
        return self.rules

    def refresh(self):
        return self.rules

    def exhausted_rule_ids(self, rules, user_id=None):
        return self.exhausted & {r.id for r in rules}


def request(**kw):
    return PreviewRequest(**{"service_id": "svc", "start": datetime(2026, 10, 19, 13, 0, tzinfo=UTC),
                             "tz": "America/New_York", "rrule": "FREQ=WEEKLY;COUNT=4", **kw})


def test_each_occurrence_gets_its_check_result_and_price():
    seen = []

    def check(service_id, team, start):
        seen.append((service_id, team.id, start))
        return "SLOT_FULL" if start.day == 2 else "AVAILABLE"

    rules = [PromoRule(id="nov", kind="fixed", value=1000, valid_from=datetime(2026, 11, 1, tzinfo=UTC)),
             PromoRule(id="coded", kind="percent", value=5000, code="HALF")]
    out = preview(CATALOG, FakePromotions(rules), PricingPolicy(), request(), check)
    series = out["series"]
    assert [o["availability"] for o in series["occurrences"]] == ["AVAILABLE", "AVAILABLE", "SLOT_FULL",
                                                                  "AVAILABLE"]
    assert (out["available"], out["conflicts"]) == (3, 1)
    assert [o["localStart"][11:] for o in series["occurrences"]] == ["09:00:00-04:00"] * 2 + ["09:00:00-05:00"] * 2
    assert [s[2].hour for s in seen] == [13, 13, 14, 14] and {s[:2] for s in seen} == {("svc", "t-ny")}
    # Only automatic rules apply to a preview (no codes are typed): November occurrences get 1000 off.
    assert [o["quote"]["total"] for o in series["occurrences"]] == [10000, 10000, 9000, 9000]
    assert series["total"] == 38000


def test_exhausted_automatic_rule_is_shown_as_not_applied():
    rules = [PromoRule(id="auto", kind="fixed", value=500, global_limit=1)]
    out = preview(CATALOG, FakePromotions(rules, exhausted={"auto"}), PricingPolicy(), request(),
                  lambda *a: "AVAILABLE")
    first = out["series"]["occurrences"][0]["quote"]
    assert first["total"] == 10000 and first["notApplied"][0]["reason"] == "EXHAUSTED"


def test_invalid_input_raises_before_any_check():
    def check(*args):
        raise AssertionError("must not be called")

    with pytest.raises(ValidationFailed):
        preview(CATALOG, FakePromotions(), PricingPolicy(), request(rrule="FREQ=DAILY;COUNT=2"), check)
    with pytest.raises(ValidationFailed):
        preview(CATALOG, FakePromotions(), PricingPolicy(), request(tz="Nowhere/Land"), check)
    with pytest.raises(NotFound):
        preview(CATALOG, FakePromotions(), PricingPolicy(), request(service_id="nope"), check)


def test_check_from_day_slots_maps_slots_to_codes():
    calls = []

    def day_slots(service_id, local_day, team_id):
        calls.append((service_id, local_day, team_id))
        return [{"start": "2026-11-02T09:00:00-05:00", "remaining": 1},
                {"start": "2026-11-02T10:00:00-05:00", "remaining": 0}]

    check = check_from_day_slots(day_slots)
    assert check("svc", TEAM, datetime(2026, 11, 2, 14, 0, tzinfo=UTC)) == "AVAILABLE"
    assert check("svc", TEAM, datetime(2026, 11, 2, 15, 0, tzinfo=UTC)) == "SLOT_FULL"
    assert check("svc", TEAM, datetime(2026, 11, 2, 16, 0, tzinfo=UTC)) == "SLOT_UNAVAILABLE"
    # 03:00 UTC on the 3rd is still the 2nd in New York: the team-local date is asked for.
    check("svc", TEAM, datetime(2026, 11, 3, 3, 0, tzinfo=UTC))
    assert calls[-1] == ("svc", "2026-11-02", "t-ny")
