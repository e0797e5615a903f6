"""Bookings priced by the quote resolver; promotion usage limits consumed in the booking transaction and given
back by cancellation (chalice.test.Client + in-process moto)."""
from __future__ import annotations

import json
from datetime import datetime, time, timezone

import pytest

from chalicelib.domain.catalog import Money, Service, ServiceOption, Team, TeamMember, TimeWindow
from devtools.processes import PROJECT_DIR
from tests.integration.conftest import auth
from tests.locations import AT_HOME, TEST_AREAS

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
SAT = "2026-12-05"  # a Saturday: weekend surcharge


@pytest.fixture
def api(tables, app_container, issue_token):
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.dynamodb.catalog_repository import DynamoCatalogRepository
    repo = DynamoCatalogRepository()
    repo.put_service(Service(id="svc", name="Cleaning", category="cleaning", description="", duration_minutes=60,
                             buffer_minutes=0, slot_step_minutes=60, lead_time_minutes=60,
                             base_price=Money(10000), team_ids=("t1",),
                             options=(ServiceOption("oven", "Oven", Money(2550)),)))
    repo.put_team(Team(id="t1", name="NY", timezone="America/New_York",
                       weekly_hours={d: (TimeWindow(time(7), time(20)),) for d in range(7)}, daily_limit=20,
                       slot_capacity=5, service_areas=TEST_AREAS))
    for i in range(5):
        repo.put_member(TeamMember(id=f"m{i}", team_id="t1", display_name=f"M{i}", service_ids=("svc",)))
    app_container.override(clock=lambda: NOW)
    with Client(app, stage_name="test", project_dir=str(PROJECT_DIR)) as c:
        c.tokens = {"a": issue_token("user-a"), "b": issue_token("user-b"),
                    "admin": issue_token("boss", groups=["admin"])}
        yield c


