"""One contract for the realtime store, run against the in-memory fake and the DynamoDB store (moto)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb.realtime_repository import DynamoRealtimeStore
from chalicelib.adapters.dynamodb.tables import create_tables
from chalicelib.services import realtime as rt
from chalicelib.settings import settings_from_env
from tests.realtime_fakes import FakeRealtimeStore

LATER = datetime.now(timezone.utc) + timedelta(hours=2)


@pytest.fixture(params=["fake", "dynamodb"])
def store(request):
    if request.param == "fake":
        yield FakeRealtimeStore()
        return
    with mock_aws():
        create_tables(settings_from_env({"STAGE": "test", "TABLE_PREFIX": "rt-contract-",
                                         "AWS_REGION": "us-east-1"}))
        yield DynamoRealtimeStore()


def test_connection_round_trip_keeps_identity_and_expiry(store):
    store.add_connection("c1", {"userId": "u1", "groups": ["admin"], "endpoint": "https://x/api"}, ["ADMINS"],
                         LATER)
    conn = store.connection("c1")
    assert (conn["userId"], conn["groups"], conn["endpoint"]) == ("u1", ["admin"], "https://x/api")
    assert abs((conn["expiresAt"] - LATER).total_seconds()) < 1
    assert store.subscribers("ADMINS") == [("c1", "https://x/api")]
    assert store.connection("nobody") is None


def test_subscribers_are_per_channel(store):
    store.add_connection("c1", {"userId": "u1", "endpoint": "e1"}, [], LATER)
    store.add_connection("c2", {"userId": "u2", "endpoint": "e2"}, [], LATER)
    store.subscribe("c1", ["s#2030-01-01", "s#2030-01-02"], "e1", LATER)
    store.subscribe("c2", ["s#2030-01-02"], "e2", LATER)
    assert store.subscribers("s#2030-01-01") == [("c1", "e1")]
    assert sorted(store.subscribers("s#2030-01-02")) == [("c1", "e1"), ("c2", "e2")]
    assert sorted(store.channels_of("c1")) == ["s#2030-01-01", "s#2030-01-02"]
    store.unsubscribe("c1", ["s#2030-01-02"])
    assert store.subscribers("s#2030-01-02") == [("c2", "e2")]


def test_remove_connection_deletes_it_and_every_subscription_but_nobody_else(store):
    store.add_connection("c1", {"userId": "u1"}, ["ADMINS"], LATER)
    store.add_connection("c2", {"userId": "u2"}, [], LATER)
    store.subscribe("c1", ["s#2030-01-01", "t#2030-01-01"], None, LATER)
    store.subscribe("c2", ["s#2030-01-01"], None, LATER)
    store.remove_connection("c1")
    assert store.connection("c1") is None
    assert store.channels_of("c1") == []
    assert store.subscribers("ADMINS") == []
    assert store.subscribers("s#2030-01-01") == [("c2", None)]
    store.remove_connection("c1")  # twice (disconnect after a 410 cleanup) is harmless


def test_change_log_returns_the_open_closed_cursor_interval_in_order(store):
    base = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)
    cursors = [rt.new_cursor(base + timedelta(milliseconds=i)) for i in range(5)]
    for i, cursor in enumerate(cursors):
        store.append_change("svc", cursor, {"n": i}, LATER)
    store.append_change("other", rt.new_cursor(base), {"n": 99}, LATER)
    got = store.changes_between("svc", cursors[0], cursors[3], 10)
    assert [c["n"] for c in got] == [1, 2, 3]
    assert [c["cursor"] for c in got] == cursors[1:4]
    assert [c["n"] for c in store.changes_between("svc", cursors[0], rt.position(base + timedelta(1)), 2)] == [1, 2]
    assert store.changes_between("svc", cursors[4], cursors[4], 10) == []
    assert store.changes_between("svc", rt.position(base + timedelta(days=1)), cursors[0], 10) == []
