"""Admin lists read what they return: every filter combination of GET /admin/service-requests is one key
condition on one index, so a page reads at most `limit` items however many requests the filters exclude; the
request audit history and the promo-rule list are paginated. Items read are counted with botocore hooks
(bench/ddb_counter.py) against moto; paging through a list yields every match exactly once, in order."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from bench import ddb_counter
from tests.integration.conftest import auth

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
BIG, SMALL, EMPTY = "team-big", "team-small", "team-empty"
# (status, payment status) pairs a request can be in
STATES = [("CONFIRMED", "COD_DUE"), ("PENDING_PAYMENT", "UNPAID"), ("CANCELLED", "REFUNDED"),
          ("COMPLETED", "PAID"), ("CONFIRMED", "PAID"), ("EXPIRED", "EXPIRED")]
FILTERS = ("teamId", "status", "paymentStatus")
LIMIT = 12


def make_request(number: int, team: str, status: str, payment: str, start: datetime):
    from chalicelib.domain.booking import PaymentMethod, PaymentStatus, Placement, ServiceRequest, Status

    return ServiceRequest(
        id=f"sr_{number:05d}", user_id="user-a", service_id="cleaning",
        placement=Placement(team_id=team, member_id="m1", start=start, end=start + timedelta(hours=1),
                            local_date=start.date().isoformat(), timezone="UTC"),
        status=Status(status), payment_status=PaymentStatus(payment), payment_method=PaymentMethod.COD,
        price={"currency": "USD", "lines": [], "subtotal": 100, "discount": 0, "total": 100},
        created_at=T0 - timedelta(days=1), updated_at=T0 - timedelta(days=1))


def write_requests(requests, old_layout: bool = False) -> None:
    """Straight to the table, as `to_item` writes them (or as items written before the admin-list keys)."""
    from chalicelib.adapters.dynamodb.booking_repository import to_item
    from chalicelib.adapters.dynamodb.models import ServiceRequestItem

    with ServiceRequestItem.batch_write() as batch:
        for request in requests:
            item = to_item(request, 1)
            if old_layout:
                item.teamStatus = item.teamPayment = item.statusPayment = item.teamStatusPayment = None
            batch.save(item)


def company():
    """team-big: 120 requests all CONFIRMED/COD_DUE (what most filters must not read; 10 pages of LIMIT);
    team-small: every state, several times, spread over days."""
    requests = [make_request(i, BIG, "CONFIRMED", "COD_DUE", T0 + timedelta(minutes=45 * i)) for i in range(120)]
    for i, (status, payment) in enumerate(STATES * 4):
        requests.append(make_request(1000 + i, SMALL, status, payment, T0 + timedelta(hours=7 * i)))
    return requests


@pytest.fixture
def counted(client):
    """The counter hooks clients created from now on: rebind the models so they get new ones."""
    from chalicelib.adapters.dynamodb.models import MODELS_BY_SETTING

    ddb_counter.install()
    for model in MODELS_BY_SETTING.values():
        model._connection = None
    ddb_counter.reset()
    return client


def matches(requests, query: dict) -> list:
    low, high = query.get("from"), query.get("to")
    return [r for r in requests
            if query.get("teamId") in (None, r.placement.team_id) and query.get("status") in (None, r.status.value)
            and query.get("paymentStatus") in (None, r.payment_status.value)
            and (low is None or r.placement.start >= datetime.fromisoformat(low))
            and (high is None or r.placement.start <= datetime.fromisoformat(high))]


def page_through(client, token, path: str, query: dict, limit: int):
    """(ids in the order served, [(items on the page, items read, requests) per page])."""
    ids, pages, cursor = [], [], None
    while True:
        ddb_counter.reset()
        params = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.http.get(f"{path}?{urlencode(params)}", headers=auth(token))
        assert response.status_code == 200, response.json_body
        body = response.json_body
        reads = sum(n for op, n in ddb_counter.snapshot().items() if op in ("Query", "Scan", "BatchGetItem"))
        pages.append((len(body["items"]), ddb_counter.items_read(), reads))
        ids.extend(item["id"] for item in body["items"])
        cursor = body["nextCursor"]
        if not cursor:
            return ids, pages
        assert len(pages) < 200, "the cursor does not advance"


def combinations():
    for size in range(len(FILTERS) + 1):
        yield from itertools.combinations(FILTERS, size)


def queries_for(names):
    """Filter values with matches and without (the big team's requests are all CONFIRMED/COD_DUE), alternately
    with and without a start range."""
    values = {"teamId": [BIG, SMALL, EMPTY], "status": ["PENDING_PAYMENT", "CONFIRMED"],
              "paymentStatus": ["UNPAID", "COD_DUE"]}
    ranges = [{}, {"from": (T0 + timedelta(days=1)).isoformat(), "to": (T0 + timedelta(days=5)).isoformat()}]
    if not names:
        yield from ranges
    for number, chosen in enumerate(itertools.product(*(values[name] for name in names))):
        yield {**dict(zip(names, chosen)), **ranges[number % 2]}


@pytest.mark.parametrize("names", list(combinations()), ids=lambda names: "+".join(names) or "none")
def test_every_filter_combination_reads_at_most_a_page_and_serves_each_match_once(counted, tokens, names):
    requests = company()
    write_requests(requests)
    for query in queries_for(names):
        expected = matches(requests, query)
        limit = LIMIT
        ids, pages = page_through(counted, tokens["admin"], "/admin/service-requests", query, limit)
        assert sorted(ids) == sorted(r.id for r in expected) and len(set(ids)) == len(ids), query
        walk = not names  # no equality filter: the status index walked status by status
        assert len(pages) <= len(expected) // limit + 1, (query, pages)  # no page of nothing but misses
        for served, read, requests_made in pages:
            assert read == served <= limit, (query, pages)  # never a row read and not returned
            assert requests_made <= (5 if walk else 1), (query, pages)
        if not walk:  # one index: start order
            by_id = {r.id: r for r in expected}
            assert ids == sorted(ids, key=lambda i: (by_id[i].placement.start, i))


def test_team_and_status_without_matches_reads_nothing_beside_a_big_team(counted, tokens):
    write_requests(company())
    ddb_counter.reset()
    response = counted.http.get("/admin/service-requests?teamId=team-big&status=PENDING_PAYMENT&limit=50",
                                headers=auth(tokens["admin"]))
    assert response.json_body == {"items": [], "nextCursor": None}
    assert ddb_counter.items_read() == 0 and ddb_counter.snapshot() == {"Query": 1}


def test_a_cursor_is_accepted_only_by_the_query_it_was_issued_for(counted, tokens):
    write_requests(company())
    admin = auth(tokens["admin"])

    def first_page(query: str) -> str:
        body = counted.http.get(f"/admin/service-requests?{query}&limit=2", headers=admin).json_body
        assert body["nextCursor"], body
        return body["nextCursor"]

    team_status = first_page("teamId=team-small&status=CONFIRMED")
    walk = first_page("from=2026-12-01T00:00:00Z")
    refused = {
        "another partition": f"teamId=team-big&status=CONFIRMED&cursor={team_status}",
        "another index": f"teamId=team-small&paymentStatus=COD_DUE&cursor={team_status}",
        "no filter": f"cursor={team_status}",
        "outside the range": f"teamId=team-small&status=CONFIRMED&from=2027-06-01T00:00:00Z&cursor={team_status}",
        "walk with another range": f"from=2027-06-01T00:00:00Z&cursor={walk}",
        "walk cursor on an index": f"status=CONFIRMED&cursor={walk}",
        "altered": f"teamId=team-small&status=CONFIRMED&cursor={team_status[:-1]}0",
    }
    for why, query in refused.items():
        response = counted.http.get(f"/admin/service-requests?{query}", headers=admin)
        assert response.status_code == 400 and response.json_body["error"]["code"] == "VALIDATION_ERROR", why
    assert counted.http.get(f"/admin/service-requests?teamId=team-small&status=CONFIRMED&cursor={team_status}",
                            headers=admin).status_code == 200
    reversed_range = counted.http.get("/admin/service-requests?status=CONFIRMED&from=2026-12-05T00:00:00Z"
                                      "&to=2026-12-01T00:00:00Z", headers=admin)
    assert reversed_range.status_code == 400


def test_the_audit_history_of_a_request_is_served_a_page_at_a_time(counted, tokens, app_container):
    from chalicelib.clock import FixedClock

    (request,) = [make_request(1, SMALL, "CONFIRMED", "COD_DUE", T0)]
    write_requests([request])
    clock = FixedClock(T0, tick=timedelta(seconds=1))
    app_container.override(clock=clock)
    for i in range(130):
        app_container.audit.record(f"SR#{request.id}", "admin:admin-1", f"step.{i}", None, {"i": i})
    app_container.audit.record("SR#sr_other", "admin:admin-1", "elsewhere", None, None)
    admin = auth(tokens["admin"])

    ddb_counter.reset()
    detail = counted.http.get(f"/admin/service-requests/{request.id}?auditLimit=40", headers=admin).json_body
    assert [e["action"] for e in detail["audit"]] == [f"step.{i}" for i in range(40)] and detail["auditCursor"]
    assert ddb_counter.items_read() == 1 + 40  # the request and one page of its history

    path = f"/admin/service-requests/{request.id}/audit"
    rest, pages = page_through(counted, tokens["admin"], path, {}, 50)
    assert rest == [e["id"] for e in app_container.audit.for_entity(f"SR#{request.id}")]  # all 130, once, in order
    assert all(read == served + 1 <= 51 for served, read, _ in pages)  # + the request's GetItem
    continued = counted.http.get(f"{path}?cursor={detail['auditCursor']}&limit=200", headers=admin).json_body
    assert [e["action"] for e in continued["items"]] == [f"step.{i}" for i in range(40, 130)]
    assert continued["nextCursor"] is None

    other = counted.http.get("/admin/service-requests/sr_other/audit", headers=admin)
    assert other.status_code == 404  # no request of that id (its entries are not listed through it)
    write_requests([make_request(2, SMALL, "CONFIRMED", "COD_DUE", T0)])
    foreign = counted.http.get(f"/admin/service-requests/sr_00002/audit?cursor={detail['auditCursor']}",
                               headers=admin)
    assert foreign.status_code == 400  # another request's cursor
    assert counted.http.get(f"{path}?limit=201", headers=admin).status_code == 400
    assert counted.http.get(f"{path}", headers=auth(tokens["userA"])).status_code == 403


def test_promo_rules_are_listed_in_priority_order_a_page_at_a_time(counted, tokens):
    import json

    admin = {**auth(tokens["admin"]), "Content-Type": "application/json"}
    rules = [(f"r{i:02d}", (i * 37) % 11 * 10) for i in range(23)]  # repeated priorities: ties by id
    for number, (rule_id, priority) in enumerate(rules):
        body = {"id": rule_id, "kind": "percent", "value": 500, "priority": priority, "active": number % 3 != 0}
        assert counted.http.post("/admin/promo-rules", headers=admin, body=json.dumps(body)).status_code == 201
    ids, pages = page_through(counted, tokens["admin"], "/admin/promo-rules", {}, 5)
    assert ids == [rule_id for rule_id, priority in sorted(rules, key=lambda r: (r[1], r[0]))]
    assert all(read == served <= 5 for served, read, _ in pages) and len(pages) == 5
    first = counted.http.get("/admin/promo-rules?limit=5", headers=admin).json_body["nextCursor"]
    assert counted.http.get(f"/admin/promo-rules?cursor={first[:-2]}00", headers=admin).status_code == 400
    # the request list's cursor is refused by the rule list, and the other way round
    request_cursor = _a_request_list_cursor(counted, admin)
    assert counted.http.get(f"/admin/promo-rules?cursor={request_cursor}", headers=admin).status_code == 400
    assert counted.http.get(f"/admin/service-requests?status=CONFIRMED&cursor={first}",
                            headers=admin).status_code == 400


def _a_request_list_cursor(client, headers) -> str:
    write_requests([make_request(i, SMALL, "CONFIRMED", "COD_DUE", T0 + timedelta(hours=i)) for i in range(3)])
    body = client.http.get("/admin/service-requests?status=CONFIRMED&limit=1", headers=headers).json_body
    return body["nextCursor"]


def test_openapi_documents_the_pagination_of_the_admin_lists(client):
    document = client.http.get("/openapi.json").json_body
    paths = document["paths"]

    def query_names(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"] if p["in"] == "query"}

    assert query_names("/admin/service-requests") == {"status", "paymentStatus", "teamId", "from", "to", "cursor",
                                                      "limit"}
    assert query_names("/admin/service-requests/{request_id}") == {"auditLimit"}
    assert query_names("/admin/service-requests/{request_id}/audit") == {"cursor", "limit"}
    assert query_names("/admin/promo-rules") == {"cursor", "limit"}
    schemas = document["components"]["schemas"]
    assert "auditCursor" in schemas["AdminServiceRequestOut"]["properties"]
    assert "nextCursor" in schemas["PromoRuleListOut"]["properties"]


def test_a_blackout_over_booked_work_reads_only_the_teams_active_bookings(counted, tokens):
    import json

    start = datetime(2026, 12, 9, 15, 0, tzinfo=timezone.utc)
    active = [make_request(1, "team-nyc", "CONFIRMED", "COD_DUE", start),
              make_request(2, "team-nyc", "PENDING_PAYMENT", "UNPAID", start + timedelta(hours=1))]
    gone = [make_request(10 + i, "team-nyc", status, payment, start + timedelta(minutes=i))
            for i, (status, payment) in enumerate([("CANCELLED", "REFUNDED"), ("EXPIRED", "EXPIRED")] * 30)]
    write_requests(active + gone)
    admin = {**auth(tokens["admin"]), "Content-Type": "application/json"}
    current = counted.http.get("/admin/teams/team-nyc/availability", headers=admin).json_body
    blackout = {"start": "2026-12-09T14:00:00Z", "end": "2026-12-09T18:00:00Z", "reason": "floods"}
    change = {"weeklyHours": current["weeklyHours"],
              "blackouts": [{k: b[k] for k in ("id", "start", "end", "reason")} for b in current["blackouts"]]
              + [blackout]}
    ddb_counter.reset()
    refused = counted.http.put("/admin/teams/team-nyc/availability", headers=admin, body=json.dumps(change))
    assert refused.status_code == 409
    assert refused.json_body["error"]["details"]["serviceRequestIds"] == ["sr_00001", "sr_00002"]
    assert ddb_counter.items_read() == 2, ddb_counter.items  # the 60 cancelled and expired ones are not read