def post(api, path, token, body, key=None):
    headers = {**auth(token), "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    return api.http.post(path, headers=headers, body=json.dumps(body))


def rule(api, **doc):
    r = post(api, "/admin/promo-rules", api.tokens["admin"], {"kind": "percent", "value": 1000, **doc})
    assert r.status_code == 201, r.body
    return json.loads(r.body)


def book(api, who, key, hour=9, day=SAT, **extra):
    body = {"serviceId": "svc", "start": f"{day}T{hour:02d}:00:00-05:00", "paymentMethod": "COD", **AT_HOME,
            **extra}
    return post(api, "/portal/service-requests", api.tokens[who], body, key)


def usage(rule_id, user=None):
    """Uses by everyone (the sum of the rule's shards), or by `user`."""
    from chalicelib.adapters.dynamodb.models import CatalogItem
    from chalicelib.adapters.dynamodb.promo_repository import DynamoPromoRepository, usage_key
    if user is None:
        return DynamoPromoRepository(None, "us-east-1").usage(rule_id)
    try:
        return int(CatalogItem.get(*usage_key(rule_id, user), consistent_read=True).uses or 0)
    except CatalogItem.DoesNotExist:
        return 0


def day_count():
    from tests.capacity_view import flat_counters
    return flat_counters().get(f"{SAT}#T#t1#DAY", 0)


def test_stored_price_equals_the_quote_for_the_same_input(api):
    rule(api, code="SAVE10", value=1000)
    rule(api, id="auto5", value=500, priority=5)  # automatic, applied first
    booked = book(api, "a", "k1", hour=19, options=["oven"], promoCodes=["save10"])  # weekend + after hours
    assert booked.status_code == 201, booked.body
    quote = post(api, "/pricing/quote", api.tokens["a"], {
        "serviceId": "svc", "start": f"{SAT}T19:00:00-05:00", "tz": "America/New_York", "teamId": "t1",
        "options": ["oven"], "promoCodes": ["save10"]})
    assert quote.status_code == 200, quote.body
    stored = json.loads(booked.body)["price"]
    assert {k: v for k, v in stored.items() if k != "usageClaims"} == json.loads(quote.body)["quote"]
    assert [line["kind"] for line in stored["lines"]].count("SURCHARGE") == 2
    assert stored["appliedRules"][0] == "auto5" and len(stored["appliedRules"]) == 2


def test_an_invalid_code_is_refused_before_anything_is_written(api):
    r = book(api, "a", "k-bad", promoCodes=["NOPE"])
    assert r.status_code == 422 and json.loads(r.body)["error"]["code"] == "PROMO_INVALID"
    assert day_count() == 0
    replay = book(api, "a", "k-bad", promoCodes=["NOPE"])  # a deterministic refusal is replayed
    assert replay.status_code == 422 and replay.headers.get("Idempotent-Replayed") == "true"


def test_a_spent_code_is_409_and_cancelling_gives_the_use_back(api):
    promo = rule(api, code="ONCE", value=2000, globalLimit=1)
    first = book(api, "a", "k1", promoCodes=["ONCE"])
    assert first.status_code == 201 and json.loads(first.body)["price"]["discount"] == 2300  # 20 % of 11500
    assert usage(promo["id"]) == 1
    second = book(api, "b", "k2", hour=10, promoCodes=["ONCE"])
    assert second.status_code == 409, second.body
    assert json.loads(second.body)["error"]["code"] == "PROMO_EXHAUSTED"
    assert day_count() == 1 and usage(promo["id"]) == 1
    cancelled = post(api, f"/portal/service-requests/{json.loads(first.body)['id']}/cancel", api.tokens["a"], {})
    assert cancelled.status_code == 200, cancelled.body
    assert usage(promo["id"]) == 0 and day_count() == 0
    again = book(api, "b", "k3", hour=10, promoCodes=["ONCE"])
    assert again.status_code == 201 and json.loads(again.body)["price"]["discount"] == 2300
    assert usage(promo["id"]) == 1


def test_the_transaction_decides_when_the_counters_read_was_stale(api, app_container):
    """Counters read before booking are display-grade: force them to look unspent and the transaction still
    refuses the typed code (409) and prices the automatic rule out (201 without it)."""
    code_rule = rule(api, code="ONCE", value=1000, globalLimit=1)
    auto_rule = rule(api, id="auto-once", value=500, globalLimit=1, perCustomerLimit=1)
    assert book(api, "a", "k1", promoCodes=["ONCE"]).status_code == 201
    assert usage(code_rule["id"]) == 1 and usage(auto_rule["id"]) == 1 and usage(auto_rule["id"], "user-a") == 1
    app_container.promotions.exhausted_rule_ids = lambda rules, user=None: set()  # stale reader
    refused = book(api, "b", "k2", hour=10, promoCodes=["ONCE"])
    assert refused.status_code == 409 and json.loads(refused.body)["error"]["code"] == "PROMO_EXHAUSTED"
    assert json.loads(refused.body)["error"]["details"]["codes"] == ["ONCE"]
    plain = book(api, "b", "k3", hour=11)
    assert plain.status_code == 201, plain.body
    assert json.loads(plain.body)["price"]["discount"] == 0
    stored = app_container.requests.get(json.loads(plain.body)["id"])  # usage claims are internal, not answered
    assert stored.price["usageClaims"] == []
    assert usage(auto_rule["id"]) == 1 and usage(auto_rule["id"], "user-b") == 0 and day_count() == 2


def test_a_per_customer_limit_counts_per_customer(api):
    promo = rule(api, code="WELCOME", value=1000, perCustomerLimit=1)
    assert book(api, "a", "k1", promoCodes=["WELCOME"]).status_code == 201
    again = book(api, "a", "k2", hour=10, promoCodes=["WELCOME"])
    assert again.status_code == 409 and json.loads(again.body)["error"]["code"] == "PROMO_EXHAUSTED"
    assert book(api, "b", "k3", hour=11, promoCodes=["WELCOME"]).status_code == 201
    assert usage(promo["id"], "user-a") == 1 and usage(promo["id"], "user-b") == 1


def shard_uses(rule_id):
    from chalicelib.adapters.dynamodb.models import CatalogItem
    return {i.sk: int(i.uses or 0) for i in CatalogItem.query(f"PROMO#{rule_id}", CatalogItem.sk.startswith("SHARD#"),
                                                            consistent_read=True)}


def test_a_shard_taken_meanwhile_sends_the_booking_to_another_and_cancel_gives_back_to_it(api, app_container):
    """Shard reads forced to say every shard has room and the lowest always chosen, as if each booking raced
    one that took its shard: the transaction refuses the full shard, the booking is priced again in another,
    and only when every shard is full is the code PROMO_EXHAUSTED."""
    from chalicelib.services.booking_pricing import BookingPricer

    trio = rule(api, code="TRIO", value=1000, globalLimit=3)
    app_container.override(price=BookingPricer(app_container.promotion_rules, app_container.pricing_policy,
                                               choose=min))
    real_read = app_container.promotions.shards_with_room
    app_container.promotions.shards_with_room = lambda limits: {r: list(range(min(n, 10))) for r, n in limits.items()}
    booked = [json.loads(book(api, "a", f"k{hour}", hour=hour, promoCodes=["TRIO"]).body) for hour in (9, 10, 11)]
    def shard_of(answer: dict) -> int:  # usage claims are internal: read from the stored request
        return app_container.requests.get(answer["id"]).price["usageClaims"][0]["shard"]

    assert [shard_of(b) for b in booked] == [0, 1, 2]
    assert all(b["price"]["discount"] > 0 for b in booked)
    refused = book(api, "b", "k12", hour=12, promoCodes=["TRIO"])
    assert refused.status_code == 409, refused.body
    assert json.loads(refused.body)["error"]["code"] == "PROMO_EXHAUSTED"
    assert json.loads(refused.body)["error"]["details"]["codes"] == ["TRIO"]
    assert usage(trio["id"]) == 3 and day_count() == 3
    cancelled = post(api, f"/portal/service-requests/{booked[1]['id']}/cancel", api.tokens["a"], {})
    assert cancelled.status_code == 200, cancelled.body
    assert shard_uses(trio["id"]) == {"SHARD#0": 1, "SHARD#1": 0, "SHARD#2": 1}  # back where it was taken
    app_container.promotions.shards_with_room = real_read
    again = json.loads(book(api, "b", "k13", hour=13, promoCodes=["TRIO"]).body)
    assert shard_of(again) == 1 and usage(trio["id"]) == 3
