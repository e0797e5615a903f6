"""Admin CRUD for promotion rules over chalice.test.Client + moto, unique codes, audit, usage counters."""
from __future__ import annotations

import random
import threading

import pytest
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from tests.integration.conftest import auth

RULES = "/admin/promo-rules"


def create(client, tokens, **body):
    doc = {"kind": "percent", "value": 1000, **body}
    return client.http.post(RULES, headers={**auth(tokens["admin"]), "Content-Type": "application/json"},
                            body=_json(doc))


def put(client, tokens, rule_id, **body):
    doc = {"kind": "percent", "value": 1000, **body}
    return client.http.put(f"{RULES}/{rule_id}", headers={**auth(tokens["admin"]),
                                                          "Content-Type": "application/json"}, body=_json(doc))


def _json(doc) -> str:
    import json
    return json.dumps(doc)


def quote(client, code=None, service="cleaning"):
    body = {"serviceId": service, "start": "2026-12-02T15:00:00Z", "tz": "America/New_York",
            "promoCodes": [code] if code else []}
    return client.http.post("/pricing/quote", headers={"Content-Type": "application/json"}, body=_json(body))


def test_admin_routes_require_an_admin(client, tokens):
    assert client.http.get(RULES).status_code == 401
    forbidden = client.http.get(RULES, headers=auth(tokens["userA"]))
    assert forbidden.status_code == 403 and forbidden.json_body["error"]["code"] == "FORBIDDEN"
    assert create(client, {"admin": tokens["userA"]}, code="NOPE").status_code == 403


def test_create_read_list_and_audit(client, tokens, app_container):
    created = create(client, tokens, id="spring", code=" spring10 ", description="Spring sale", priority=5,
                     globalLimit=100, validTo="2027-01-01T00:00:00Z")
    assert created.status_code == 201, created.json_body
    rule = created.json_body
    assert (rule["id"], rule["code"], rule["version"], rule["active"]) == ("spring", "SPRING10", 1, True)
    assert rule["validTo"] == "2027-01-01T00:00:00Z"

    fetched = client.http.get(f"{RULES}/spring", headers=auth(tokens["admin"]))
    assert fetched.status_code == 200 and fetched.json_body == rule
    auto = create(client, tokens, kind="fixed", value=500, priority=1).json_body
    assert auto["id"].startswith("promo_") and auto["code"] is None
    listed = client.http.get(RULES, headers=auth(tokens["admin"])).json_body["items"]
    assert [r["id"] for r in listed] == [auto["id"], "spring"]  # priority order

    entries = app_container.audit.for_entity("PROMO#spring")
    assert [(e["action"], e["actor"], e["before"]) for e in entries] == [
        ("promo_rule.created", "admin:admin-1", None)]
    assert entries[0]["after"] == rule


def test_promo_rules_do_not_disturb_the_catalog(client, tokens):
    assert create(client, tokens, id="r1", code="CAT").status_code == 201
    services = client.http.get("/services").json_body["items"]
    assert sorted(s["id"] for s in services) == ["cleaning", "electrical", "plumbing"]


def test_codes_and_ids_are_unique(client, tokens):
    assert create(client, tokens, id="a", code="SAVE").status_code == 201
    same_code = create(client, tokens, id="b", code="save")
    assert same_code.status_code == 409
    assert same_code.json_body["error"] == {"code": "ALREADY_EXISTS", "message": same_code.json_body["error"]
                                            ["message"], "details": {"code": "SAVE"}}
    same_id = create(client, tokens, id="a", code="OTHER")
    assert same_id.status_code == 409 and same_id.json_body["error"]["details"] == {"id": "a"}
    # The failed create of "a"/OTHER must not have left OTHER reserved.
    assert create(client, tokens, id="c", code="OTHER").status_code == 201
    assert client.http.get(f"{RULES}/b", headers=auth(tokens["admin"])).status_code == 404


