"""Websocket handlers invoked with API Gateway-shaped events, the DynamoDB realtime store (moto), pushes
through a fake management API, and the polling change feed."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.adapters import dev_tokens
from chalicelib.adapters.dynamodb.models import RealtimeItem
from chalicelib.adapters.dynamodb.tables import create_tables
from chalicelib.bootstrap import Container, use_container
from chalicelib.clock import FixedClock, system_clock
from chalicelib.domain.catalog import Catalog, Money, Service
from chalicelib.services import realtime as rt
from chalicelib.settings import settings_from_env
from devtools.processes import PROJECT_DIR
from tests.realtime_fakes import RecordingPusher

SERVICE_ID = "deep-clean"
DAY = (date.today() + timedelta(days=3)).isoformat()


class StaticCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def get(self) -> Catalog:
        return self.catalog


def service(service_id: str = SERVICE_ID) -> Service:
    return Service(id=service_id, name="Deep clean", category="cleaning", description="", duration_minutes=120,
                   buffer_minutes=30, slot_step_minutes=60, lead_time_minutes=60, base_price=Money(15000),
                   team_ids=("t1",))


@pytest.fixture
def stack():
    with mock_aws():  # tests/conftest.py has set dummy credentials and the region
        settings = settings_from_env({"STAGE": "test", "AUTH_MODE": "dev", "TABLE_PREFIX": "rt-test-",
                                      "AWS_REGION": "us-east-1"})
        create_tables(settings)
        api = RecordingPusher()
        slots = {"remaining": 3}

        def day_slots(service_id, local_date, team_id):
            return [{"start": f"{local_date}T09:00:00Z", "remaining": slots["remaining"]}]

        # Starts at the machine's now and ticks a millisecond per read (change cursors are ordered by time).
        clock = FixedClock(system_clock(), tick=timedelta(milliseconds=1))
        deps = Container(settings).override(
            clock=clock, catalog=StaticCatalog(Catalog(services={SERVICE_ID: service()})), realtime_pusher=api)
        deps.override(publisher=rt.WebsocketPublisher(deps.realtime_store, api, day_slots, budget_seconds=5,
                                                      clock=clock))
        use_container(deps)
        from app import app

        yield {"settings": settings, "api": api, "deps": deps, "slots": slots, "clock": clock,
               "client": Client(app, stage_name="test", project_dir=str(PROJECT_DIR))}
        use_container(None)


def ws_event(route_key: str, connection_id: str, body: str | None = None, token: str | None = None) -> dict:
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    event = {"requestContext": {"routeKey": route_key, "eventType": event_type, "connectionId": connection_id,
                                "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "stage": "api",
                                "apiId": "abc123", "requestId": "req-1", "messageDirection": "IN",
                                "connectedAt": 1700000000000, "identity": {"sourceIp": "127.0.0.1"}},
             "isBase64Encoded": False}
    if route_key == "$connect":
        event["headers"] = {"Host": "abc123.execute-api.us-east-1.amazonaws.com"}
        event["queryStringParameters"] = {"token": token} if token else None
    if body is not None:
        event["body"] = body
    return event


def connect(stack, connection_id: str, user: str = "user-a", groups=None, token: str | None = None) -> dict:
    token = token or dev_tokens.issue(stack["settings"].dev_token_secret, user, groups=groups or [])
    return stack["client"].lambda_.invoke("ws_connect", ws_event("$connect", connection_id, token=token)).payload


def message(stack, connection_id: str, frame) -> None:
    body = frame if isinstance(frame, str) else json.dumps(frame)
    stack["client"].lambda_.invoke("ws_message", ws_event("$default", connection_id, body=body))


def subscribe(stack, connection_id: str, first: str = DAY, last: str = DAY) -> None:
    message(stack, connection_id, {"action": "subscribe", "serviceId": SERVICE_ID, "from": first, "to": last})


def channel_members(day: str = DAY) -> set[str]:
    return {item.sk for item in RealtimeItem.query(f"CHAN#{SERVICE_ID}#{day}")}


def items_of(connection_id: str) -> list[RealtimeItem]:
    return [i for i in RealtimeItem.scan() if i.connectionId == connection_id]


# --- $connect ---------------------------------------------------------------------------------------------
def test_connect_with_valid_token_is_accepted_and_stored_with_ttl(stack):
    response = connect(stack, "conn-1")
    assert response["statusCode"] == 200
    item = RealtimeItem.get("CONN#conn-1", "CONN")
    assert item.doc["userId"] == "user-a"
    lifetime = item.expiresAt - stack["clock"]()
    assert timedelta(hours=2) < lifetime <= rt.CONNECTION_LIFETIME


@pytest.mark.parametrize("token", ["not-a-jwt", None, "wrong-secret"])
def test_connect_with_bad_or_missing_token_is_refused(stack, token):
    if token == "wrong-secret":
        token = dev_tokens.issue("another-secret-that-is-long-enough-0123456789", "user-a")
    event = ws_event("$connect", "conn-bad", token=token)
    response = stack["client"].lambda_.invoke("ws_connect", event).payload
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "UNAUTHENTICATED"
    assert items_of("conn-bad") == []


def test_expired_token_is_refused(stack):
    token = dev_tokens.issue(stack["settings"].dev_token_secret, "user-a", ttl_seconds=60,
                             now=system_clock().timestamp() - 3600)
    assert connect(stack, "conn-old", token=token)["statusCode"] == 401


# --- subscribe / unsubscribe / errors -------------------------------------------------------------------------
def test_subscribe_indexes_the_connection_under_each_day_channel(stack):
    connect(stack, "conn-1")
    last = (date.fromisoformat(DAY) + timedelta(days=2)).isoformat()
    subscribe(stack, "conn-1", DAY, last)
    ack = stack["api"].of_type("conn-1", "subscribed")
    assert ack == [{"type": "subscribed", "serviceId": SERVICE_ID, "from": DAY, "to": last}]
    for offset in range(3):
        day = (date.fromisoformat(DAY) + timedelta(days=offset)).isoformat()
        assert channel_members(day) == {"conn-1"}
    assert channel_members((date.fromisoformat(last) + timedelta(days=1)).isoformat()) == set()


def test_unsubscribe_removes_only_that_service(stack):
    connect(stack, "conn-1")
    subscribe(stack, "conn-1")
    message(stack, "conn-1", {"action": "unsubscribe", "serviceId": SERVICE_ID})
    assert channel_members() == set()
    assert stack["api"].of_type("conn-1", "unsubscribed")[0]["channels"] == 1
    assert RealtimeItem.get("CONN#conn-1", "CONN").doc["userId"] == "user-a"  # still connected


@pytest.mark.parametrize("frame, code", [
    ("{not json", "VALIDATION_ERROR"),
    ("[1, 2]", "VALIDATION_ERROR"),
    ({"action": "dance"}, "VALIDATION_ERROR"),
    ({"action": "subscribe", "serviceId": SERVICE_ID, "from": "tomorrow", "to": DAY}, "VALIDATION_ERROR"),
    ({"action": "subscribe", "serviceId": SERVICE_ID, "from": DAY, "to": DAY, "extra": 1}, "VALIDATION_ERROR"),
    ({"action": "subscribe", "serviceId": "no-such-service", "from": DAY, "to": DAY}, "NOT_FOUND"),
    ({"action": "subscribe", "serviceId": SERVICE_ID, "from": "2030-01-01", "to": "2030-03-01"},
     "RANGE_TOO_LARGE"),
    ({"action": "subscribe", "serviceId": SERVICE_ID, "from": "2030-01-05", "to": "2030-01-01"},
     "VALIDATION_ERROR"),
    ("x" * 10_000, "VALIDATION_ERROR"),
])
def test_invalid_frames_get_an_error_frame_in_the_contract_format(stack, frame, code):
    connect(stack, "conn-1")
    message(stack, "conn-1", frame)  # must not raise
    errors = stack["api"].of_type("conn-1", "error")
    assert len(errors) == 1
    assert errors[0]["error"]["code"] == code
    assert set(errors[0]["error"]) == {"code", "message", "details"}
    assert channel_members() == set()


def test_subscribe_from_an_unregistered_connection_is_refused(stack):
    subscribe(stack, "never-connected")
    assert stack["api"].of_type("never-connected", "error")[0]["error"]["code"] == "UNAUTHENTICATED"
    assert channel_members() == set()


# --- $disconnect ----------------------------------------------------------------------------------------------
def test_disconnect_removes_the_connection_and_all_its_subscriptions(stack):
    connect(stack, "conn-1")
    connect(stack, "conn-2", user="user-b")
    subscribe(stack, "conn-1", DAY, (date.fromisoformat(DAY) + timedelta(days=1)).isoformat())
    subscribe(stack, "conn-2")
    stack["client"].lambda_.invoke("ws_disconnect", ws_event("$disconnect", "conn-1"))
    assert items_of("conn-1") == []
    assert channel_members() == {"conn-2"}


# --- pushes -------------------------------------------------------------------------------------------------------
def test_push_reaches_only_the_subscribers_of_the_changed_day(stack):
    connect(stack, "conn-1")
    connect(stack, "conn-2", user="user-b")
    subscribe(stack, "conn-1")
    subscribe(stack, "conn-2", (date.fromisoformat(DAY) + timedelta(days=1)).isoformat(),
              (date.fromisoformat(DAY) + timedelta(days=1)).isoformat())
    stack["slots"]["remaining"] = 2
    stack["deps"].publisher.availability_changed([SERVICE_ID], "t1", [DAY])
    pushed = stack["api"].of_type("conn-1", "availability.changed")
    assert [(p["serviceId"], p["date"], p["slots"]) for p in pushed] == [
        (SERVICE_ID, DAY, [{"start": f"{DAY}T09:00:00Z", "remaining": 2}])]
    assert stack["api"].of_type("conn-2", "availability.changed") == []


def test_a_gone_connection_is_removed_on_the_next_push(stack):
    connect(stack, "conn-live")
    connect(stack, "conn-dead", user="user-b")
    subscribe(stack, "conn-live")
    subscribe(stack, "conn-dead")
    stack["api"].gone.add("conn-dead")  # the client vanished without a $disconnect
    report = stack["deps"].publisher.publish_availability([SERVICE_ID], "t1", [DAY])
    assert (report.delivered, report.gone) == (1, 1)
    assert items_of("conn-dead") == []
    assert channel_members() == {"conn-live"}


def test_emergencies_go_to_admin_connections_only(stack):
    connect(stack, "conn-admin", user="boss", groups=["admin"])
    connect(stack, "conn-user")
    stack["deps"].publisher.emergency_created({"id": "sr-1", "emergency": True})
    assert stack["api"].of_type("conn-admin", "emergency.created")[0]["serviceRequest"]["id"] == "sr-1"
    assert stack["api"].of_type("conn-user", "emergency.created") == []


def test_a_failing_push_never_raises_into_the_booking(stack):
    def broken_slots(*args):
        raise RuntimeError("availability exploded")

    publisher = rt.WebsocketPublisher(stack["deps"].realtime_store, stack["api"], broken_slots)
    assert publisher.availability_changed([SERVICE_ID], "t1", [DAY]) is None


# --- change feed ------------------------------------------------------------------------------------------------
def feed(stack, since: str | None = None, headers: dict | None = None):
    path = f"/services/{SERVICE_ID}/availability/changes" + (f"?since={since}" if since else "")
    return stack["client"].http.get(path, headers=headers or {})


def settle(stack, seconds: float) -> None:
    """Moves the app's clock forward so changes written now are past the feed's settle window."""
    stack["clock"].advance(seconds=seconds)


def test_changes_feed_returns_changes_after_the_cursor_then_304(stack):
    start = json.loads(feed(stack).body)
    assert start["changes"] == [] and start["reset"] is False
    cursor = start["cursor"]
    assert feed(stack, cursor).status_code == 304  # nothing changed yet

    stack["slots"]["remaining"] = 1
    stack["deps"].publisher.publish_availability([SERVICE_ID], "t1", [DAY])
    settle(stack, rt.SETTLE.total_seconds() + 1)
    response = feed(stack, cursor)
    assert response.status_code == 200
    body = json.loads(response.body)
    assert [(c["date"], c["slots"][0]["remaining"]) for c in body["changes"]] == [(DAY, 1)]
    assert body["cursor"] == body["changes"][-1]["cursor"] != cursor

    again = feed(stack, body["cursor"])
    assert again.status_code == 304
    assert feed(stack, cursor, {"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_changes_feed_hides_changes_younger_than_the_settle_window(stack):
    cursor = json.loads(feed(stack).body)["cursor"]
    stack["deps"].publisher.publish_availability([SERVICE_ID], "t1", [DAY])
    assert feed(stack, cursor).status_code == 304


def test_changes_feed_pages_with_has_more(stack):
    cursor = json.loads(feed(stack).body)["cursor"]
    days = [(date.fromisoformat(DAY) + timedelta(days=i)).isoformat() for i in range(3)]
    stack["deps"].publisher.publish_availability([SERVICE_ID], "t1", days)
    settle(stack, rt.SETTLE.total_seconds() + 1)
    path = f"/services/{SERVICE_ID}/availability/changes?since={cursor}&limit=2"
    first = json.loads(stack["client"].http.get(path).body)
    assert [c["date"] for c in first["changes"]] == days[:2] and first["hasMore"] is True
    rest = json.loads(feed(stack, first["cursor"]).body)
    assert [c["date"] for c in rest["changes"]] == days[2:] and rest["hasMore"] is False


@pytest.mark.parametrize("query, status, code", [
    ("since=garbage", 400, "VALIDATION_ERROR"),
    ("since=20250101T000000.000000Z-zz", 400, "VALIDATION_ERROR"),
    ("since=20251301T000000.000000Z-abcdef12", 400, "VALIDATION_ERROR"),
    ("limit=0", 400, "VALIDATION_ERROR"),
    ("bogus=1", 400, "VALIDATION_ERROR"),
])
def test_changes_feed_rejects_bad_input_with_400(stack, query, status, code):
    response = stack["client"].http.get(f"/services/{SERVICE_ID}/availability/changes?{query}")
    assert response.status_code == status
    assert json.loads(response.body)["error"]["code"] == code


def test_changes_feed_unknown_service_is_404(stack):
    response = stack["client"].http.get("/services/nope/availability/changes")
    assert response.status_code == 404


def test_a_cursor_older_than_retention_asks_for_a_reload(stack):
    old = rt.position(stack["clock"]() - rt.CHANGE_RETENTION - timedelta(minutes=1))
    body = json.loads(feed(stack, old).body)
    assert body["reset"] is True and body["changes"] == []
