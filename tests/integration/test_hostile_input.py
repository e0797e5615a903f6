"""Input a client can send that used to answer 5xx or was accepted leniently: every case answers 4xx in the
contract's format and changes nothing (chalice.test.Client on the real app, moto in-process, demo seed)."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.integration.conftest import auth

JSON = {"Content-Type": "application/json"}


def error_of(response) -> dict:
    body = json.loads(response.body)
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def post(client, path: str, body, token: str, extra: dict | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.http.post(path, headers={**JSON, **auth(token), **(extra or {})}, body=raw)


def deep(levels: int) -> bytes:
    return b'{"serviceId": "plumbing", "x": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize("method,path,role", [
    ("POST", "/portal/service-requests", "userA"), ("POST", "/pricing/quote", "userA"),
    ("POST", "/portal/recurring/preview", "userA"), ("POST", "/portal/emergency-requests", "userA"),
    ("PUT", "/admin/teams/team-nyc/availability", "admin"), ("POST", "/admin/promo-rules", "admin"),
])
def test_json_nested_ten_thousand_deep_is_400_on_every_json_route(client, tokens, method, path, role):
    headers = {**JSON, **auth(tokens[role]), "Idempotency-Key": "deep-1"}
    response = client.http.request(method, path, headers=headers, body=deep(10_000))
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


def test_an_oversized_option_list_is_413_not_a_retryable_503(client, tokens):
    body = {"serviceId": "plumbing", "start": "2030-03-05T15:00:00Z", "paymentMethod": "COD",
            "options": ["x" * 60] * 20_000}
    response = post(client, "/portal/service-requests", body, tokens["userA"], {"Idempotency-Key": "big-1"})
    assert response.status_code == 413 and "Retry-After" not in response.headers
    assert error_of(response)["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("query", [
    "from=0001-01-01&to=0001-01-01", "from=9999-12-31&to=9999-12-31",
    "from=0001-01-01&to=0001-01-01&teamMemberId=member-ava", "from=9999-12-30&to=9999-12-31&tz=Pacific/Kiritimati",
])
def test_availability_at_the_calendars_edges_is_400(client, query):
    response = client.http.get(f"/services/cleaning/availability?{query}")
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:00:00-05:00",
                                   "0001-01-01T01:00:00+14:00"])
@pytest.mark.parametrize("path", ["/pricing/quote", "/portal/recurring/preview"])
def test_quote_and_preview_at_the_calendars_edges_are_400(client, tokens, path, start):
    body = {"serviceId": "cleaning", "start": start, "tz": "UTC"}
    if path.endswith("preview"):
        body["rrule"] = "FREQ=WEEKLY;COUNT=4"
    response = post(client, path, body, tokens["userA"])
    assert response.status_code == 400, response.body
    assert error_of(response)["code"] == "VALIDATION_ERROR"


def _team_state(client, tokens) -> tuple[dict, list]:
    team = json.loads(client.http.get("/admin/teams/team-nyc/availability", headers=auth(tokens["admin"])).body)
    audit = json.loads(client.http.get("/admin/audit", headers=auth(tokens["admin"])).body)["items"]
    return team, audit


def test_a_blackout_ending_in_year_9999_is_refused_before_anything_is_saved(client, tokens):
    before, audit_before = _team_state(client, tokens)
    change = {"weeklyHours": before["weeklyHours"],
              "blackouts": [{"start": "2030-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z", "reason": "forever"}],
              "force": True, "reason": "test"}
    response = client.http.put("/admin/teams/team-nyc/availability", headers={**JSON, **auth(tokens["admin"])},
                               body=json.dumps(change))
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    after, audit_after = _team_state(client, tokens)
    assert after == before  # same version, same blackouts
    assert audit_after == audit_before


@pytest.mark.parametrize("raw", [
    b'\xef\xbb\xbf{"serviceId": "cleaning", "start": "2030-03-05T15:00:00Z", "tz": "UTC"}',  # UTF-8 BOM
    b'{"serviceId": "cleaning", "start": 1900000000, "tz": "UTC"}',  # an epoch, not a date-time
    b'{"serviceId": "cleaning", "start": true, "tz": "UTC"}',
])
def test_lenient_spellings_of_a_quote_are_refused(client, tokens, raw):
    response = post(client, "/pricing/quote", raw, tokens["userA"])
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("zone", ["localtime", "posix/America/New_York", "right/UTC", "Factory", " UTC",
                                  "America/New_York\n", "../../etc/passwd"])
def test_only_canonical_zone_names_are_accepted(client, tokens, zone):
    availability = client.http.get(f"/services/cleaning/availability?from=2030-03-04&to=2030-03-05&tz={quote(zone)}")
    assert availability.status_code == 400 and error_of(availability)["code"] == "VALIDATION_ERROR"
    priced = post(client, "/pricing/quote", {"serviceId": "cleaning", "start": "2030-03-05T15:00:00Z", "tz": zone},
                  tokens["userA"])
    assert priced.status_code == 400 and error_of(priced)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("limit", ["5", True, 5.5, None])
def test_a_daily_limit_must_be_a_json_integer(client, tokens, limit):
    response = client.http.put("/admin/teams/team-nyc/capacity", headers={**JSON, **auth(tokens["admin"])},
                               body=json.dumps({"dailyLimit": limit}))
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", 20300101])
def test_overrides_outside_the_calendar_are_not_stored(client, tokens, day):
    response = post(client, "/admin/capacity-overrides",
                    {"teamId": "team-nyc", "date": day, "limit": 4, "reason": "x"}, tokens["admin"])
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


def _cursor(value) -> str:
    import base64
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize("cursor", [
    "not-base64!", _cursor([1, 2]), _cursor({"a": 1}), _cursor({"pk": {"S": "x"}, "sk": {"N": "1"}}),
    _cursor({"userId": {"S": "user-a"}, "pk": {"S": "SR#nope"}, "startKey": {"S": "x"}}),
    _cursor({"s": "abc", "k": None}), _cursor({"s": 99, "k": None}), _cursor({"s": -1, "k": None}),
    _cursor({"s": 0, "k": {"pk": {"S": "x"}}}),
])
@pytest.mark.parametrize("path,role", [("/portal/service-requests", "userA"), ("/admin/service-requests", "admin"),
                                       ("/admin/service-requests?status=CONFIRMED", "admin"),
                                       ("/admin/audit", "admin")])
def test_a_cursor_this_api_did_not_issue_is_400_not_503(client, tokens, path, role, cursor):
    """Untagged, malformed or foreign: refused before DynamoDB sees it."""
    separator = "&" if "?" in path else "?"
    response = client.http.get(f"{path}{separator}cursor={quote(cursor)}", headers=auth(tokens[role]))
    assert response.status_code == 400, response.body
    assert error_of(response)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("state", [{"s": "abc", "k": None}, {"s": 99, "k": None}, {"s": -1, "k": None},
                                   {"s": True, "k": None}, {"s": 0, "k": {"pk": 1}}, {"s": 0}, {"offset": 3}])
def test_a_well_tagged_cursor_with_an_impossible_walk_state_is_400(client, tokens, state):
    """Tagged like the API's own (the tag is no secret): the walk's state is still checked before use."""
    from chalicelib.adapters.dynamodb.cursors import encode_cursor

    response = client.http.get(f"/admin/service-requests?cursor={quote(encode_cursor(state))}",
                               headers=auth(tokens["admin"]))
    assert response.status_code == 400, response.body
    assert error_of(response)["code"] == "VALIDATION_ERROR"


def test_the_cursors_the_api_issues_page_through_every_request(client, tokens):
    booked = set()
    for i in range(3):
        created = post(client, "/portal/service-requests", {"serviceId": "plumbing", "paymentMethod": "COD",
                                                            "start": f"2030-03-0{5 + i}T15:00:00Z",
                                                            "postalCode": "10001"},
                       tokens["userA"], {"Idempotency-Key": f"page-{i}"})
        assert created.status_code == 201, created.body
        booked.add(json.loads(created.body)["id"])
    seen, cursor = [], None
    for _ in range(10):
        query = f"?limit=1&cursor={quote(cursor)}" if cursor else "?limit=1"
        page = json.loads(client.http.get(f"/admin/service-requests{query}", headers=auth(tokens["admin"])).body)
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(seen) == booked  # every request once, across pages of one