def test_concurrent_creates_of_one_code_only_one_wins(client, tokens):
    results = []

    def attempt(i):
        results.append(create(client, tokens, id=f"race-{i}", code="RACE").status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 7


@pytest.mark.parametrize("body,field", [
    ({"value": 10001}, "value"),
    ({"value": 0}, "value"),
    ({"kind": "bogo"}, "kind"),
    ({"value": "10"}, "value"),
    ({"surprise": True}, "surprise"),
    ({"validFrom": "2026-12-01T00:00:00Z", "validTo": "2026-11-01T00:00:00Z"}, "validTo"),
    ({"validFrom": "2026-12-01T00:00:00"}, "validFrom"),
    ({"globalLimit": 0}, "globalLimit"),
    ({"code": "has space"}, "code"),
])
def test_invalid_rules_are_400_naming_the_field(client, tokens, body, field):
    response = create(client, tokens, **body)
    assert response.status_code == 400
    error = response.json_body["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert any(f["field"] == field for f in error["details"]["fields"]), error


def test_update_moves_the_code_and_is_audited(client, tokens, app_container):
    create(client, tokens, id="r", code="OLD")
    updated = put(client, tokens, "r", code="NEW", value=2000, reason="rebrand")
    assert updated.status_code == 200, updated.json_body
    assert (updated.json_body["code"], updated.json_body["value"], updated.json_body["version"]) == ("NEW", 2000, 2)
    assert create(client, tokens, id="other", code="OLD").status_code == 201  # released
    assert create(client, tokens, id="third", code="NEW").status_code == 409  # reserved
    last = app_container.audit.for_entity("PROMO#r")[-1]
    assert (last["action"], last["reason"], last["before"]["code"], last["after"]["code"]) == (
        "promo_rule.updated", "rebrand", "OLD", "NEW")


def test_update_to_a_taken_code_changes_nothing(client, tokens):
    create(client, tokens, id="a", code="AAA")
    create(client, tokens, id="b", code="BBB")
    clash = put(client, tokens, "b", code="AAA")
    assert clash.status_code == 409 and clash.json_body["error"]["code"] == "ALREADY_EXISTS"
    b = client.http.get(f"{RULES}/b", headers=auth(tokens["admin"])).json_body
    assert (b["code"], b["version"]) == ("BBB", 1)
    assert quote(client, "bbb").status_code == 200  # its own code still works


def test_update_checks_the_path_and_existence(client, tokens):
    create(client, tokens, id="a", code="AAA")
    assert put(client, tokens, "a", id="b").status_code == 400
    assert put(client, tokens, "missing").status_code == 404
    assert client.http.get(f"{RULES}/missing", headers=auth(tokens["admin"])).status_code == 404
    assert client.http.delete(f"{RULES}/missing", headers=auth(tokens["admin"])).status_code == 404


def test_stale_version_update_is_refused(client, tokens, app_container):
    from dataclasses import replace

    from chalicelib.domain.errors import ConcurrentUpdate

    create(client, tokens, id="a", code="AAA")
    repo = app_container.promotions
    read_by_first, read_by_second = repo.get("a"), repo.get("a")
    repo.update(read_by_first, replace(read_by_first, value=1500))
    with pytest.raises(ConcurrentUpdate):
        repo.update(read_by_second, replace(read_by_second, value=9000))
    assert repo.get("a").value == 1500


def test_delete_deactivates_keeps_the_code_and_is_idempotent(client, tokens, app_container):
    create(client, tokens, id="a", code="GONE")
    assert quote(client, "gone").status_code == 200
    deleted = client.http.delete(f"{RULES}/a?reason=ended%20early", headers=auth(tokens["admin"]))
    assert deleted.status_code == 200 and deleted.json_body["active"] is False
    again = client.http.delete(f"{RULES}/a", headers=auth(tokens["admin"]))
    assert again.status_code == 200 and again.json_body["version"] == deleted.json_body["version"]
    actions = [(e["action"], e["reason"]) for e in app_container.audit.for_entity("PROMO#a")]
    assert actions == [("promo_rule.created", None), ("promo_rule.deactivated", "ended early")]
    refused = quote(client, "gone")
    assert refused.status_code == 422
    assert refused.json_body["error"]["details"] == {"codes": [{"code": "GONE", "reason": "INACTIVE"}]}
    assert create(client, tokens, id="b", code="GONE").status_code == 409


def test_legacy_simple_code_stored_as_is_keeps_working(client):
    from chalicelib.adapters.dynamodb.models import CatalogItem

    CatalogItem("CATALOG", "PROMO#legacy-old10", kind="promo", doc={"code": "old10", "percentOff": 10}).save()
    body = quote(client, "Old10").json_body
    assert body["quote"]["discount"] == 890 and body["quote"]["total"] == 8010  # 10 % of 8900


# --- usage counters: the contract booking transactions rely on -----------------------------------------------
def _consume(updates) -> bool:
    tx = TransactWrite(connection=Connection(region="us-east-1"))
    for update in updates:
        model, actions, condition = update.pynamodb_update()
        tx.update(model, actions=actions, condition=condition)
    try:
        with tx:
            pass
        return True
    except TransactWriteError:
        return False


def _consume_in_a_shard(repo, rule_id: str, limit: int, user: str, choose=random.choice):
    """What a booking does: a shard with room (read), consumed conditionally; when another writer took its last
    use, the next shard with room. The claim it consumed, or None when every shard is full."""
    from chalicelib.adapters.dynamodb.promo_repository import usage_updates
    from chalicelib.domain.promotions import UsageClaim

    tried: set[int] = set()
    while True:
        rooms = [k for k in repo.shards_with_room({rule_id: limit})[rule_id] if k not in tried]
        if not rooms:
            return None
        claim = UsageClaim(rule_id, global_limit=limit, per_customer_limit=None, shard=choose(rooms))
        if _consume(usage_updates([claim], user)):
            return claim
        tried.add(claim.shard)


@pytest.mark.parametrize("limit,writers", [(3, 20), (25, 40)])
def test_a_sharded_usage_limit_holds_under_concurrency_and_release_gives_the_use_back(client, app_container, limit,
                                                                                   writers):
    from chalicelib.adapters.dynamodb.promo_repository import usage_updates

    repo = app_container.promotions
    claims = []

    def attempt(i):
        claims.append(_consume_in_a_shard(repo, "limited", limit, f"user-{i}"))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [c for c in claims if c is not None]
    assert len(taken) == limit and repo.usage("limited") == limit  # exactly the limit, never more
    assert repo.shards_with_room({"limited": limit}) == {"limited": []}
    assert _consume(usage_updates([taken[0]], "user-x", consume=False))  # back to the shard it was taken from
    assert repo.usage("limited") == limit - 1
    assert repo.shards_with_room({"limited": limit}) == {"limited": [taken[0].shard]}
    assert _consume_in_a_shard(repo, "limited", limit, "user-y") is not None
    assert _consume_in_a_shard(repo, "limited", limit, "user-z") is None


def test_per_customer_limit_and_release_never_goes_negative(client):
    from chalicelib.adapters.dynamodb.promo_repository import usage_updates
    from chalicelib.domain.promotions import UsageClaim

    claim = UsageClaim("once", global_limit=None, per_customer_limit=1)
    assert _consume(usage_updates([claim], "user-a"))
    assert not _consume(usage_updates([claim], "user-a"))
    assert _consume(usage_updates([claim], "user-b"))
    assert _consume(usage_updates([claim], "user-a", consume=False))
    assert not _consume(usage_updates([claim], "user-a", consume=False))  # already back at zero
    assert _consume(usage_updates([claim], "user-a"))


def test_labelled_transaction_and_exhausted_details(client):
    """The labelled form (tx.update(label, model, ...)) used by booking transactions; failed labels map to
    PROMO_EXHAUSTED details."""
    from chalicelib.adapters.dynamodb.errors import cancellation_codes
    from chalicelib.adapters.dynamodb.promo_repository import exhausted_details, usage_updates
    from chalicelib.domain.promotions import UsageClaim

    class LabelledTx:
        def __init__(self):
            self.tx, self.labels = TransactWrite(connection=Connection(region="us-east-1")), []

        def update(self, label, model, **kw):
            self.labels.append(label)
            self.tx.update(model, **kw)

    claims = [UsageClaim("g", global_limit=1, per_customer_limit=None),
              UsageClaim("c", global_limit=None, per_customer_limit=5)]
    first = LabelledTx()
    for update in usage_updates(claims, "user-a"):
        update.add_to(first)
    with first.tx:
        pass
    second = LabelledTx()
    for update in usage_updates(claims, "user-b"):
        update.add_to(second)
    with pytest.raises(TransactWriteError) as info:
        with second.tx:
            pass
    failed = [label for label, code in zip(second.labels, cancellation_codes(info.value))
              if code == "ConditionalCheckFailed"]
    assert failed == ["promo-usage:g"]
    assert exhausted_details(failed) == {"rules": [{"ruleId": "g", "scope": "global"}]}


def test_quote_reports_a_used_up_code_as_exhausted(client, tokens, app_container):
    from chalicelib.adapters.dynamodb.promo_repository import usage_updates
    from chalicelib.domain.promotions import UsageClaim

    create(client, tokens, id="two", code="TWO", globalLimit=2)
    create(client, tokens, id="auto", kind="fixed", value=100, globalLimit=1)
    assert quote(client, "two").json_body["quote"]["appliedRules"] == ["auto", "two"]
    for shard, user in enumerate(("u1", "u2")):
        assert _consume(usage_updates([UsageClaim("two", 2, None, shard)], user))
    assert _consume(usage_updates([UsageClaim("auto", 1, None)], "u1"))
    spent = quote(client, "two")
    assert spent.status_code == 409 and spent.json_body["error"]["code"] == "PROMO_EXHAUSTED"
    without = quote(client).json_body["quote"]
    assert without["appliedRules"] == [] and without["notApplied"] == [
        {"ruleId": "auto", "code": None, "reason": "EXHAUSTED"}]
